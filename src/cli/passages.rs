//! `copydesk passages`: statements shared by different stories, with their offsets.

use super::common::{init_threads, AtomicOutput, InputArgs, Progress};
use anyhow::Result;
use clap::Args;
use copydesk::boilerplate::{self, CleanConfig, Reason};
use copydesk::cluster::UnionFind;
use copydesk::dedup::{self, DedupConfig};
use copydesk::doc::Doc;
use copydesk::passages::{self, PassageConfig, Tokens};
use rayon::prelude::*;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  copydesk passages samples/
  copydesk passages corpus.jsonl.gz --output passages.jsonl --by-story

Output: one JSON line per passage (a statement shared by different stories):
  {\"passage\": N, \"text\": ..., \"occurrences\": [{\"id\", \"start\", \"end\", \"story\"}, ...]}
start and end are character offsets (Unicode scalar values) into the original text, end
exclusive. story is the first document of the copies (reprints) the document belongs to:
text shared only by copies of one story is not a passage; every copy where a passage stands
is listed.

With --by-story, one occurrence per story, the story's other copies under it:
  {\"id\", \"start\", \"end\", \"copies\": [{\"id\", \"start\", \"end\"}, ...]}
The story's occurrence is its copy with the most evidence, then the exact wording the other
stories share most, then the fewest boilerplate lines, then the first in input order.

Copies are found three ways: shared spans covering both documents (or a truncated one from its
start), near-duplicate clusters as `copydesk dedup` finds them, and dedup's exact edge rule on
every pair that shares a span. Lines that dedup's matching ignores and short lines without
sentence punctuation outside the article (headlines in link lists, bylines) are skipped.")]
pub struct PassagesArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the passages (JSONL); - for stdout.
    #[arg(short, long, default_value = "passages.jsonl", value_name = "FILE")]
    pub output: PathBuf,
    /// Shortest passage, in words.
    #[arg(long, default_value_t = PassageConfig::default().min_words, help_heading = "Matching")]
    pub min_words: usize,
    /// A seed n-gram found in more stories than this is a stock phrase, not evidence.
    #[arg(long, default_value_t = PassageConfig::default().max_df, help_heading = "Matching")]
    pub max_df: usize,
    /// A seed n-gram found in more documents than this is never used (bounds the work).
    #[arg(long, default_value_t = PassageConfig::default().max_doc_df, help_heading = "Matching")]
    pub max_doc_df: usize,
    /// Words per seed n-gram.
    #[arg(long, default_value_t = PassageConfig::default().ngram, help_heading = "Matching")]
    pub ngram: usize,
    /// Largest gap (words) bridged inside a passage (edits, OCR noise).
    #[arg(long, default_value_t = PassageConfig::default().max_gap, help_heading = "Matching")]
    pub max_gap: usize,
    /// Share of both documents their shared spans must cover for them to be copies of one story.
    #[arg(long, default_value_t = PassageConfig::default().copy_coverage, help_heading = "Matching")]
    pub copy_coverage: f64,
    /// Coverage of the shorter document for the aligned (truncated) copy rule; 0 turns it off.
    #[arg(long, default_value_t = PassageConfig::default().copy_aligned, help_heading = "Matching")]
    pub copy_aligned: f64,
    /// Words allowed before the first shared span in both documents for the aligned rule.
    #[arg(long, default_value_t = PassageConfig::default().align_slack, help_heading = "Matching")]
    pub align_slack: usize,
    /// Do not fold OCR look-alikes (rn/m, cl/d, 0/o, 1/l/i) before matching.
    #[arg(long, help_heading = "Matching")]
    pub no_ocr_fold: bool,
    /// One occurrence per story (the copy that holds the passage best), with the story's other
    /// copies where the passage stands under its `copies`.
    #[arg(long)]
    pub by_story: bool,
    /// Do not join near-duplicate clusters (as `copydesk dedup` finds them) into stories.
    #[arg(long)]
    pub no_dedup: bool,
    /// Do not skip boilerplate, repeated and short furniture lines.
    #[arg(long)]
    pub no_clean: bool,
    /// Worker threads (0: one per core). The output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

impl PassagesArgs {
    pub fn config(&self) -> Result<PassageConfig> {
        let config = PassageConfig {
            ngram: self.ngram,
            min_words: self.min_words,
            max_df: self.max_df,
            max_doc_df: self.max_doc_df,
            max_gap: self.max_gap,
            copy_coverage: self.copy_coverage,
            copy_aligned: self.copy_aligned,
            align_slack: self.align_slack,
            ocr_fold: !self.no_ocr_fold,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Per document, the 1-based numbers of the lines passages skip: with `clean`, the lines dedup's
/// matching ignores (boilerplate line evidence, and short digit-free lines found in at least
/// 5 documents), and the short lines without sentence punctuation outside the article
/// (headlines in link lists, bylines, section names: not statements); otherwise none.
pub fn skipped_lines(docs: &[Doc], clean: bool) -> Vec<Vec<usize>> {
    if !clean {
        return vec![Vec::new(); docs.len()];
    }
    let cleaned = boilerplate::clean_docs(docs, &CleanConfig::default(), &|| {});
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let mut skipped = dedup::repeated_line_numbers(&texts, &DedupConfig::default());
    for (lines, c) in skipped.iter_mut().zip(&cleaned) {
        lines.extend(
            c.removed
                .iter()
                .filter(|r| r.reason.is_line_evidence() || r.reason == Reason::ShortLine)
                .map(|r| r.line),
        );
        lines.sort_unstable();
        lines.dedup();
    }
    skipped
}

/// Tokens of every document, without the `skipped` lines ([`skipped_lines`]).
pub fn tokenize_all(docs: &[Doc], skipped: &[Vec<usize>], ocr_fold: bool) -> Vec<Tokens> {
    let progress = Progress::bar("tokenizing", docs.len());
    let tokens = docs
        .par_iter()
        .enumerate()
        .map(|(i, d)| {
            let lines = skipped.get(i).map_or(&[][..], |l| l.as_slice());
            progress.inc();
            passages::tokenize(&d.text, lines, ocr_fold)
        })
        .collect();
    progress.finish();
    tokens
}

/// The original text of `chars` `start..end`, whitespace runs shown as one space.
pub fn excerpt(text: &str, start: u32, end: u32) -> String {
    let slice: String = text
        .chars()
        .skip(start as usize)
        .take(end.saturating_sub(start) as usize)
        .collect();
    slice.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn run(args: PassagesArgs) -> Result<ExitCode> {
    let config = args.config()?;
    init_threads(args.threads)?;
    let started = Instant::now();
    let loaded = args.input.load()?;
    let docs = &loaded.docs;
    let skipped = skipped_lines(docs, !args.no_clean);
    let tokens = tokenize_all(docs, &skipped, config.ocr_fold);
    // Stories: near-duplicate clusters as `copydesk dedup` finds them, and every pair sharing a
    // span that passes dedup's exact edge rule (LSH can miss a truncated copy wrapped in
    // furniture).
    let dedup_config = DedupConfig::default();
    let mut sketches = if args.no_dedup {
        Vec::new()
    } else {
        super::dedup::sketch_docs(docs, &dedup_config, !args.no_clean)
    };
    dedup::remove_stock_shingles(&mut sketches, &dedup_config);
    let stories = if args.no_dedup {
        None
    } else {
        let mut uf = UnionFind::new(sketches.len());
        for (i, j) in dedup::candidates(&sketches, &[], &dedup_config)? {
            if dedup::verify_pair(&sketches[i as usize], &sketches[j as usize], &dedup_config).0 {
                uf.union(i, j);
            }
        }
        Some(
            (0..sketches.len() as u32)
                .map(|d| uf.find(d))
                .collect::<Vec<u32>>(),
        )
    };
    let is_copy = |a: u32, b: u32| match (sketches.get(a as usize), sketches.get(b as usize)) {
        (Some(x), Some(y)) => dedup::verify_pair(x, y, &dedup_config).0,
        _ => false,
    };
    let found = passages::find(&tokens, &config, stories.as_deref(), &is_copy);
    drop(sketches);
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let furniture: Vec<u32> = skipped.iter().map(|l| l.len() as u32).collect();

    let mut out = AtomicOutput::create(&args.output)?;
    let (mut occurrences, mut copies) = (0usize, 0usize);
    let place = |o: &passages::Occurrence| json!({"id": docs[o.doc as usize].id, "start": o.start, "end": o.end});
    for (n, p) in found.passages.iter().enumerate() {
        let rep = p.occurrences[p.representative()];
        let text = excerpt(&docs[rep.doc as usize].text, rep.start, rep.end);
        let occ: Vec<_> = if args.by_story {
            p.by_story(&texts, &furniture)
                .iter()
                .map(|g| {
                    occurrences += 1;
                    copies += g.copies.len();
                    let mut o = place(&p.occurrences[g.main]);
                    let list: Vec<_> = g.copies.iter().map(|&c| place(&p.occurrences[c])).collect();
                    o["copies"] = json!(list);
                    o
                })
                .collect()
        } else {
            occurrences += p.occurrences.len();
            p.occurrences
                .iter()
                .map(|o| {
                    let mut v = place(o);
                    v["story"] = json!(docs[o.story as usize].id);
                    v
                })
                .collect()
        };
        let line = json!({"passage": n, "text": text, "occurrences": occ});
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.commit()?;
    let stories = {
        let mut s = found.story.clone();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    let copies = if args.by_story {
        format!(" (one per story; {copies} more in their copies)")
    } else {
        String::new()
    };
    eprintln!(
        "copydesk passages: {} documents ({} stories, {} rejected): {} passages, {} occurrences{} ({:.2} s)",
        docs.len() + loaded.rejected.len(),
        stories,
        loaded.rejected.len(),
        found.passages.len(),
        occurrences,
        copies,
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "  word {}-gram seeds in <= {} stories (<= {} documents), spans >= {} words, gaps <= {} words, copies cover >= {} of both; {} copy pairs, {} cross-story spans",
        config.ngram,
        config.max_df,
        config.max_doc_df,
        config.min_words,
        config.max_gap,
        config.copy_coverage,
        found.copy_pairs,
        found.spans
    );
    eprintln!("  passages written to {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
