//! `copydesk dedup`: clean, cluster, write one line per document.

use super::common::{init_threads, AtomicOutput, FileCorpus, InputArgs, Progress};
use anyhow::Result;
use clap::Args;
use copydesk::cluster::Keep;
use copydesk::dedup::{self, DedupConfig, Method};
use copydesk::doc::Doc;
use copydesk::pipeline::{self, Corpus};
use copydesk::shingle::{ShingleConfig, Unit};
use copydesk::verify::Similarity;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  copydesk dedup samples/
  copydesk dedup corpus.jsonl.gz --output clusters.jsonl --write-deduped deduped.jsonl
  copydesk dedup corpus.jsonl --similarity jaccard --threshold 0.8 --unit word --ngram 5

Output: one JSON line per input document, in input order:
  {\"id\": ..., \"cluster\": N, \"duplicate_of\": ID or null, \"similarity\": S or null}
The kept document of a cluster has duplicate_of null; --keep chooses it.")]
pub struct DedupArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the clusters (JSONL); - for stdout.
    #[arg(short, long, default_value = "clusters.jsonl", value_name = "FILE")]
    pub output: PathBuf,
    /// Also write the corpus without duplicates ({"id", "text"} JSONL, original text).
    #[arg(long, value_name = "FILE")]
    pub write_deduped: Option<PathBuf>,
    #[command(flatten)]
    pub matching: MatchArgs,
    /// Do not strip boilerplate lines before matching.
    #[arg(long)]
    pub no_clean: bool,
    /// Worker threads (0: one per core). The output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Summary on stderr: a readable text, or one JSON object with counts and parameters.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub summary: SummaryFormat,
}

/// The matching flags: everything that goes into [`DedupConfig`]. Shared by `dedup`,
/// `index add` and `check`, so an index and its queries speak the same parameters.
#[derive(Args, Debug, Clone)]
pub struct MatchArgs {
    /// Minimum similarity for two documents to be the same story.
    #[arg(long, default_value_t = DedupConfig::default().threshold, help_heading = "Matching")]
    pub threshold: f64,
    /// Similarity that must reach the threshold. containment = |A∩B| / min(|A|,|B|), with the
    /// shared text at the start of both documents (truncated reprints join their story,
    /// articles that merely quote a passage do not).
    #[arg(long, value_enum, default_value_t = DedupConfig::default().similarity, help_heading = "Matching")]
    pub similarity: Similarity,
    /// Candidate search: MinHash LSH, or SimHash block tables.
    #[arg(long, value_enum, default_value_t = Method::Minhash, help_heading = "Matching")]
    pub method: Method,
    /// With --similarity containment: Jaccard at or above which a pair is the same story
    /// wherever the shared text sits; below it, the shared text must start both documents.
    #[arg(long, default_value_t = DedupConfig::default().jaccard_threshold, help_heading = "Matching")]
    pub jaccard_threshold: f64,
    /// Shingles in more than this share of the documents (and more than 50 documents) are stock
    /// phrases, not evidence.
    #[arg(long, default_value_t = DedupConfig::default().max_df_share, help_heading = "Matching")]
    pub max_df_share: f64,
    /// Short lines without digits found in at least this many documents are ignored for
    /// matching (site furniture whose site is unknown); 0 turns this off.
    #[arg(long, default_value_t = DedupConfig::default().repeat_min_docs, help_heading = "Matching")]
    pub repeat_min_docs: usize,
    /// Shingle unit.
    #[arg(long, value_enum, default_value_t = DedupConfig::default().shingle.unit, help_heading = "Matching")]
    pub unit: Unit,
    /// Shingle size (words or characters).
    #[arg(long, default_value_t = DedupConfig::default().shingle.ngram, help_heading = "Matching")]
    pub ngram: usize,
    /// Do not fold OCR look-alikes (rn/m, cl/d, 0/o, 1/l/i) before shingling.
    #[arg(long, help_heading = "Matching")]
    pub no_ocr_fold: bool,
    /// MinHash signature size.
    #[arg(long, default_value_t = DedupConfig::default().num_perm, help_heading = "Matching")]
    pub num_perm: usize,
    /// An edge needs at least this many shared shingles.
    #[arg(long, default_value_t = DedupConfig::default().min_shared, help_heading = "Matching")]
    pub min_shared: usize,
    /// Lede window (in shingles) indexed to find truncated copies; 0 turns it off.
    #[arg(long, default_value_t = DedupConfig::default().lede_shingles, help_heading = "Matching")]
    pub lede_shingles: usize,
    /// LSH threshold of the lede-window index [default: 0.3 with containment, half the
    /// threshold with jaccard].
    #[arg(long, help_heading = "Matching")]
    pub lede_threshold: Option<f64>,
    /// With --method simhash: the largest Hamming distance between candidates.
    #[arg(long, default_value_t = DedupConfig::default().simhash_distance, help_heading = "Matching")]
    pub simhash_distance: u32,
    /// Which document of a cluster is kept: the first in input order, or the longest.
    #[arg(long, value_enum, default_value_t = Keep::First)]
    pub keep: Keep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    Text,
    Json,
}

