//! `copydesk index add|stats` and `copydesk dedup --against INDEX`: the persistent index at
//! the command line. The storage, its format and its locking live in [`copydesk::index`].

use super::common::{init_threads, InputArgs};
use super::dedup::{
    sketch_docs, write_clusters, write_deduped, DedupArgs, MatchArgs, SummaryFormat,
};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use copydesk::dedup::{self, Sketch};
use copydesk::doc::Doc;
use copydesk::index::{Entry, Index, Parameters, DEFAULT_LOCK_TIMEOUT};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Args, Debug)]
pub struct IndexArgs {
    #[command(subcommand)]
    command: IndexCommand,
}

#[derive(Subcommand, Debug)]
enum IndexCommand {
    /// Add a batch of documents (their sketches and ids, never texts) to an index, creating it.
    Add(Box<AddArgs>),
    /// Show what an index holds: documents, batches, parameters, sizes.
    Stats(StatsArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  copydesk index add archive.index crawl-2024-05/
  copydesk index add archive.index fixes.jsonl --replace
  copydesk dedup --against archive.index crawl-2024-06/

The index is one SQLite file (WAL mode). A batch is one transaction: an interrupted add leaves
the index as it was. Any number of readers (dedup --against, check --against, index stats) may
run at once; a second writer waits --lock-timeout seconds, then fails with exit status 2.
The first batch fixes the matching parameters; later batches and queries must use the same.")]
pub struct AddArgs {
    /// The index file (created when missing).
    #[arg(value_name = "INDEX")]
    pub index: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub matching: MatchArgs,
    /// Overwrite the sketch of an id already in the index (default: such an id is an error).
    #[arg(long)]
    pub replace: bool,
    /// Do not strip boilerplate lines before matching.
    #[arg(long)]
    pub no_clean: bool,
    /// Seconds to wait for another writer before giving up.
    #[arg(long, default_value_t = DEFAULT_LOCK_TIMEOUT.as_secs_f64(), value_name = "SECONDS")]
    pub lock_timeout: f64,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// The index file.
    #[arg(value_name = "INDEX")]
    pub index: PathBuf,
    /// Print one JSON object instead of a readable text.
    #[arg(long)]
    pub json: bool,
}

/// `copydesk dedup`, with the option to compare against an index.
#[derive(Args, Debug)]
pub struct DedupCommand {
    #[command(flatten)]
    pub dedup: DedupArgs,
    /// Also compare with every document stored in this index. Output lines are written for the
    /// new documents only; duplicate_of names a stored id when the match is historical. All
    /// stored sketches are loaded into memory: about 8 KB per stored news article at the default
    /// parameters (1.7 GB for 200,000).
    /// Cluster numbers count the stored documents first.
    #[arg(long, value_name = "INDEX")]
    pub against: Option<PathBuf>,
}

pub fn run(args: IndexArgs) -> Result<ExitCode> {
    match args.command {
        IndexCommand::Add(args) => add(*args),
        IndexCommand::Stats(args) => stats(args),
    }
}

/// Dispatch `copydesk dedup`: plain, or against an index.
pub fn run_dedup(command: DedupCommand) -> Result<ExitCode> {
    match command.against {
        None => super::dedup::run(command.dedup),
        Some(index) => dedup_against(command.dedup, index),
    }
}

fn add(args: AddArgs) -> Result<ExitCode> {
    let config = args.matching.config()?;
    init_threads(args.threads)?;
    let lock_timeout = Duration::try_from_secs_f64(args.lock_timeout)
        .context("--lock-timeout must be a number of seconds >= 0")?;
    let started = Instant::now();
    let parameters = Parameters {
        config,
        clean: !args.no_clean,
    };
    let mut index = Index::open_for_write(&args.index, lock_timeout)?;
    // Fail before reading and sketching when the parameters cannot fit; checked again in the
    // write transaction.
    index.check_compatible(&parameters)?;
    let loaded = args.input.load()?;
    let sketches = sketch_docs(&loaded.docs, &parameters.config, parameters.clean);
    let entries: Vec<Entry<'_>> = loaded
        .docs
        .iter()
        .zip(&sketches)
        .map(|(doc, sketch)| Entry {
            id: &doc.id,
            sketch,
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let report = index
        .add_batch(&parameters, &entries, args.replace, now)
        .map_err(|err| match err {
            copydesk::Error::DuplicateId { .. } => anyhow::anyhow!(
                "{err}; nothing was added\nhint: --replace overwrites stored ids with the new sketches"
            ),
            copydesk::Error::Locked(_) => anyhow::anyhow!(
                "{err}; nothing was added\nhint: wait for the other `copydesk index add` to finish, or raise --lock-timeout"
            ),
            other => anyhow::Error::new(other).context("nothing was added"),
        })?;
    eprintln!(
        "copydesk index add: batch {}: {} added, {} replaced, {} rejected; {} documents in {} ({:.2} s)",
        report.batch,
        report.added,
        report.replaced,
        loaded.rejected.len(),
        report.documents,
        args.index.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn stats(args: StatsArgs) -> Result<ExitCode> {
    let index = Index::open(&args.index)?;
    let stats = index.stats()?;
    let per_document = |bytes: u64| {
        if stats.documents == 0 {
            0.0
        } else {
            bytes as f64 / stats.documents as f64
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = json!({
            "index": args.index,
            "documents": stats.documents,
            "batches": stats.batches,
            "format_version": stats.format_version,
            "hash": stats.hash,
            "parameters": stats.parameters,
            "file_bytes": stats.file_bytes,
            "sketch_bytes": stats.sketch_bytes,
            "bytes_per_document": per_document(stats.file_bytes).round(),
            "sketch_bytes_per_document": per_document(stats.sketch_bytes).round(),
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(out, "index:       {}", args.index.display())?;
        writeln!(out, "documents:   {}", stats.documents)?;
        writeln!(out, "batches:     {}", stats.batches)?;
        writeln!(
            out,
            "file size:   {} bytes ({:.0} bytes per document; sketches alone {:.0})",
            stats.file_bytes,
            per_document(stats.file_bytes),
            per_document(stats.sketch_bytes)
        )?;
        match (&stats.format_version, &stats.hash) {
            (Some(version), Some(hash)) => {
                writeln!(out, "format:      version {version}, hash {hash}")?
            }
            _ => writeln!(out, "format:      empty (no batch committed yet)")?,
        }
        if let Some(parameters) = &stats.parameters {
            writeln!(out, "parameters:  {parameters}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The stored documents followed by the new ones, clustered in one run: the result equals
/// deduplicating everything at once with the stored documents first.
pub struct Against {
    /// Ids of stored then new documents.
    pub ids: Vec<String>,
    /// Number of stored documents (they come first).
    pub stored: usize,
    pub outcome: dedup::Outcome,
    /// Time spent reading and decoding the stored sketches.
    pub load_seconds: f64,
}

/// Load `index`, check its parameters, and cluster its documents with `new`.
pub fn cluster_against(
    index: &std::path::Path,
    parameters: &Parameters,
    docs: &[Doc],
    new: Vec<Sketch>,
) -> Result<Against> {
    let started = Instant::now();
    let index = Index::open(index)?;
    let stored = index.load(parameters)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let stored_count = stored.ids.len();
    let mut ids = stored.ids;
    ids.extend(docs.iter().map(|d| d.id.clone()));
    let mut sketches = stored.sketches;
    sketches.extend(new);
    let outcome = dedup::cluster(sketches, &parameters.config)?;
    Ok(Against {
        ids,
        stored: stored_count,
        outcome,
        load_seconds,
    })
}

fn dedup_against(args: DedupArgs, index: PathBuf) -> Result<ExitCode> {
    let config = args.config()?;
    init_threads(args.threads)?;
    let started = Instant::now();
    let parameters = Parameters {
        config,
        clean: !args.no_clean,
    };
    // Fail before reading and sketching when the parameters cannot fit.
    Index::open(&index)?.check_compatible(&parameters)?;
    let loaded = args.input.load()?;
    let docs = &loaded.docs;
    let sketches = sketch_docs(docs, &parameters.config, parameters.clean);
    let against = cluster_against(&index, &parameters, docs, sketches)?;
    let new = &against.outcome.assignments[against.stored..];

    let duplicates = new.iter().filter(|a| a.duplicate_of.is_some()).count();
    let historical = new
        .iter()
        .filter(|a| {
            a.duplicate_of
                .is_some_and(|k| (k as usize) < against.stored)
        })
        .count();
    write_clusters(&args.output, docs.iter().map(|d| d.id.as_str()), new, |k| {
        against.ids[k as usize].as_str()
    })?;
    if let Some(path) = &args.write_deduped {
        write_deduped(path, docs, new)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    match args.summary {
        SummaryFormat::Json => {
            let summary = json!({
                "documents": docs.len() + loaded.rejected.len(),
                "kept": docs.len() - duplicates,
                "duplicates": duplicates,
                "duplicates_of_stored": historical,
                "rejected": loaded.rejected.len(),
                "stored_documents": against.stored,
                "candidate_pairs": against.outcome.candidate_pairs,
                "verified_edges": against.outcome.verified_edges,
                "seconds": (seconds * 1000.0).round() / 1000.0,
                "load_seconds": (against.load_seconds * 1000.0).round() / 1000.0,
                "parameters": {
                    "config": parameters.config,
                    "clean": parameters.clean,
                    "hash": copydesk::index::HASH,
                },
                "against": index,
                "output": args.output,
            });
            eprintln!("{summary}");
        }
        SummaryFormat::Text => {
            eprintln!(
                "copydesk dedup: {} documents against {} stored in {}: {} kept, {} duplicates ({} of stored documents), {} rejected ({:.2} s)",
                docs.len() + loaded.rejected.len(),
                against.stored,
                index.display(),
                docs.len() - duplicates,
                duplicates,
                historical,
                loaded.rejected.len(),
                seconds
            );
            eprintln!("  clusters written to {}", args.output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
