//! `copydesk index add|stats` and `copydesk dedup --against INDEX`: the persistent index at
//! the command line. The storage, its format and its locking live in [`copydesk::index`].

use super::common::{init_threads, FileCorpus, Ids, InputArgs};
use super::dedup::{write_clusters, write_deduped, DedupArgs, MatchArgs, SummaryFormat};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use copydesk::cluster::{self, UnionFind};
use copydesk::dedup::{
    content_hash, exact_copies, join_exact_copies, stock_cap, verify_pair, Assignment,
    CandidateKeys, DedupConfig, DocFrequency, DocKeys, LineCounts, Over, Sketch,
};
use copydesk::index::{
    decode_sketch_and_set, encode_sketch, Entry, Index, LineContext, LineState, Parameters,
    Repeated, StoredSketch, DEFAULT_LOCK_TIMEOUT,
};
use copydesk::pipeline::{every_document, Corpus};
use copydesk::shingle;
use copydesk::verify::{self, Similarity};
use rayon::prelude::*;
use serde_json::json;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
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
    /// new documents only; duplicate_of names a stored id when the match is historical. Only the
    /// stored candidate-search entries are loaded (about 250 bytes per document); stored
    /// sketches are read for candidate pairs alone. Cluster numbers count the stored documents
    /// first: the output equals a `dedup` over the stored documents followed by the new ones.
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

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Run `f` over every batch of `corpus`, stopping at the first error `f` returns.
fn try_for_each_batch<C: Corpus>(
    corpus: &C,
    f: &mut dyn FnMut(&[copydesk::doc::Doc]) -> Result<()>,
) -> Result<()>
where
    C::Error: Into<anyhow::Error>,
{
    let mut failed = None;
    corpus
        .for_each_batch(&every_document, &mut |batch| {
            if failed.is_none() {
                failed = f(batch.docs).err();
            }
        })
        .map_err(Into::into)?;
    match failed {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The line counts of a corpus (a pass of its own only when matching uses them).
fn count_lines<C: Corpus>(corpus: &C, config: &DedupConfig, clean: bool) -> Result<LineCounts>
where
    C::Error: Into<anyhow::Error>,
{
    let mut counts = LineCounts::default();
    if clean || config.repeat_min_docs > 0 {
        try_for_each_batch(corpus, &mut |docs| {
            counts.observe_docs(docs, config, clean);
            Ok(())
        })?;
    }
    Ok(counts)
}

/// How a stored document's sketch moves when the line counts change from `before` to `after`:
/// None when it does not; otherwise its sketch under both.
fn moved(
    entry: &Entry,
    before: &Repeated,
    after: &Repeated,
    fetch: &mut dyn FnMut() -> copydesk::Result<StoredSketch>,
    config: &DedupConfig,
) -> copydesk::Result<Option<(Sketch, Sketch)>> {
    let changes = entry.lines.iter().any(|(h, state)| {
        *state == LineState::Candidate && before.is_repeated(*h) != after.is_repeated(*h)
    });
    if !changes {
        return Ok(None);
    }
    let stored = fetch()?;
    let old = stored.sketch(&|h| before.is_repeated(h), config);
    let new = stored.sketch(&|h| after.is_repeated(h), config);
    Ok(Some((old, new)))
}

/// A stored document keeps a line that is now repeated but that its sketch cannot drop.
fn is_stale(entry: &Entry, after: &Repeated) -> bool {
    entry
        .lines
        .iter()
        .any(|(h, state)| *state == LineState::Frozen && after.is_repeated(*h))
}

fn entry_of(sketch: &Sketch, keys: &CandidateKeys, lines: Vec<(u64, LineState)>) -> Entry {
    let k = keys.keys_of(sketch);
    Entry {
        chars: sketch.chars,
        content: content_hash(&sketch.sequence),
        keys: k.keys().to_vec(),
        simhash: k.simhash(),
        lines,
    }
}

/// The totals, sorted by key, of every count a batch touched: the stored count (after
/// replaced documents were taken back) plus what the batch added.
fn new_totals(
    stored: &ahash::AHashMap<u64, u32>,
    added: ahash::AHashMap<u64, u32>,
    taken_back: Vec<u64>,
) -> Vec<(u64, u32)> {
    let mut totals: Vec<(u64, u32)> = added
        .keys()
        .copied()
        .chain(taken_back)
        .map(|k| {
            let n = stored.get(&k).copied().unwrap_or(0);
            (k, n.saturating_add(added.get(&k).copied().unwrap_or(0)))
        })
        .collect();
    totals.sort_unstable();
    totals.dedup();
    totals
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
    let config = &parameters.config;
    let clean = parameters.clean;
    let mut index = Index::open_for_write(&args.index, lock_timeout)?;
    // Fail before reading and sketching when the parameters cannot fit; checked again in the
    // write transaction.
    index.check_compatible(&parameters)?;
    let corpus = FileCorpus::open(&args.input)?;
    let nothing_added = |err: copydesk::Error| {
        match err {
        copydesk::Error::DuplicateId { .. } => anyhow::anyhow!(
            "{err}; nothing was added\nhint: --replace overwrites stored ids with the new sketches"
        ),
        copydesk::Error::Locked(_) => anyhow::anyhow!(
            "{err}; nothing was added\nhint: wait for the other `copydesk index add` to finish, or raise --lock-timeout"
        ),
        other => anyhow::Error::new(other).context("nothing was added"),
    }
    };
    let mut writer = index
        .begin(&parameters, args.replace, now())
        .map_err(nothing_added)?;

    // The stored counts as they are, and the document frequencies they go with.
    let before = writer.counts().map_err(nothing_added)?;
    let before_counts = before.with(&LineCounts::default());
    let before_repeated = Repeated::new(&before_counts, config);
    let df = DocFrequency::default();
    writer.frequency_into(&df).map_err(nothing_added)?;

    // Pass 1: the batch's line counts, and the stored documents it replaces, whose counts
    // and frequencies are taken back.
    let mut counts = before.clone();
    let mut new_counts = LineCounts::default();
    let mut taken_back: Vec<u64> = Vec::new();
    let mut templates_taken_back: Vec<u64> = Vec::new();
    try_for_each_batch(&corpus, &mut |docs| {
        if clean || config.repeat_min_docs > 0 {
            new_counts.observe_docs(docs, config, clean);
        }
        for doc in docs {
            let Some(found) = writer.find(&doc.id).map_err(nothing_added)? else {
                continue;
            };
            if !args.replace {
                return Err(nothing_added(copydesk::Error::DuplicateId {
                    path: args.index.clone(),
                    id: doc.id.clone(),
                    batch: found.batch,
                }));
            }
            for (h, _) in &found.entry.lines {
                if let Some(n) = counts.lines.get_mut(h) {
                    *n = n.saturating_sub(1);
                    taken_back.push(*h);
                }
            }
            let stored = writer.sketch(found.seq).map_err(nothing_added)?;
            for k in &stored.templates {
                if let Some(n) = counts.templates.get_mut(k) {
                    *n = n.saturating_sub(1);
                    templates_taken_back.push(*k);
                }
            }
            let old = stored.sketch(&|h| before_repeated.is_repeated(h), config);
            df.remove_set(&old.set);
        }
        Ok(())
    })?;
    let merged = counts.with(&new_counts);
    let context = LineContext::new(&merged, config, clean);

    // Pass 2: sketch and store every document. A batch is stored on this thread (the
    // transaction cannot move) while the worker threads sketch the next one.
    let mut pending: Vec<(String, copydesk::index::Prepared)> = Vec::new();
    let mut store = |pending: &mut Vec<(String, copydesk::index::Prepared)>| -> Result<()> {
        for (id, p) in pending.drain(..) {
            df.add_set(&p.set);
            writer
                .insert(&id, &p.entry, &p.sketch)
                .map_err(nothing_added)?;
        }
        Ok(())
    };
    try_for_each_batch(&corpus, &mut |docs| {
        let mut next = Vec::new();
        let mut stored = Ok(());
        rayon::in_place_scope(|scope| {
            scope.spawn(|_| {
                next = docs
                    .par_iter()
                    .map(|d| (d.id.clone(), context.prepare(&d.text, d.site.as_deref())))
                    .collect();
            });
            stored = store(&mut pending);
        });
        pending = next;
        stored
    })?;
    store(&mut pending)?;

    // Documents stored before whose lines became repeated (or stopped being): their sketch
    // changes, and with it their keys and frequencies.
    let mut stale = 0u64;
    let after_repeated = &context.repeated;
    let mut updates: Vec<(i64, Entry)> = Vec::new();
    writer
        .for_each_older_entry(&mut |seq, _id, entry| {
            if is_stale(&entry, after_repeated) {
                stale += 1;
            }
            let mut fetch = || writer.sketch(seq);
            if let Some((old, new)) =
                moved(&entry, &before_repeated, after_repeated, &mut fetch, config)?
            {
                df.remove_set(&old.set);
                df.add_set(&new.set);
                updates.push((seq, entry_of(&new, &context.keys, entry.lines)));
            }
            Ok(())
        })
        .map_err(nothing_added)?;
    for (seq, entry) in &updates {
        writer.update_entry(*seq, entry).map_err(nothing_added)?;
    }

    // The new totals of every count the batch touched.
    let lines = new_totals(
        &counts.lines,
        new_counts.repeated_counts().collect(),
        taken_back,
    );
    let templates = new_totals(
        &counts.templates,
        new_counts.templates().entries().collect(),
        templates_taken_back,
    );
    writer
        .write_counts(&lines, &templates, &df)
        .map_err(nothing_added)?;
    let report = writer.commit().map_err(nothing_added)?;
    let rejected = corpus.scan().rejected.len();
    eprintln!(
        "copydesk index add: batch {}: {} added, {} replaced, {} rejected; {} stored documents re-sketched for newly repeated lines{}; {} documents in {} ({:.2} s)",
        report.batch,
        report.added,
        report.replaced,
        rejected,
        report.updated,
        if stale > 0 {
            format!(", {stale} keep such a line (see README)")
        } else {
            String::new()
        },
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
            "entry_bytes": stats.entry_bytes,
            "bytes_per_document": per_document(stats.file_bytes).round(),
            "sketch_bytes_per_document": per_document(stats.sketch_bytes).round(),
            "entry_bytes_per_document": per_document(stats.entry_bytes).round(),
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(out, "index:       {}", args.index.display())?;
        writeln!(out, "documents:   {}", stats.documents)?;
        writeln!(out, "batches:     {}", stats.batches)?;
        writeln!(
            out,
            "file size:   {} bytes ({:.0} bytes per document; sketches {:.0}, search entries {:.0})",
            stats.file_bytes,
            per_document(stats.file_bytes),
            per_document(stats.sketch_bytes),
            per_document(stats.entry_bytes)
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

/// New documents clustered with every stored one, exactly as one `dedup` over the stored
/// documents followed by the new ones would cluster them.
pub struct Against {
    /// Ids of the stored documents, in stored order.
    pub stored_ids: Ids,
    /// Ids of the new documents, in input order.
    pub new_ids: Ids,
    /// Where each new document went (indices below `stored_ids.len()` are stored documents).
    pub assignments: Vec<Assignment>,
    pub candidate_pairs: usize,
    pub verified_edges: usize,
    /// Stored documents whose sketch was replayed because a line became repeated.
    pub replayed: usize,
    /// Stored documents that keep a now-repeated line their sketch cannot drop.
    pub stale: usize,
    /// Stored sketches read for verification.
    pub sketches_read: usize,
    /// Time spent reading the stored entries.
    pub load_seconds: f64,
}

impl Against {
    pub fn stored(&self) -> usize {
        self.stored_ids.len()
    }

    /// The id of document `k` (stored first, then new).
    pub fn id(&self, k: u32) -> &str {
        let k = k as usize;
        let stored = self.stored_ids.len();
        let id = if k < stored {
            self.stored_ids.get(k)
        } else {
            self.new_ids.get(k - stored)
        };
        id.unwrap_or_default()
    }
}

/// Where the shingle sequences of documents come from during verification: stored ones from
/// the index, new ones from a spool file written while sketching (so no sketch stays in
/// memory longer than its chunk of pairs).
struct Sources<'a> {
    index: &'a Index,
    seqs: &'a [i64],
    spool: std::cell::RefCell<std::fs::File>,
    /// (offset, length) of each new document's encoded sketch in the spool.
    spooled: &'a [(u64, u32)],
    after: &'a Repeated<'a>,
}

impl Sources<'_> {
    /// The encoded sketches of `docs` (read one after another), decoded and reduced to what
    /// verification needs in parallel: set and sequence without stock shingles.
    fn states(&self, docs: &[u32], stock: &Over, with_sequence: bool) -> Result<Vec<Sketch>> {
        let stored = self.seqs.len();
        let mut blobs: Vec<Vec<u8>> = Vec::with_capacity(docs.len());
        for &d in docs {
            let d = d as usize;
            if d < stored {
                blobs.push(self.index.sketch_bytes(self.seqs[d])?);
            } else {
                let (offset, length) = self.spooled[d - stored];
                let mut blob = vec![0u8; length as usize];
                let mut spool = self.spool.borrow_mut();
                spool.seek(SeekFrom::Start(offset))?;
                spool.read_exact(&mut blob)?;
                blobs.push(blob);
            }
        }
        let after = self.after;
        let shown = self.index.path().display().to_string();
        blobs
            .par_iter()
            .zip(docs)
            .map(|(blob, d)| {
                let (stored_sketch, mut set) = decode_sketch_and_set(blob)
                    .map_err(|m| anyhow::anyhow!("{shown}: document {d}: corrupt sketch: {m}"))?;
                let replays = stored_sketch.drops_any(&|h| after.is_repeated(h));
                let (mut sequence, chars) = if replays {
                    let (sequence, chars) = stored_sketch.apply(&|h| after.is_repeated(h));
                    set = shingle::to_set(sequence.clone());
                    (sequence, chars)
                } else {
                    (stored_sketch.sequence, stored_sketch.chars)
                };
                let before = set.len();
                set.retain(|h| !stock.contains(*h));
                if with_sequence {
                    if set.len() < before {
                        sequence.retain(|h| set.binary_search(h).is_ok());
                    }
                } else {
                    sequence = Vec::new();
                }
                Ok(Sketch {
                    sequence,
                    set,
                    chars,
                    ..Sketch::default()
                })
            })
            .collect()
    }
}

/// Documents per unit of verification: the states of two units (and of the far partners of
/// one) are in memory at once, a few hundred MB at most for news articles.
const UNIT_DOCS: usize = 4096;

/// Apply `f` to every pair with both documents' states; results in the order of `pairs`.
///
/// Documents are put in breadth-first order of the candidate graph (Cuthill–McKee: partners
/// land near each other) and cut into units. A pair is done when the unit of its later
/// document is loaded; the earlier one is then in that unit or the one before (both are
/// held) or is read again as a far partner. So most sketches are read once, whatever the
/// number of documents, and memory stays at about two units.
fn for_pairs<R: Send + Default + Clone>(
    sources: &Sources,
    pairs: &[(u32, u32)],
    stock: &Over,
    with_sequence: bool,
    f: &(dyn Fn(&Sketch, &Sketch) -> R + Sync),
) -> Result<(Vec<R>, usize)> {
    let mut results = vec![R::default(); pairs.len()];
    let n = pairs.iter().map(|p| p.1 as usize + 1).max().unwrap_or(0);
    // Adjacency in compressed rows.
    let mut degree = vec![0u32; n + 1];
    for (i, j) in pairs {
        degree[*i as usize + 1] += 1;
        degree[*j as usize + 1] += 1;
    }
    for d in 1..=n {
        degree[d] += degree[d - 1];
    }
    let starts = degree;
    let mut fill = starts.clone();
    let mut neighbours = vec![0u32; 2 * pairs.len()];
    for (i, j) in pairs {
        for (a, b) in [(*i, *j), (*j, *i)] {
            neighbours[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
        }
    }
    drop(fill);
    let mut position = vec![u32::MAX; n];
    let mut order: Vec<u32> = Vec::new();
    let mut queue = std::collections::VecDeque::new();
    for root in 0..n {
        if position[root] != u32::MAX || starts[root] == starts[root + 1] {
            continue;
        }
        position[root] = order.len() as u32;
        order.push(root as u32);
        queue.push_back(root as u32);
        while let Some(d) = queue.pop_front() {
            let d = d as usize;
            for &m in &neighbours[starts[d] as usize..starts[d + 1] as usize] {
                if position[m as usize] == u32::MAX {
                    position[m as usize] = order.len() as u32;
                    order.push(m);
                    queue.push_back(m);
                }
            }
        }
    }
    drop(neighbours);
    let unit_of = |d: u32| position[d as usize] as usize / UNIT_DOCS;
    // Pairs by the unit of their later document.
    let mut by_unit: Vec<(usize, u32)> = (0..pairs.len() as u32)
        .map(|p| {
            let (i, j) = pairs[p as usize];
            (unit_of(i).max(unit_of(j)), p)
        })
        .collect();
    by_unit.sort_unstable();
    let mut read = 0;
    let mut previous: (Vec<u32>, Vec<Sketch>) = (Vec::new(), Vec::new());
    for (u, docs) in order.chunks(UNIT_DOCS).enumerate() {
        let from = by_unit.partition_point(|(x, _)| *x < u);
        let to = by_unit.partition_point(|(x, _)| *x <= u);
        let work = &by_unit[from..to];
        let mut current: Vec<u32> = docs.to_vec();
        current.sort_unstable();
        let states = sources.states(&current, stock, with_sequence)?;
        read += current.len();
        let mut far: Vec<u32> = work
            .iter()
            .flat_map(|(_, p)| {
                let (i, j) = pairs[*p as usize];
                [i, j]
            })
            .filter(|d| unit_of(*d) + 1 < u)
            .collect();
        far.sort_unstable();
        far.dedup();
        let far_states = sources.states(&far, stock, with_sequence)?;
        read += far.len();
        let held: [(&[u32], &[Sketch]); 3] = [
            (&current, &states),
            (&previous.0, &previous.1),
            (&far, &far_states),
        ];
        let at = |d: u32| {
            held.iter()
                .find_map(|(ids, states)| ids.binary_search(&d).ok().map(|k| &states[k]))
        };
        let out: Vec<(u32, R)> = work
            .par_iter()
            .filter_map(|(_, p)| {
                let (i, j) = pairs[*p as usize];
                Some((*p, f(at(i)?, at(j)?)))
            })
            .collect();
        for (p, r) in out {
            results[p as usize] = r;
        }
        previous = (current, states);
    }
    Ok((results, read))
}

/// Cluster the documents of `corpus` with those stored in `index` (see [`Against`]).
pub fn cluster_against<C: Corpus>(
    index_path: &Path,
    parameters: &Parameters,
    corpus: &C,
) -> Result<Against>
where
    C::Error: Into<anyhow::Error>,
{
    let config = &parameters.config;
    let clean = parameters.clean;
    let index = Index::open(index_path)?;
    index.pin()?;
    index.check_compatible(parameters)?;
    let started = Instant::now();
    let before = index.counts()?;
    let before_counts = before.with(&LineCounts::default());
    let before_repeated = Repeated::new(&before_counts, config);

    // Pass 1: the new documents' lines, counted on top of the stored ones.
    let new_counts = count_lines(corpus, config, clean)?;
    let merged = before.with(&new_counts);
    let context = LineContext::new(&merged, config, clean);
    let after = &context.repeated;

    // The stored entries: candidate keys, exact-copy hashes, lengths. A stored document
    // whose lines became repeated with the new ones is sketched again from its stored
    // sequence, as one run over everything would sketch it.
    let df = DocFrequency::default();
    index.frequency_into(&df)?;
    let mut keys = CandidateKeys::new(config);
    let mut stored_ids = Ids::default();
    let mut seqs: Vec<i64> = Vec::new();
    let mut content: Vec<Option<u64>> = Vec::new();
    let mut lengths: Vec<usize> = Vec::new();
    let (mut replayed, mut stale) = (0usize, 0usize);
    index.for_each_entry(&mut |seq, id, entry| {
        if is_stale(&entry, after) {
            stale += 1;
        }
        let mut fetch = || index.sketch(seq);
        let entry = match moved(&entry, &before_repeated, after, &mut fetch, config)? {
            Some((old, new)) => {
                df.remove_set(&old.set);
                df.add_set(&new.set);
                replayed += 1;
                entry_of(&new, &keys, entry.lines)
            }
            None => entry,
        };
        stored_ids.push(&id);
        seqs.push(seq);
        content.push(entry.content);
        lengths.push(entry.chars);
        keys.push(DocKeys::from_parts(entry.keys, entry.simhash))?;
        Ok(())
    })?;
    let load_seconds = started.elapsed().as_secs_f64();
    let stored = seqs.len();

    // Pass 2: sketch the new documents; keep their keys, spool their sequences.
    let mut spool = tempfile::tempfile().context("cannot create a temporary file")?;
    let mut spool_out = std::io::BufWriter::new(&mut spool);
    let mut spooled: Vec<(u64, u32)> = Vec::new();
    let mut offset = 0u64;
    let mut new_ids = Ids::default();
    try_for_each_batch(corpus, &mut |docs| {
        let sketched: Vec<(DocKeys, Option<u64>, usize, Vec<u8>)> = docs
            .par_iter()
            .map(|d| {
                let s = context.sketch(&d.text, d.site.as_deref());
                df.add_set(&s.set);
                let mut bytes = Vec::new();
                let content = content_hash(&s.sequence);
                let k = context.keys.keys_of(&s);
                let chars = s.chars;
                encode_sketch(
                    &StoredSketch {
                        chars,
                        sequence: s.sequence,
                        groups: Vec::new(),
                        templates: Vec::new(),
                    },
                    &mut bytes,
                );
                (k, content, chars, bytes)
            })
            .collect();
        for (doc, (k, hash, chars, bytes)) in docs.iter().zip(sketched) {
            spool_out
                .write_all(&bytes)
                .context("cannot write the temporary file")?;
            spooled.push((offset, bytes.len() as u32));
            offset += bytes.len() as u64;
            keys.push(k)?;
            content.push(hash);
            lengths.push(chars);
            new_ids.push(&doc.id);
        }
        Ok(())
    })?;
    spool_out
        .flush()
        .context("cannot write the temporary file")?;
    drop(spool_out);
    let n = lengths.len();

    // Candidates, then exact verification of every pair, stored ones included: the result
    // is the one of a single run.
    let copies = exact_copies(&content);
    drop(content);
    let pairs = keys.candidates(&copies)?;
    drop(keys);
    let cap = stock_cap(n, config);
    let with_sequence = config.similarity == Similarity::Containment;
    let sources = Sources {
        index: &index,
        seqs: &seqs,
        spool: std::cell::RefCell::new(spool),
        spooled: &spooled,
        after,
    };
    let stock = df.over(cap);
    drop(df);
    let (checked, read) = for_pairs(&sources, &pairs, &stock, with_sequence, &|a, b| {
        verify_pair(a, b, config).0
    })?;
    let edges: Vec<(u32, u32)> = pairs
        .iter()
        .zip(&checked)
        .filter(|(_, e)| **e)
        .map(|(p, _)| *p)
        .collect();
    let mut uf = UnionFind::new(n);
    for (i, j) in &edges {
        uf.union(*i, *j);
    }
    join_exact_copies(&mut uf, &copies);
    let clusters = cluster::assign(&mut uf, config.keep, &lengths);

    // Each new duplicate's similarity to the document its cluster keeps.
    let kept_of = |i: usize| clusters.kept[clusters.cluster[i] as usize];
    let to_kept: Vec<(u32, u32)> = (stored..n)
        .filter_map(|i| {
            let k = kept_of(i);
            (k as usize != i).then(|| ((i as u32).min(k), (i as u32).max(k)))
        })
        .collect();
    let measure = config.similarity;
    let (similarities, read_more) = for_pairs(&sources, &to_kept, &stock, false, &|a, b| {
        verify::similarity(&a.set, &b.set, measure)
    })?;
    let mut similarity_of: Vec<Option<f64>> = vec![None; n - stored];
    for ((i, j), s) in to_kept.iter().zip(similarities) {
        let dup = if kept_of(*i as usize) == *i { *j } else { *i };
        similarity_of[dup as usize - stored] = Some(s);
    }
    let assignments = (stored..n)
        .map(|i| {
            let c = clusters.cluster[i];
            let k = kept_of(i);
            Assignment {
                cluster: c,
                duplicate_of: (k as usize != i).then_some(k),
                similarity: similarity_of[i - stored],
            }
        })
        .collect();
    Ok(Against {
        stored_ids,
        new_ids,
        assignments,
        candidate_pairs: pairs.len(),
        verified_edges: edges.len(),
        replayed,
        stale,
        sketches_read: read + read_more,
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
    let corpus = FileCorpus::open(&args.input)?;
    let against = cluster_against(&index, &parameters, &corpus)?;
    let new = &against.assignments;
    let stored = against.stored();
    let duplicates = new.iter().filter(|a| a.duplicate_of.is_some()).count();
    let historical = new
        .iter()
        .filter(|a| a.duplicate_of.is_some_and(|k| (k as usize) < stored))
        .count();
    write_clusters(&args.output, against.new_ids.iter(), new, |k| against.id(k))?;
    if let Some(path) = &args.write_deduped {
        // The new texts are read once more; only they are held (never the stored ones).
        let mut docs = Vec::new();
        corpus.for_each_batch(&every_document, &mut |batch| {
            docs.extend_from_slice(batch.docs)
        })?;
        write_deduped(path, &docs, new)?;
    }
    let rejected = corpus.scan().rejected.len();
    let documents = against.new_ids.len();
    let seconds = started.elapsed().as_secs_f64();
    match args.summary {
        SummaryFormat::Json => {
            let summary = json!({
                "documents": documents + rejected,
                "kept": documents - duplicates,
                "duplicates": duplicates,
                "duplicates_of_stored": historical,
                "rejected": rejected,
                "stored_documents": stored,
                "candidate_pairs": against.candidate_pairs,
                "verified_edges": against.verified_edges,
                "stored_sketches_replayed": against.replayed,
                "stored_sketches_stale": against.stale,
                "sketches_read": against.sketches_read,
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
                documents + rejected,
                stored,
                index.display(),
                documents - duplicates,
                duplicates,
                historical,
                rejected,
                seconds
            );
            if against.stale > 0 {
                eprintln!(
                    "  {} stored documents keep a line that is now repeated (their sketches cannot drop it; see README)",
                    against.stale
                );
            }
            eprintln!("  clusters written to {}", args.output.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