impl DedupArgs {
    pub fn config(&self) -> Result<DedupConfig> {
        self.matching.config()
    }
}

impl MatchArgs {
    /// The validated dedup configuration these flags describe.
    pub fn config(&self) -> Result<DedupConfig> {
        let config = DedupConfig {
            method: self.method,
            shingle: ShingleConfig {
                unit: self.unit,
                ngram: self.ngram,
                ocr_fold: !self.no_ocr_fold,
            },
            num_perm: self.num_perm,
            threshold: self.threshold,
            similarity: self.similarity,
            keep: self.keep,
            min_shared: self.min_shared,
            lede_shingles: self.lede_shingles,
            lede_threshold: self.lede_threshold.unwrap_or_else(|| {
                DedupConfig::lede_threshold_for(self.similarity, self.threshold)
            }),
            simhash_distance: self.simhash_distance,
            jaccard_threshold: self.jaccard_threshold,
            max_df_share: self.max_df_share,
            repeat_min_docs: self.repeat_min_docs,
            ..DedupConfig::default()
        };
        config.validate()?;
        Ok(config)
    }
}

/// Sketch every document as dedup matches it, with a progress bar on a terminal.
pub fn sketch_docs(docs: &[Doc], config: &DedupConfig, clean: bool) -> Vec<dedup::Sketch> {
    let progress = Progress::bar("sketching", docs.len());
    let sketches = dedup::sketch_docs(docs, config, clean, &|| progress.inc());
    progress.finish();
    sketches
}

/// Write one clusters line per document; `ids[i]` is document i's id, `kept_id` names the kept
/// document of an assignment's `duplicate_of` index.
pub fn write_clusters<'a>(
    path: &Path,
    ids: impl Iterator<Item = &'a str>,
    assignments: &[dedup::Assignment],
    kept_id: impl Fn(u32) -> &'a str,
) -> Result<()> {
    /// One line of the clusters file; fields in the order a JSON object map sorts them.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        cluster: u32,
        duplicate_of: Option<&'a str>,
        id: &'a str,
        similarity: Option<f64>,
    }
    let mut out = AtomicOutput::create(path)?;
    for (id, a) in ids.zip(assignments) {
        let line = Line {
            cluster: a.cluster,
            duplicate_of: a.duplicate_of.map(&kept_id),
            id,
            similarity: a.similarity.map(|s| (s * 1e6).round() / 1e6),
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.commit()
}

/// Write the documents that are not duplicates (`{"id", "text"}`, original text).
pub fn write_deduped(path: &Path, docs: &[Doc], assignments: &[dedup::Assignment]) -> Result<()> {
    let mut out = AtomicOutput::create(path)?;
    for (doc, a) in docs.iter().zip(assignments) {
        write_kept(&mut out, doc, a)?;
    }
    out.commit()
}

fn write_kept(out: &mut AtomicOutput, doc: &Doc, a: &dedup::Assignment) -> Result<()> {
    if a.duplicate_of.is_none() {
        serde_json::to_writer(&mut *out, &json!({"id": doc.id, "text": doc.text}))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

pub fn run(args: DedupArgs) -> Result<ExitCode> {
    // Band keys past the library's memory share go to the system's temporary folder.
    let config = DedupConfig {
        spill_dir: Some(std::env::temp_dir()),
        ..args.config()?
    };
    init_threads(args.threads)?;
    let started = Instant::now();
    let corpus = FileCorpus::open(&args.input)?.without_spinner();
    let progress = Progress::spinner("");
    let outcome = pipeline::dedup(&corpus, &config, !args.no_clean, &|pass, done| {
        progress.message(pass.as_str(), done)
    })?;
    progress.finish();
    let scan = corpus.scan();
    let ids = &scan.ids;
    write_clusters(&args.output, ids.iter(), &outcome.assignments, |k| {
        ids.get(k as usize).unwrap_or_default()
    })?;
    if let Some(path) = &args.write_deduped {
        let mut out = AtomicOutput::create(path)?;
        let mut failed = None;
        corpus.for_each_batch(&pipeline::every_document, &mut |batch| {
            for (doc, &at) in batch.docs.iter().zip(batch.positions) {
                if failed.is_none() {
                    failed = write_kept(&mut out, doc, &outcome.assignments[at]).err();
                }
            }
        })?;
        if let Some(err) = failed {
            return Err(err);
        }
        out.commit()?;
    }
    let documents = ids.len();
    let rejected = scan.rejected.len();

    let bands = config.bands();
    let lede = config.lede_bands();
    let seconds = started.elapsed().as_secs_f64();
    match args.summary {
        SummaryFormat::Json => {
            let summary = json!({
                "documents": documents + rejected,
                "kept": documents - outcome.duplicates,
                "duplicates": outcome.duplicates,
                "rejected": rejected,
                "clusters": outcome.clusters,
                "exact_copies": outcome.exact_copies,
                "candidate_pairs": outcome.candidate_pairs,
                "verified_edges": outcome.verified_edges,
                "verify_rounds": outcome.verify_rounds,
                "utf8_repaired": scan.stats.utf8_repaired,
                "nul_bytes_removed": scan.stats.nul_bytes_removed,
                "seconds": (seconds * 1000.0).round() / 1000.0,
                "parameters": {
                    "config": config,
                    "bands": bands,
                    "lede_bands": lede,
                    "clean": !args.no_clean,
                    "hash": "xxh3-64, seed 0x636f70796465736b",
                },
                "output": args.output,
            });
            eprintln!("{summary}");
        }
        SummaryFormat::Text => {
            eprintln!(
                "copydesk dedup: {} documents: {} kept, {} duplicates in {} clusters, {} rejected ({:.2} s)",
                documents + rejected,
                documents - outcome.duplicates,
                outcome.duplicates,
                outcome.clusters,
                rejected,
                seconds
            );
            eprintln!(
                "  {:?} {}-{} shingles, {} similarity >= {}; LSH {} bands x {} rows (lede window {} shingles: {} x {}); {} exact copies, {} candidate pairs, {} verified{}",
                config.method,
                format!("{:?}", config.shingle.unit).to_lowercase(),
                config.shingle.ngram,
                format!("{:?}", config.similarity).to_lowercase(),
                config.threshold,
                bands.bands,
                bands.rows,
                config.lede_shingles,
                lede.bands,
                lede.rows,
                outcome.exact_copies,
                outcome.candidate_pairs,
                outcome.verified_edges,
                match outcome.verify_rounds {
                    0 | 1 => String::new(),
                    r => format!(" in {r} rounds"),
                }
            );
            eprintln!("  clusters written to {}", args.output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
