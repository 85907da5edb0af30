//! A persistent index of document sketches and ids (never texts), for incremental runs and CI
//! checks: `copydesk index add` stores batches, `dedup --against` and `check --against` compare
//! new documents with everything stored.
//!
//! # Storage
//! One SQLite database file (plus its `-wal` and `-shm` companions while in use), in WAL mode:
//! any number of processes may read at once, and readers never wait for the writer. There is
//! one writer at a time; a second writer waits up to a short busy timeout and then gets
//! [`Error::Locked`].
//!
//! ```sql
//! CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
//! CREATE TABLE batches (id INTEGER PRIMARY KEY, added_at INTEGER NOT NULL,
//!                       added INTEGER NOT NULL, replaced INTEGER NOT NULL);
//! CREATE TABLE documents (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
//!                         batch INTEGER NOT NULL REFERENCES batches(id), entry BLOB NOT NULL);
//! CREATE TABLE sketches (seq INTEGER PRIMARY KEY, sketch BLOB NOT NULL);
//! CREATE TABLE line_counts (hash INTEGER PRIMARY KEY, documents INTEGER NOT NULL);
//! CREATE TABLE template_counts (key INTEGER PRIMARY KEY, pages INTEGER NOT NULL);
//! CREATE TABLE frequency (part INTEGER PRIMARY KEY, counters BLOB NOT NULL);
//! ```
//! - `meta` holds `format` ([`FORMAT`]), `format_version` ([`FORMAT_VERSION`]), `hash`
//!   ([`HASH`]), `parameters` (the JSON of [`Parameters`]) and `keys_check` (a digest of the
//!   LSH keys of a fixed text, so an index whose keys another build would make differently is
//!   refused rather than silently matching nothing).
//! - `documents` is small per row (an [`Entry`]: what candidate search needs), so a query
//!   reads it whole; `sketches` holds what exact verification needs ([`StoredSketch`]) and is
//!   read only for documents in a candidate pair. `seq` is the insertion order, which is the
//!   order of stored documents for clustering; `--replace` rewrites a document in place and
//!   takes back the line counts the old one added (its short lines from `Entry`, its site line
//!   keys from its sketch).
//! - `line_counts` and `template_counts` are the line statistics of every stored document
//!   ([`LineCounts`]: hashes of short lines with the number of documents holding each, and
//!   per-site line keys with their page counts), so a batch or a query counts its lines on
//!   top of the whole history, exactly as one run over everything would.
//! - `frequency` holds the document-frequency counters ([`DocFrequency`]) of the stored
//!   shingle sets, in parts of [`FREQUENCY_PART`] counters, each a run of varints.
//!
//! Integers in SQLite are signed: 64-bit hashes are stored as their `i64` bit pattern.
//!
//! # Lines that become repeated later
//! A short line found in [`DedupConfig::repeat_min_docs`] documents is dropped before
//! matching. A line seen in 3 stored documents and 2 new ones is dropped from all 5 in one run
//! over everything, but the stored 3 were sketched without knowing that. So every stored
//! sketch keeps, for each short line it still holds (up to [`MAX_CANDIDATES`], the most
//! counted first), how its shingle sequence changes when the line is dropped: the range of
//! shingles that goes and the few new shingles that bridge the gap (hashes, never text). Lines
//! whose ranges overlap (neighbours: a shingle spans both junctions) form a group, which stores
//! the change for every subset of its lines (at most [`MAX_GROUP`] lines, the most counted).
//! Each change is worked out by sketching the text without those lines, and the groups are
//! checked together against the text without all of them. A reader drops the lines that the
//! counts, its batch included, now call repeated, and gets the sketch a run over everything
//! makes. A line beyond those limits is listed as frozen; a stored document with a frozen line
//! that later becomes repeated keeps its old sketch and is counted as stale.
//!
//! # Guarantees
//! - One batch is one transaction: after a crash or a kill the index holds the batch whole or
//!   not at all (SQLite's WAL with `synchronous=FULL`).
//! - Every batch and query must use the parameters the index was built with, compared field by
//!   field; a difference is refused with the name of the parameter.
//! - Adding an id that is already stored is refused, naming the id, unless `replace` is set.
//! - An index of another format version is refused, saying so.
//!
//! # Byte formats (version 3)
//! `varint` is unsigned LEB128; `u64le`/`u32le` are little-endian fixed width.
//!
//! Entry (`documents.entry`):
//! ```text
//! chars        varint        characters of the matching text (for --keep longest)
//! content      u8 + u64le    1 and the content hash of the shingle sequence, or 0 alone
//! keys_len     varint        k, then k u32le: LSH bucket keys (whole-document bands, then
//!                            lede-window bands; none with SimHash or without shingles)
//! simhash      u8 + u64le    1 and the SimHash (with --method simhash), or 0 alone
//! lines_len    varint        l, then l times: u64le line hash, u8 state (0 counted only,
//!                            1 candidate with its change in the sketch, 2 frozen)
//! ```
//! Sketch (`sketches.sketch`), the shingle sequence before any later drop:
//! ```text
//! chars        varint        characters of the matching text
//! set_len      varint        n distinct shingle hashes
//! rice         u8            k, the Rice parameter (only when n > 0)
//! set          bits          n gaps between sorted hashes (the first from 0), each Rice
//!                            coded: quotient gap >> k in unary (ones closed by a zero; 32
//!                            ones mean the gap follows as 64 plain bits), then the low k bits;
//!                            bits fill each byte from its lowest bit, the last byte is padded
//! seq_len      varint        m shingles in text order (with repeats)
//! width        u8            w, bits per position (only when m > 0)
//! sequence     bits          m positions into the set, w bits each, padded to a byte
//! groups       varint        g, then g times:
//!   members    u8            j lines, then j u64le line hashes
//!   changes    2^j - 1 times, for the subsets 1 .. 2^j - 1 (bit i: member i dropped):
//!              varint start, varint removed shingles, varint removed characters,
//!              varint bridge length b, then b u64le bridge hashes
//! templates    varint        t, then t u64le: the page's site line keys, sorted (what
//!                            `template_counts` counted for it; none without a site or
//!                            cleaning), so that `--replace` takes them back (version 3)
//! ```
//! A set of n random 64-bit hashes needs about 64 - log2(n) + 1.4 bits per hash: Rice coding
//! comes within a bit of that, where byte varints take 8 bytes. Every blob must be consumed
//! exactly; anything else is reported as corruption, never a panic.

use crate::boilerplate::TemplateCounts;
use crate::dedup::{
    self, content_hash, CandidateKeys, DedupConfig, DocFrequency, LineCounts, LineStats, Sketch,
};
use crate::error::{Error, Result};
use crate::shingle;
use ahash::AHashMap;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `meta.format` says in every copydesk index.
pub const FORMAT: &str = "copydesk-index";
/// Version of the schema and the byte formats.
pub const FORMAT_VERSION: u32 = 3;
/// The hash every stored shingle and line was made with; another hash makes them incomparable.
pub const HASH: &str = "xxh3-64 seed 0x636f70796465736b";
/// SQLite page size of a new index: sketches of a few KiB stay in their page.
const PAGE_SIZE: i64 = 65536;
/// How long a writer waits for another writer before giving up, unless told otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// Document-frequency counters per row of `frequency`.
pub const FREQUENCY_PART: usize = 1 << 16;
/// Short lines per document whose later drop the sketch can replay.
pub const MAX_CANDIDATES: usize = 12;
/// Lines per group of interacting candidate lines (2^n - 1 stored changes).
pub const MAX_GROUP: usize = 4;

/// Everything that decides what a sketch is and how sketches cluster: fixed when the index is
/// created, compared on every batch and query.
#[derive(Clone, Debug, Serialize)]
pub struct Parameters {
    pub config: DedupConfig,
    /// Boilerplate lines were stripped before sketching.
    pub clean: bool,
}

/// What a batch did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub batch: i64,
    /// Documents new to the index.
    pub added: u64,
    /// Stored documents rewritten (`replace`).
    pub replaced: u64,
    /// Documents stored before the batch whose sketch changed because a line became repeated.
    pub updated: u64,
    /// Documents in the index after the batch.
    pub documents: u64,
}

/// What `index stats` shows.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub documents: u64,
    pub batches: u64,
    /// Stored parameters (None for an index no batch was ever committed to).
    pub parameters: Option<Value>,
    pub format_version: Option<u32>,
    pub hash: Option<String>,
    /// Bytes of the sketches (verification state).
    pub sketch_bytes: u64,
    /// Bytes of the entries (candidate-search state).
    pub entry_bytes: u64,
    /// The database file plus its write-ahead log, as found on disk.
    pub file_bytes: u64,
}

/// How a stored document's short line takes part in later batches (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineState {
    /// Counted in the line statistics; nothing to replay (already dropped, or cleaned away).
    Counted,
    /// Still in the sketch; the sketch stores how to drop it.
    Candidate,
    /// Still in the sketch, and the sketch cannot drop it (over the limits).
    Frozen,
}

/// What candidate search needs of a stored document (`documents.entry`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    /// Characters of the matching text.
    pub chars: usize,
    /// [`content_hash`] of the shingle sequence.
    pub content: Option<u64>,
    /// LSH bucket keys ([`CandidateKeys::keys_of`]).
    pub keys: Vec<u32>,
    pub simhash: Option<u64>,
    /// Distinct hashes of the short lines of the text ([`dedup::line_hash`]), sorted.
    pub lines: Vec<(u64, LineState)>,
}

/// One way of dropping lines from a stored shingle sequence.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Change {
    /// First shingle that goes.
    pub start: usize,
    /// Shingles that go.
    pub removed: usize,
    /// Characters of the matching text that go.
    pub chars: usize,
    /// Shingles that take their place (those spanning the gap).
    pub bridge: Vec<u64>,
}

/// Candidate lines whose drops interact, with a change for every non-empty subset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub lines: Vec<u64>,
    /// `changes[mask - 1]`: bit i of `mask` drops `lines[i]`.
    pub changes: Vec<Change>,
}

/// What exact verification needs of a stored document (`sketches.sketch`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredSketch {
    pub chars: usize,
    /// The shingle sequence as stored (before any later drop).
    pub sequence: Vec<u64>,
    /// Sorted by position; the ranges of different groups never touch.
    pub groups: Vec<Group>,
    /// The page's site line keys that `template_counts` counted for it
    /// ([`TemplateCounts::page_keys`]), so that replacing the page takes them back.
    pub templates: Vec<u64>,
}

impl StoredSketch {
    /// The shingle sequence and character count with every candidate line for which
    /// `dropped` holds taken out.
    pub fn apply(&self, dropped: &dyn Fn(u64) -> bool) -> (Vec<u64>, usize) {
        let mut sequence = self.sequence.clone();
        let mut chars = self.chars;
        // From the last group back, so earlier positions stay valid.
        for group in self.groups.iter().rev() {
            let mask = group
                .lines
                .iter()
                .enumerate()
                .filter(|(_, h)| dropped(**h))
                .fold(0usize, |m, (i, _)| m | 1 << i);
            if mask == 0 {
                continue;
            }
            let Some(change) = group.changes.get(mask - 1) else {
                continue;
            };
            let end = (change.start + change.removed).min(sequence.len());
            let start = change.start.min(end);
            sequence.splice(start..end, change.bridge.iter().copied());
            chars = chars.saturating_sub(change.chars);
        }
        (sequence, chars)
    }

    /// Does any candidate line of this sketch make `dropped` hold?
    pub fn drops_any(&self, dropped: &dyn Fn(u64) -> bool) -> bool {
        self.groups
            .iter()
            .flat_map(|g| &g.lines)
            .any(|h| dropped(*h))
    }

    /// The sketch after the drops `dropped` asks for (see [`StoredSketch::apply`]).
    pub fn sketch(&self, dropped: &dyn Fn(u64) -> bool, config: &DedupConfig) -> Sketch {
        let (sequence, chars) = self.apply(dropped);
        dedup::sketch_sequence(sequence, chars, config)
    }
}

/// Which short lines are repeated under a set of line counts.
pub struct Repeated<'a> {
    counts: &'a LineCounts,
    min_docs: usize,
    lookup: AHashMap<u64, u32>,
}

impl<'a> Repeated<'a> {
    pub fn new(counts: &'a LineCounts, config: &DedupConfig) -> Repeated<'a> {
        Repeated {
            counts,
            min_docs: config.repeat_min_docs,
            lookup: counts.repeated_counts().collect(),
        }
    }

    /// Is the short line with hash `h` dropped before matching?
    pub fn is_repeated(&self, h: u64) -> bool {
        self.min_docs > 0
            && self
                .lookup
                .get(&h)
                .is_some_and(|n| *n as usize >= self.min_docs)
    }

    /// How many documents hold the short line with hash `h`.
    pub fn count(&self, h: u64) -> u32 {
        self.lookup.get(&h).copied().unwrap_or(0)
    }

    /// Is any line repeated at all? (`dedup::matching_text` keeps a text untouched when not.)
    pub fn any(&self) -> bool {
        self.min_docs > 0 && self.lookup.values().any(|n| *n as usize >= self.min_docs)
    }

    pub fn counts(&self) -> &'a LineCounts {
        self.counts
    }
}

/// A document ready to store: its entry, its encoded sketch, and its shingle set (for the
/// document-frequency counters).
pub struct Prepared {
    pub entry: Entry,
    pub sketch: Vec<u8>,
    pub set: Vec<u64>,
}

/// The line statistics a batch is sketched with: the stored counts plus the batch's own.
pub struct LineContext<'a> {
    pub config: &'a DedupConfig,
    pub clean: bool,
    /// Everything [`dedup::matching_text`] needs.
    pub stats: LineStats,
    /// The same, without the repeated-line filter: the cleaned text.
    pub cleaning: LineStats,
    pub repeated: Repeated<'a>,
    pub keys: CandidateKeys,
}

impl<'a> LineContext<'a> {
    pub fn new(counts: &'a LineCounts, config: &'a DedupConfig, clean: bool) -> LineContext<'a> {
        let no_repeats = DedupConfig {
            repeat_min_docs: 0,
            ..config.clone()
        };
        LineContext {
            config,
            clean,
            stats: counts.clone().finish(config, clean),
            cleaning: counts.clone().finish(&no_repeats, clean),
            repeated: Repeated::new(counts, config),
            keys: CandidateKeys::new(config),
        }
    }

    /// The sketch `dedup` makes of a document under these statistics.
    pub fn sketch(&self, text: &str, site: Option<&str>) -> Sketch {
        dedup::sketch(&dedup::matching_text(text, site, &self.stats), self.config)
    }

    /// Everything the index stores of one document (see the module docs).
    pub fn prepare(&self, text: &str, site: Option<&str>) -> Prepared {
        let config = self.config;
        let matching = dedup::matching_text(text, site, &self.stats);
        let sketch = dedup::sketch(&matching, config);
        let max_words = config.repeat_max_words;
        let mut lines: Vec<(u64, LineState)> = if config.repeat_min_docs > 0 {
            dedup::short_lines(text, max_words)
                .into_iter()
                .map(|l| (l.hash, LineState::Counted))
                .collect()
        } else {
            Vec::new()
        };
        lines.sort_unstable_by_key(|l| l.0);
        lines.dedup_by_key(|l| l.0);
        let groups = if config.repeat_min_docs > 0 {
            self.replay(text, site, &sketch.sequence, &mut lines)
        } else {
            Vec::new()
        };
        let templates = match site {
            Some(site) if self.clean => TemplateCounts::page_keys(site, text),
            _ => Vec::new(),
        };
        let stored = StoredSketch {
            chars: sketch.chars,
            sequence: sketch.sequence.clone(),
            groups,
            templates,
        };
        let mut bytes = Vec::new();
        encode_sketch(&stored, &mut bytes);
        let keys = self.keys.keys_of(&sketch);
        let entry = Entry {
            chars: sketch.chars,
            content: content_hash(&sketch.sequence),
            keys: keys.keys().to_vec(),
            simhash: keys.simhash(),
            lines,
        };
        Prepared {
            entry,
            sketch: bytes,
            set: sketch.set,
        }
    }

    /// Work out the changes for dropping each short line the document still holds, mark
    /// those lines in `lines`, and return the groups.
    fn replay(
        &self,
        text: &str,
        site: Option<&str>,
        base: &[u64],
        lines: &mut [(u64, LineState)],
    ) -> Vec<Group> {
        let config = self.config;
        let cleaned = dedup::matching_text(text, site, &self.cleaning);
        let kept: Vec<(&str, Option<u64>)> = crate::boilerplate::lines(&cleaned)
            .map(|l| (l, dedup::line_hash(l, config.repeat_max_words)))
            .filter(|(_, h)| !h.is_some_and(|h| self.repeated.is_repeated(h)))
            .collect();
        let mut candidates: Vec<u64> = Vec::new();
        for (_, h) in &kept {
            if let Some(h) = h {
                if !candidates.contains(h) {
                    candidates.push(*h);
                }
            }
        }
        let mark = |lines: &mut [(u64, LineState)], h: u64, state: LineState| {
            if let Ok(i) = lines.binary_search_by_key(&h, |l| l.0) {
                lines[i].1 = state;
            }
        };
        for h in &candidates {
            mark(lines, *h, LineState::Frozen);
        }
        if candidates.is_empty() {
            return Vec::new();
        }
        let without = |drop: &[u64]| -> (Vec<u64>, usize) {
            let text = kept
                .iter()
                .filter(|(_, h)| !h.is_some_and(|h| drop.contains(&h)))
                .map(|(l, _)| *l)
                .collect::<Vec<_>>()
                .join("\n");
            let mut sequence = Vec::new();
            shingle::text_shingles_into(&text, &config.shingle, &mut sequence);
            (sequence, text.chars().count())
        };
        // The stored sequence must be what the kept lines give, or no change can be replayed.
        let (again, joined_chars) = without(&[]);
        if again != base {
            return Vec::new();
        }
        let change = |drop: &[u64]| -> Change {
            let (other, chars) = without(drop);
            diff(base, &other, joined_chars.saturating_sub(chars))
        };
        // The lines nearest to becoming repeated are the ones worth replaying.
        let by_count = |list: &mut Vec<u64>| {
            list.sort_by_key(|h| (std::cmp::Reverse(self.repeated.count(*h)), *h));
        };
        by_count(&mut candidates);
        candidates.truncate(MAX_CANDIDATES);
        let mut singles: Vec<(u64, Change)> =
            candidates.iter().map(|h| (*h, change(&[*h]))).collect();
        singles.sort_by_key(|(h, c)| (c.start, *h));
        // Lines whose changed ranges overlap interact; ranges that only touch do not (a
        // shingle spans n units, so each drop changes only the shingles that reach into its
        // line, and the check below confirms it).
        let mut clusters: Vec<Vec<(u64, Change)>> = Vec::new();
        let mut end = 0usize;
        for (h, c) in singles {
            let reach = c.start + c.removed.max(1);
            match clusters.last_mut() {
                Some(last) if c.start < end => {
                    last.push((h, c));
                    end = end.max(reach);
                }
                _ => {
                    clusters.push(vec![(h, c)]);
                    end = reach;
                }
            }
        }
        let mut groups = Vec::new();
        for mut members in clusters {
            if members.len() > MAX_GROUP {
                // Replay the most counted lines; the others stay frozen in the text.
                members.sort_by_key(|(h, _)| (std::cmp::Reverse(self.repeated.count(*h)), *h));
                members.truncate(MAX_GROUP);
                members.sort_by_key(|(h, c)| (c.start, *h));
            }
            let hashes: Vec<u64> = members.iter().map(|(h, _)| *h).collect();
            let changes = if members.len() == 1 {
                members.into_iter().map(|(_, c)| c).collect()
            } else {
                (1usize..1 << hashes.len())
                    .map(|mask| {
                        let drop: Vec<u64> = hashes
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| mask & 1 << i != 0)
                            .map(|(_, h)| *h)
                            .collect();
                        change(&drop)
                    })
                    .collect()
            };
            groups.push(Group {
                lines: hashes,
                changes,
            });
        }
        // Groups must keep apart for every subset, and together give what dropping all of
        // their lines at once gives; otherwise nothing is replayed (the lines stay frozen).
        let span = |g: &Group| {
            let start = g.changes.iter().map(|c| c.start).min().unwrap_or(0);
            let end = g
                .changes
                .iter()
                .map(|c| c.start + c.removed.max(1))
                .max()
                .unwrap_or(0);
            (start, end)
        };
        groups.sort_by_key(|g| span(g));
        let apart = groups.windows(2).all(|w| span(&w[0]).1 <= span(&w[1]).0);
        let all: Vec<u64> = groups.iter().flat_map(|g| g.lines.clone()).collect();
        let stored = StoredSketch {
            chars: 0,
            sequence: base.to_vec(),
            groups,
            templates: Vec::new(),
        };
        if !apart || stored.apply(&|h| all.contains(&h)).0 != without(&all).0 {
            return Vec::new();
        }
        for h in &all {
            mark(lines, *h, LineState::Candidate);
        }
        stored.groups
    }
}

/// The change that turns `base` into `other`: the common prefix and suffix stay.
fn diff(base: &[u64], other: &[u64], chars: usize) -> Change {
    let prefix = base.iter().zip(other).take_while(|(a, b)| a == b).count();
    let room = base.len().min(other.len()) - prefix;
    let suffix = base
        .iter()
        .rev()
        .zip(other.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    Change {
        start: prefix,
        removed: base.len() - prefix - suffix,
        chars,
        bridge: other[prefix..other.len() - suffix].to_vec(),
    }
}

/// A digest of the LSH keys of a fixed text: another build that bands or hashes differently
/// makes another digest.
pub fn keys_check(config: &DedupConfig) -> String {
    let text = "copydesk keys check: the central bank raised its main interest rate by half \
        a point on Tuesday, citing inflation that has stayed above its target for a year.";
    let keys = CandidateKeys::new(config).keys_of(&dedup::sketch(text, config));
    let mut bytes = Vec::new();
    for k in keys.keys() {
        bytes.extend_from_slice(&k.to_le_bytes());
    }
    bytes.extend_from_slice(&keys.simhash().unwrap_or(0).to_le_bytes());
    format!("{:016x}", shingle::hash_bytes(&bytes))
}

/// Line counts as stored: short-line hashes and per-site template keys with their counts.
#[derive(Clone, Debug, Default)]
pub struct StoredCounts {
    pub lines: AHashMap<u64, u32>,
    pub templates: AHashMap<u64, u32>,
}

impl StoredCounts {
    /// As [`LineCounts`], plus `other` on top.
    pub fn with(&self, other: &LineCounts) -> LineCounts {
        let mut counts = other.clone();
        for (h, n) in &self.lines {
            counts.add_repeated(*h, *n);
        }
        let templates = counts.templates_mut();
        for (k, n) in &self.templates {
            templates.add_entry(*k, *n);
        }
        counts
    }
}

/// An open index. Readers and the writer are separate processes or connections.
pub struct Index {
    conn: Connection,
    path: PathBuf,
}

/// Read every stored line count.
fn read_counts(conn: &Connection, path: &Path) -> Result<StoredCounts> {
    let err = |e| describe(path, e);
    let mut counts = StoredCounts::default();
    for (table, map) in [
        ("SELECT hash, documents FROM line_counts", &mut counts.lines),
        (
            "SELECT key, pages FROM template_counts",
            &mut counts.templates,
        ),
    ] {
        let mut statement = conn.prepare(table).map_err(err)?;
        let rows = statement
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(err)?;
        for row in rows {
            let (k, n) = row.map_err(err)?;
            map.insert(k as u64, n.clamp(0, u32::MAX as i64) as u32);
        }
    }
    Ok(counts)
}

/// Add the stored document-frequency counters to `df`.
fn read_frequency(conn: &Connection, path: &Path, df: &DocFrequency) -> Result<()> {
    let err = |e| describe(path, e);
    let corrupt = |m: String| {
        Error::Index(format!(
            "{}: corrupt frequency counters: {m}",
            path.display()
        ))
    };
    let mut counters = vec![0u32; df.counters().len()];
    let mut statement = conn
        .prepare("SELECT part, counters FROM frequency")
        .map_err(err)?;
    let rows = statement
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .map_err(err)?;
    for row in rows {
        let (part, blob) = row.map_err(err)?;
        let start = usize::try_from(part)
            .ok()
            .map(|p| p * FREQUENCY_PART)
            .filter(|s| *s < counters.len())
            .ok_or_else(|| corrupt(format!("part {part}")))?;
        let end = (start + FREQUENCY_PART).min(counters.len());
        let slots = &mut counters[start..end];
        let mut c = Cursor { bytes: &blob };
        for slot in slots.iter_mut() {
            *slot = u32::try_from(c.varint().map_err(corrupt)?)
                .map_err(|_| corrupt("counter over 32 bits".into()))?;
        }
        if !c.bytes.is_empty() {
            return Err(corrupt(format!("part {part}: bytes left over")));
        }
    }
    if !df.add_counters(&counters) {
        return Err(corrupt("wrong number of counters".into()));
    }
    Ok(())
}

/// Every stored document in insertion order: `f(seq, id, entry)`.
fn for_each_entry(
    conn: &Connection,
    path: &Path,
    except_batch: i64,
    f: &mut dyn FnMut(i64, String, Entry) -> Result<()>,
) -> Result<()> {
    let err = |e| describe(path, e);
    let mut statement = conn
        .prepare("SELECT seq, id, entry FROM documents WHERE batch != ?1 ORDER BY seq")
        .map_err(err)?;
    let mut rows = statement.query([except_batch]).map_err(err)?;
    while let Some(row) = rows.next().map_err(err)? {
        let seq: i64 = row.get(0).map_err(err)?;
        let id: String = row.get(1).map_err(err)?;
        let blob = row.get_ref(2).map_err(err)?.as_blob().map_err(|e| {
            Error::Index(format!(
                "{}: document {id:?}: entry is not a blob: {e}",
                path.display()
            ))
        })?;
        let entry = decode_entry(blob).map_err(|m| {
            Error::Index(format!(
                "{}: document {id:?}: corrupt entry: {m}",
                path.display()
            ))
        })?;
        f(seq, id, entry)?;
    }
    Ok(())
}

/// The stored sketch of document `seq`.
fn read_sketch(conn: &Connection, path: &Path, seq: i64) -> Result<StoredSketch> {
    let blob: Vec<u8> = conn
        .prepare_cached("SELECT sketch FROM sketches WHERE seq = ?1")
        .and_then(|mut s| s.query_row([seq], |r| r.get(0)))
        .map_err(|e| describe(path, e))?;
    decode_sketch(&blob).map_err(|m| {
        Error::Index(format!(
            "{}: document {seq}: corrupt sketch: {m}",
            path.display()
        ))
    })
}

fn describe(path: &Path, err: rusqlite::Error) -> Error {
    let shown = path.display();
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            Error::Locked(path.to_path_buf())
        }
        Some(ErrorCode::NotADatabase) => Error::Index(format!(
            "{shown}: not a copydesk index (not an SQLite database)"
        )),
        _ => Error::Index(format!("{shown}: {err}")),
    }
}

impl Index {
    /// Open an existing index for reading. Any number of readers may be open at once, also
    /// while a writer is adding a batch (they see the index as before that batch).
    pub fn open(path: &Path) -> Result<Index> {
        if !path.is_file() {
            return Err(Error::Index(format!(
                "{}: no such index (create one with `copydesk index add`)",
                path.display()
            )));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| describe(path, e))?;
        // Readers can meet a short lock while a checkpoint or WAL recovery runs.
        conn.busy_timeout(DEFAULT_LOCK_TIMEOUT)
            .map_err(|e| describe(path, e))?;
        let index = Index {
            conn,
            path: path.to_path_buf(),
        };
        index.check_format()?;
        Ok(index)
    }

    /// Open an index for writing, creating the file when missing. `lock_timeout` is how long
    /// a batch waits for another writer before failing with [`Error::Locked`].
    pub fn open_for_write(path: &Path, lock_timeout: Duration) -> Result<Index> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| describe(path, e))?;
        conn.busy_timeout(lock_timeout)
            .map_err(|e| describe(path, e))?;
        let index = Index {
            conn,
            path: path.to_path_buf(),
        };
        // Before any setting is written: a foreign database is refused untouched.
        index.check_format()?;
        let conn = &index.conn;
        // Large pages keep a whole sketch (a few KiB) in its page instead of spilling it to
        // overflow pages: about 15% smaller files and faster scans. Only takes effect when the
        // file is new.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(|e| index.err(e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| index.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Index(format!(
                "{}: cannot switch to WAL mode (got {mode}); is it on a network file system?",
                path.display()
            )));
        }
        // FULL: a committed batch survives power loss too, at one fsync per batch.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| index.err(e))?;
        Ok(index)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, err: rusqlite::Error) -> Error {
        describe(&self.path, err)
    }

    /// The one integer a parameterless query returns (a count or a sum).
    fn scalar(&self, sql: &str) -> Result<i64> {
        self.conn
            .query_row(sql, [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn has_meta(&self) -> Result<bool> {
        let n = self
            .scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'")?;
        Ok(n > 0)
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        if !self.has_meta()? {
            return Ok(None);
        }
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Refuse a database that is not a copydesk index of this format version. An empty
    /// database (created, but no batch ever committed) is a valid empty index.
    fn check_format(&self) -> Result<()> {
        let shown = self.path.display();
        if !self.has_meta()? {
            let tables = self.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")?;
            if tables > 0 {
                return Err(Error::Index(format!(
                    "{shown}: an SQLite database, but not a copydesk index"
                )));
            }
            return Ok(());
        }
        match self.meta("format")?.as_deref() {
            Some(FORMAT) => {}
            _ => {
                return Err(Error::Index(format!("{shown}: not a copydesk index")));
            }
        }
        let version = self.meta("format_version")?;
        if version.as_deref() != Some(&FORMAT_VERSION.to_string()) {
            return Err(Error::Index(format!(
                "{shown}: index format version {} is not supported (this copydesk reads version {FORMAT_VERSION}); build a new index with `copydesk index add` from the original documents",
                version.unwrap_or_else(|| "missing".into())
            )));
        }
        let hash = self.meta("hash")?;
        if hash.as_deref() != Some(HASH) {
            return Err(Error::Index(format!(
                "{shown}: index was built with hash {:?}, this copydesk uses {HASH:?}",
                hash.unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// The parameters the index was built with (None when nothing was ever committed).
    pub fn parameters(&self) -> Result<Option<Value>> {
        match self.meta("parameters")? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::Index(format!(
                    "{}: stored parameters are not JSON: {e}",
                    self.path.display()
                ))
            }),
        }
    }

    /// Refuse `wanted` unless it equals the stored parameters (an empty index accepts any).
    pub fn check_compatible(&self, wanted: &Parameters) -> Result<()> {
        let Some(stored) = self.parameters()? else {
            return Ok(());
        };
        let value = to_value(wanted)?;
        let mut differences = Vec::new();
        diff_values("", &stored, &value, &mut differences);
        if !differences.is_empty() {
            return Err(Error::Incompatible {
                path: self.path.clone(),
                differences: differences.join(", "),
            });
        }
        let canary = self.meta("keys_check")?;
        if canary.as_deref() != Some(keys_check(&wanted.config).as_str()) {
            return Err(Error::Index(format!(
                "{}: the index's LSH bucket keys were made by another copydesk version; build a new index with `copydesk index add` from the original documents",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Counts, parameters and sizes.
    pub fn stats(&self) -> Result<Stats> {
        let file_bytes = [
            self.path.clone(),
            sibling(&self.path, "-wal"),
            // -shm is shared memory for the lock, not data.
        ]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
        if !self.has_meta()? {
            return Ok(Stats {
                documents: 0,
                batches: 0,
                parameters: None,
                format_version: None,
                hash: None,
                sketch_bytes: 0,
                entry_bytes: 0,
                file_bytes,
            });
        }
        let sketch_bytes = self.scalar("SELECT coalesce(sum(length(sketch)), 0) FROM sketches")?;
        let (documents, entry_bytes): (i64, i64) = self
            .conn
            .query_row(
                "SELECT count(*), coalesce(sum(length(entry)), 0) FROM documents",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        let batches = self.scalar("SELECT count(*) FROM batches")?;
        Ok(Stats {
            documents: documents as u64,
            batches: batches as u64,
            parameters: self.parameters()?,
            format_version: self.meta("format_version")?.and_then(|v| v.parse().ok()),
            hash: self.meta("hash")?,
            sketch_bytes: sketch_bytes as u64,
            entry_bytes: entry_bytes as u64,
            file_bytes,
        })
    }

    /// Read everything from here on from one snapshot: a batch committed meanwhile (say a
    /// `--replace`) is not seen halfway, between the entries and the sketches read later. The
    /// snapshot lasts as long as this `Index`.
    pub fn pin(&self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN DEFERRED; SELECT count(*) FROM sqlite_master;")
            .map_err(|e| self.err(e))
    }

    /// Every stored line count (empty for an index no batch was committed to).
    pub fn counts(&self) -> Result<StoredCounts> {
        if !self.has_meta()? {
            return Ok(StoredCounts::default());
        }
        read_counts(&self.conn, &self.path)
    }

    /// Add the stored document-frequency counters to `df`.
    pub fn frequency_into(&self, df: &DocFrequency) -> Result<()> {
        if !self.has_meta()? {
            return Ok(());
        }
        read_frequency(&self.conn, &self.path, df)
    }

    /// Every stored document in insertion order: `f(seq, id, entry)`.
    pub fn for_each_entry(
        &self,
        f: &mut dyn FnMut(i64, String, Entry) -> Result<()>,
    ) -> Result<()> {
        if !self.has_meta()? {
            return Ok(());
        }
        // Batch numbers start at 1: nothing is left out.
        for_each_entry(&self.conn, &self.path, 0, f)
    }

    /// The stored sketch of document `seq`.
    pub fn sketch(&self, seq: i64) -> Result<StoredSketch> {
        read_sketch(&self.conn, &self.path, seq)
    }

    /// The encoded sketch of document `seq` ([`decode_sketch`] reads it), so callers can
    /// decode many in parallel.
    pub fn sketch_bytes(&self, seq: i64) -> Result<Vec<u8>> {
        self.conn
            .prepare_cached("SELECT sketch FROM sketches WHERE seq = ?1")
            .and_then(|mut s| s.query_row([seq], |r| r.get(0)))
            .map_err(|e| self.err(e))
    }

    /// Start adding one batch: takes the write lock (a second writer fails here, before any
    /// work) and checks the parameters again inside the transaction. Nothing is stored
    /// unless [`Writer::commit`] is reached.
    pub fn begin(
        &mut self,
        parameters: &Parameters,
        replace: bool,
        added_at: i64,
    ) -> Result<Writer<'_>> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| describe(&path, e);
        let wanted = to_value(parameters)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, added_at INTEGER NOT NULL,
                 added INTEGER NOT NULL, replaced INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS documents (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                 batch INTEGER NOT NULL REFERENCES batches(id), entry BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS sketches (seq INTEGER PRIMARY KEY, sketch BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS line_counts (hash INTEGER PRIMARY KEY,
                 documents INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS template_counts (key INTEGER PRIMARY KEY,
                 pages INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS frequency (part INTEGER PRIMARY KEY,
                 counters BLOB NOT NULL);",
        )
        .map_err(err)?;
        let stored: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'parameters'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?;
        match stored {
            // Checked again inside the transaction: another writer may have created the index
            // since this one was opened.
            Some(text) => {
                let stored: Value = serde_json::from_str(&text).map_err(|e| {
                    Error::Index(format!(
                        "{}: stored parameters are not JSON: {e}",
                        path.display()
                    ))
                })?;
                let mut differences = Vec::new();
                diff_values("", &stored, &wanted, &mut differences);
                if !differences.is_empty() {
                    return Err(Error::Incompatible {
                        path: path.clone(),
                        differences: differences.join(", "),
                    });
                }
            }
            None => {
                let mut insert = tx
                    .prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")
                    .map_err(err)?;
                for (key, value) in [
                    ("format", FORMAT.to_string()),
                    ("format_version", FORMAT_VERSION.to_string()),
                    ("hash", HASH.to_string()),
                    ("parameters", wanted.to_string()),
                    ("keys_check", keys_check(&parameters.config)),
                ] {
                    insert.execute(params![key, value]).map_err(err)?;
                }
            }
        }
        tx.execute(
            "INSERT INTO batches (added_at, added, replaced) VALUES (?1, 0, 0)",
            [added_at],
        )
        .map_err(err)?;
        let batch = tx.last_insert_rowid();
        Ok(Writer {
            tx,
            path,
            batch,
            replace,
            added: 0,
            replaced: 0,
            updated: 0,
        })
    }
}

/// One batch being added (one write transaction). Dropped without [`Writer::commit`], it
/// leaves the index as it was.
pub struct Writer<'a> {
    tx: rusqlite::Transaction<'a>,
    path: PathBuf,
    batch: i64,
    replace: bool,
    added: u64,
    replaced: u64,
    updated: u64,
}

/// A stored document found by id.
pub struct Found {
    pub seq: i64,
    pub batch: i64,
    pub entry: Entry,
}

impl Writer<'_> {
    fn err(&self, e: rusqlite::Error) -> Error {
        describe(&self.path, e)
    }

    /// Every stored line count, as of the start of this batch.
    pub fn counts(&self) -> Result<StoredCounts> {
        read_counts(&self.tx, &self.path)
    }

    /// Add the stored document-frequency counters to `df`.
    pub fn frequency_into(&self, df: &DocFrequency) -> Result<()> {
        read_frequency(&self.tx, &self.path, df)
    }

    /// The stored document with this id, if any.
    pub fn find(&self, id: &str) -> Result<Option<Found>> {
        let row: Option<(i64, i64, Vec<u8>)> = self
            .tx
            .prepare_cached("SELECT seq, batch, entry FROM documents WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        let Some((seq, batch, blob)) = row else {
            return Ok(None);
        };
        let entry = decode_entry(&blob).map_err(|m| {
            Error::Index(format!(
                "{}: document {id:?}: corrupt entry: {m}",
                self.path.display()
            ))
        })?;
        Ok(Some(Found { seq, batch, entry }))
    }

    /// Documents stored before this batch and not rewritten by it: `f(seq, id, entry)`.
    pub fn for_each_older_entry(
        &self,
        f: &mut dyn FnMut(i64, String, Entry) -> Result<()>,
    ) -> Result<()> {
        for_each_entry(&self.tx, &self.path, self.batch, f)
    }

    /// The stored sketch of document `seq`.
    pub fn sketch(&self, seq: i64) -> Result<StoredSketch> {
        read_sketch(&self.tx, &self.path, seq)
    }

    /// Store one document of the batch. An id already stored is an error unless `replace`
    /// (then it is rewritten in place, keeping its position); an id twice in the batch is an
    /// error either way.
    pub fn insert(&mut self, id: &str, entry: &Entry, sketch: &[u8]) -> Result<()> {
        let mut bytes = Vec::new();
        encode_entry(entry, &mut bytes);
        let existing: Option<(i64, i64)> = self
            .tx
            .prepare_cached("SELECT seq, batch FROM documents WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(|e| self.err(e))?;
        match existing {
            None => {
                self.tx
                    .prepare_cached("INSERT INTO documents (id, batch, entry) VALUES (?1, ?2, ?3)")
                    .and_then(|mut s| s.execute(params![id, self.batch, bytes]))
                    .map_err(|e| self.err(e))?;
                let seq = self.tx.last_insert_rowid();
                self.tx
                    .prepare_cached("INSERT INTO sketches (seq, sketch) VALUES (?1, ?2)")
                    .and_then(|mut s| s.execute(params![seq, sketch]))
                    .map_err(|e| self.err(e))?;
                self.added += 1;
            }
            Some((_, earlier)) if earlier == self.batch => {
                return Err(Error::Index(format!(
                    "{}: id {id:?} appears twice in the batch",
                    self.path.display()
                )));
            }
            Some((seq, _)) if self.replace => {
                self.tx
                    .prepare_cached("UPDATE documents SET batch = ?2, entry = ?3 WHERE seq = ?1")
                    .and_then(|mut s| s.execute(params![seq, self.batch, bytes]))
                    .map_err(|e| self.err(e))?;
                self.tx
                    .prepare_cached("UPDATE sketches SET sketch = ?2 WHERE seq = ?1")
                    .and_then(|mut s| s.execute(params![seq, sketch]))
                    .map_err(|e| self.err(e))?;
                self.replaced += 1;
            }
            Some((_, earlier)) => {
                return Err(Error::DuplicateId {
                    path: self.path.clone(),
                    id: id.to_string(),
                    batch: earlier,
                });
            }
        }
        Ok(())
    }

    /// Rewrite the entry of a document stored before this batch (its sketch changed because
    /// a line became repeated, or stopped being).
    pub fn update_entry(&mut self, seq: i64, entry: &Entry) -> Result<()> {
        let mut bytes = Vec::new();
        encode_entry(entry, &mut bytes);
        self.tx
            .prepare_cached("UPDATE documents SET entry = ?2 WHERE seq = ?1")
            .and_then(|mut s| s.execute(params![seq, bytes]))
            .map_err(|e| self.err(e))?;
        self.updated += 1;
        Ok(())
    }

    /// Store line counts (the new totals of the keys that changed; 0 deletes) and the whole
    /// document-frequency counters.
    pub fn write_counts(
        &mut self,
        lines: &[(u64, u32)],
        templates: &[(u64, u32)],
        df: &DocFrequency,
    ) -> Result<()> {
        for (table, column, rows) in [
            ("line_counts", "hash", lines),
            ("template_counts", "key", templates),
        ] {
            let count = if table == "line_counts" {
                "documents"
            } else {
                "pages"
            };
            let mut upsert = self
                .tx
                .prepare(&format!(
                    "INSERT INTO {table} ({column}, {count}) VALUES (?1, ?2)
                     ON CONFLICT({column}) DO UPDATE SET {count} = excluded.{count}"
                ))
                .map_err(|e| self.err(e))?;
            let mut delete = self
                .tx
                .prepare(&format!("DELETE FROM {table} WHERE {column} = ?1"))
                .map_err(|e| self.err(e))?;
            for (k, n) in rows {
                if *n == 0 {
                    delete.execute([*k as i64]).map_err(|e| self.err(e))?;
                } else {
                    upsert
                        .execute(params![*k as i64, *n as i64])
                        .map_err(|e| self.err(e))?;
                }
            }
        }
        let counters = df.counters();
        let mut write = self
            .tx
            .prepare("INSERT OR REPLACE INTO frequency (part, counters) VALUES (?1, ?2)")
            .map_err(|e| self.err(e))?;
        let mut bytes = Vec::new();
        for (part, chunk) in counters.chunks(FREQUENCY_PART).enumerate() {
            bytes.clear();
            for c in chunk {
                put_varint(u64::from(*c), &mut bytes);
            }
            write
                .execute(params![part as i64, bytes])
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Commit the batch: from here on readers see it whole.
    pub fn commit(self) -> Result<BatchReport> {
        let err = |e| describe(&self.path, e);
        self.tx
            .execute(
                "UPDATE batches SET added = ?2, replaced = ?3 WHERE id = ?1",
                params![self.batch, self.added as i64, self.replaced as i64],
            )
            .map_err(err)?;
        let documents: i64 = self
            .tx
            .query_row("SELECT count(*) FROM documents", [], |r| r.get(0))
            .map_err(err)?;
        self.tx.commit().map_err(err)?;
        Ok(BatchReport {
            batch: self.batch,
            added: self.added,
            replaced: self.replaced,
            updated: self.updated,
            documents: documents as u64,
        })
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn to_value(parameters: &Parameters) -> Result<Value> {
    serde_json::to_value(parameters)
        .map_err(|e| Error::Index(format!("cannot serialize parameters: {e}")))
}

/// Dotted names of the leaves where `stored` and `wanted` differ, with both values.
fn diff_values(prefix: &str, stored: &Value, wanted: &Value, out: &mut Vec<String>) {
    match (stored, wanted) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff_values(&name, x, y, out),
                    (Some(x), None) => out.push(format!("{name} (index: {x}, this run: absent)")),
                    (None, Some(y)) => out.push(format!("{name} (index: absent, this run: {y})")),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => out.push(format!("{prefix} (index: {a}, this run: {b})")),
        _ => {}
    }
}

fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct Cursor<'a> {
    bytes: &'a [u8],
}

impl Cursor<'_> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .bytes
                .split_first()
                .ok_or_else(|| "truncated varint".to_string())?;
            self.bytes = rest;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err("varint overflows 64 bits".into());
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn length(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        // Every element takes at least one byte: a larger count is corruption, not a reason
        // to allocate.
        if n > self.bytes.len() as u64 {
            return Err(format!("length {n} exceeds the remaining bytes"));
        }
        Ok(n as usize)
    }

    /// A count of elements that take at least `bits` bits each.
    fn length_bits(&mut self, bits: u64) -> Result<usize, String> {
        let n = self.varint()?;
        if n.saturating_mul(bits) > (self.bytes.len() as u64).saturating_mul(8) {
            return Err(format!("length {n} exceeds the remaining bytes"));
        }
        Ok(n as usize)
    }

    /// A position or size, checked by the caller.
    fn length_of(&mut self, what: &str) -> Result<usize, String> {
        usize::try_from(self.varint()?).map_err(|_| format!("{what} too large"))
    }

    /// A varint count `n`, then `n` u64le hashes (`what` names them in the error).
    fn u64s(&mut self, what: &str) -> Result<Vec<u64>, String> {
        let n = self.varint()?;
        if n.saturating_mul(8) > self.bytes.len() as u64 {
            return Err(format!("{what} of {n} exceeds the remaining bytes"));
        }
        (0..n)
            .map(|_| Ok(u64::from_le_bytes(self.take::<8>()?)))
            .collect()
    }

    fn option_u64(&mut self) -> Result<Option<u64>, String> {
        match self.take::<1>()?[0] {
            0 => Ok(None),
            1 => Ok(Some(u64::from_le_bytes(self.take::<8>()?))),
            other => Err(format!("unknown option tag {other}")),
        }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        if self.bytes.len() < N {
            return Err("truncated fixed-width field".into());
        }
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }
}

/// Bits written from the lowest bit of each byte up.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    bits: u64,
    filled: u32,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter {
            out,
            bits: 0,
            filled: 0,
        }
    }

    /// The low `n` bits of `value` (n ≤ 64).
    fn put(&mut self, value: u64, n: u32) {
        if n == 0 {
            return;
        }
        let value = if n == 64 {
            value
        } else {
            value & ((1u64 << n) - 1)
        };
        let room = 64 - self.filled;
        if n < room {
            self.bits |= value << self.filled;
            self.filled += n;
            return;
        }
        // Fill the word, flush it, keep the rest.
        self.bits |= value.checked_shl(self.filled).unwrap_or(0);
        self.out.extend_from_slice(&self.bits.to_le_bytes());
        let rest = n - room;
        self.bits = if rest == 0 { 0 } else { value >> room };
        self.filled = rest;
    }

    fn finish(self) {
        let bytes = self.filled.div_ceil(8) as usize;
        self.out
            .extend_from_slice(&self.bits.to_le_bytes()[..bytes]);
    }
}

/// Bits read from the lowest bit of each byte up, a word at a time.
struct BitReader<'a> {
    bytes: &'a [u8],
    next: usize,
    buffer: u64,
    available: u32,
    used: u64,
}

const TRUNCATED: &str = "truncated bit stream";

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        BitReader {
            bytes,
            next: 0,
            buffer: 0,
            available: 0,
            used: 0,
        }
    }

    fn refill(&mut self) {
        while self.available <= 56 {
            let Some(&byte) = self.bytes.get(self.next) else {
                break;
            };
            self.buffer |= u64::from(byte) << self.available;
            self.next += 1;
            self.available += 8;
        }
    }

    fn consume(&mut self, n: u32) {
        self.buffer = self.buffer.checked_shr(n).unwrap_or(0);
        self.available -= n;
        self.used += u64::from(n);
    }

    /// The next `n` bits (n ≤ 64) as a number.
    fn get(&mut self, n: u32) -> Result<u64, String> {
        if n > 32 {
            let low = self.get(32)?;
            let high = self.get(n - 32)?;
            return Ok(low | high << 32);
        }
        if self.available < n {
            self.refill();
            if self.available < n {
                return Err(TRUNCATED.into());
            }
        }
        let value = self.buffer & (1u64 << n).wrapping_sub(1);
        self.consume(n);
        Ok(value)
    }

    /// The number of one bits before the next zero bit (read too), or `limit` ones (then no
    /// zero is read).
    fn unary(&mut self, limit: u32) -> Result<u32, String> {
        let mut count = 0;
        loop {
            if self.available == 0 {
                self.refill();
                if self.available == 0 {
                    return Err(TRUNCATED.into());
                }
            }
            // Bits past `available` are zero, so the run never reaches beyond them.
            let ones = self.buffer.trailing_ones().min(limit - count);
            self.consume(ones);
            count += ones;
            if count == limit {
                return Ok(count);
            }
            if self.available > 0 {
                self.consume(1);
                return Ok(count);
            }
        }
    }

    /// Bytes taken, the last one padded.
    fn bytes_used(&self) -> usize {
        self.used.div_ceil(8) as usize
    }
}

/// Unary quotients this long or longer escape to a plain 64-bit gap.
const RICE_ESCAPE: u32 = 32;

/// Bits needed to tell `n` values apart (0 for n ≤ 1).
fn width_for(n: usize) -> u32 {
    usize::BITS - n.saturating_sub(1).leading_zeros()
}

fn put_option(value: Option<u64>, out: &mut Vec<u8>) {
    match value {
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&v.to_le_bytes());
        }
        None => out.push(0),
    }
}

/// Append the byte form of an entry (format in the module docs) to `out`.
pub fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    // Destructured without `..`: a new field fails to compile here until the format has it.
    let Entry {
        chars,
        content,
        keys,
        simhash,
        lines,
    } = entry;
    put_varint(*chars as u64, out);
    put_option(*content, out);
    put_varint(keys.len() as u64, out);
    for k in keys {
        out.extend_from_slice(&k.to_le_bytes());
    }
    put_option(*simhash, out);
    put_varint(lines.len() as u64, out);
    for (h, state) in lines {
        out.extend_from_slice(&h.to_le_bytes());
        out.push(match state {
            LineState::Counted => 0,
            LineState::Candidate => 1,
            LineState::Frozen => 2,
        });
    }
}

/// Read an entry written by the index; the message says what is wrong with it.
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, String> {
    let mut c = Cursor { bytes };
    let chars = usize::try_from(c.varint()?).map_err(|_| "character count too large")?;
    let content = c.option_u64()?;
    let k = c.varint()?;
    if k.saturating_mul(4) > c.bytes.len() as u64 {
        return Err(format!("{k} keys exceed the remaining bytes"));
    }
    let mut keys = Vec::with_capacity(k as usize);
    for _ in 0..k {
        keys.push(u32::from_le_bytes(c.take::<4>()?));
    }
    let simhash = c.option_u64()?;
    let l = c.varint()?;
    if l.saturating_mul(9) > c.bytes.len() as u64 {
        return Err(format!("{l} lines exceed the remaining bytes"));
    }
    let mut lines = Vec::with_capacity(l as usize);
    for _ in 0..l {
        let h = u64::from_le_bytes(c.take::<8>()?);
        let state = match c.take::<1>()?[0] {
            0 => LineState::Counted,
            1 => LineState::Candidate,
            2 => LineState::Frozen,
            other => return Err(format!("unknown line state {other}")),
        };
        lines.push((h, state));
    }
    if !c.bytes.is_empty() {
        return Err(format!("{} bytes left over", c.bytes.len()));
    }
    Ok(Entry {
        chars,
        content,
        keys,
        simhash,
        lines,
    })
}

/// Append the byte form of a stored sketch (format in the module docs) to `out`.
pub fn encode_sketch(sketch: &StoredSketch, out: &mut Vec<u8>) {
    let StoredSketch {
        chars,
        sequence,
        groups,
        templates,
    } = sketch;
    put_varint(*chars as u64, out);
    let set = shingle::to_set(sequence.clone());
    put_varint(set.len() as u64, out);
    if let Some(&last) = set.last() {
        // Gaps average last / n: that many low bits go plain, the rest in unary.
        let mean = last / set.len() as u64;
        let k = 63u32.saturating_sub(mean.max(1).leading_zeros());
        out.push(k as u8);
        let mut bits = BitWriter::new(out);
        let mut previous = 0u64;
        for &h in &set {
            let gap = h - previous;
            previous = h;
            let quotient = gap >> k;
            if quotient >= u64::from(RICE_ESCAPE) {
                bits.put(u64::MAX, RICE_ESCAPE);
                bits.put(gap, 64);
            } else {
                bits.put((1u64 << quotient) - 1, quotient as u32);
                bits.put(0, 1);
                bits.put(gap, k);
            }
        }
        bits.finish();
    }
    put_varint(sequence.len() as u64, out);
    if !sequence.is_empty() {
        let width = width_for(set.len());
        out.push(width as u8);
        let mut bits = BitWriter::new(out);
        for h in sequence {
            // `set` is the sequence sorted and deduplicated: every shingle is found.
            let position = set.binary_search(h).unwrap_or_default();
            bits.put(position as u64, width);
        }
        bits.finish();
    }
    put_varint(groups.len() as u64, out);
    for group in groups {
        out.push(group.lines.len() as u8);
        for h in &group.lines {
            out.extend_from_slice(&h.to_le_bytes());
        }
        for change in &group.changes {
            put_varint(change.start as u64, out);
            put_varint(change.removed as u64, out);
            put_varint(change.chars as u64, out);
            put_u64s(&change.bridge, out);
        }
    }
    put_u64s(templates, out);
}

/// A varint count, then the hashes as u64le (read by `Cursor::u64s`).
fn put_u64s(hashes: &[u64], out: &mut Vec<u8>) {
    put_varint(hashes.len() as u64, out);
    for h in hashes {
        out.extend_from_slice(&h.to_le_bytes());
    }
}

/// Read a sketch written by [`encode_sketch`]; the message says what is wrong with it.
pub fn decode_sketch(bytes: &[u8]) -> Result<StoredSketch, String> {
    decode_sketch_and_set(bytes).map(|(sketch, _)| sketch)
}

/// [`decode_sketch`], also giving the stored sequence's set (sorted, distinct), which the
/// format holds anyway.
pub fn decode_sketch_and_set(bytes: &[u8]) -> Result<(StoredSketch, Vec<u64>), String> {
    let mut c = Cursor { bytes };
    let chars = usize::try_from(c.varint()?).map_err(|_| "character count too large")?;
    let n = c.length_bits(1)?;
    let mut set = Vec::with_capacity(n);
    if n > 0 {
        let k = u32::from(c.take::<1>()?[0]);
        if k > 63 {
            return Err(format!("Rice parameter {k} over 63"));
        }
        let mut bits = BitReader::new(c.bytes);
        let mut previous = 0u64;
        for i in 0..n {
            let quotient = bits.unary(RICE_ESCAPE)?;
            let gap = if quotient == RICE_ESCAPE {
                bits.get(64)?
            } else {
                (u64::from(quotient) << k) | bits.get(k)?
            };
            let h = previous
                .checked_add(gap)
                .ok_or_else(|| "shingle hash overflows 64 bits".to_string())?;
            if i > 0 && gap == 0 {
                return Err("shingle set is not strictly increasing".into());
            }
            set.push(h);
            previous = h;
        }
        c.bytes = &c.bytes[bits.bytes_used()..];
    }
    let m = c.length_bits(1)?;
    let mut sequence = Vec::with_capacity(m);
    if m > 0 {
        let width = u32::from(c.take::<1>()?[0]);
        if width != width_for(n) {
            return Err(format!("position width {width} does not fit a set of {n}"));
        }
        let mut bits = BitReader::new(c.bytes);
        for _ in 0..m {
            let position = bits.get(width)?;
            let h = usize::try_from(position)
                .ok()
                .and_then(|p| set.get(p))
                .ok_or_else(|| format!("sequence position {position} outside the set of {n}"))?;
            sequence.push(*h);
        }
        c.bytes = &c.bytes[bits.bytes_used()..];
    } else if n > 0 {
        return Err("a shingle set without a sequence".into());
    }
    let g = c.length()?;
    let mut groups = Vec::with_capacity(g);
    for _ in 0..g {
        let j = usize::from(c.take::<1>()?[0]);
        if j == 0 || j > MAX_GROUP {
            return Err(format!("a group of {j} lines"));
        }
        let mut lines = Vec::with_capacity(j);
        for _ in 0..j {
            lines.push(u64::from_le_bytes(c.take::<8>()?));
        }
        let mut changes = Vec::with_capacity((1 << j) - 1);
        for _ in 1..1usize << j {
            let start = c.length_of("start")?;
            let removed = c.length_of("removed")?;
            if start.saturating_add(removed) > m {
                return Err(format!(
                    "change {start}+{removed} outside a sequence of {m}"
                ));
            }
            let chars = usize::try_from(c.varint()?).map_err(|_| "character count too large")?;
            let bridge = c.u64s("bridge")?;
            changes.push(Change {
                start,
                removed,
                chars,
                bridge,
            });
        }
        groups.push(Group { lines, changes });
    }
    let templates = c.u64s("template key list")?;
    if !c.bytes.is_empty() {
        return Err(format!("{} bytes left over", c.bytes.len()));
    }
    Ok((
        StoredSketch {
            chars,
            sequence,
            groups,
            templates,
        },
        set,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::Method;

    const TEXT: &str =
        "The central bank raised its main interest rate by half a point on Tuesday, \
        the third increase this year, citing inflation that has stayed above its target. \
        The bank said the bank would watch the bank's own forecasts.";

    fn roundtrip(sketch: &StoredSketch) -> StoredSketch {
        let mut bytes = Vec::new();
        encode_sketch(sketch, &mut bytes);
        match decode_sketch(&bytes) {
            Ok(s) => s,
            Err(message) => panic!("decode failed: {message}"),
        }
    }

    fn stored(text: &str, config: &DedupConfig) -> StoredSketch {
        let s = dedup::sketch(text, config);
        StoredSketch {
            chars: s.chars,
            sequence: s.sequence,
            groups: Vec::new(),
            templates: Vec::new(),
        }
    }

    #[test]
    fn sketches_roundtrip() {
        let mut config = DedupConfig::default();
        let s = stored(TEXT, &config);
        assert_eq!(s, roundtrip(&s));
        config.method = Method::Simhash;
        config.shingle.unit = shingle::Unit::Word;
        let s = stored(TEXT, &config);
        assert_eq!(s, roundtrip(&s));
        let empty = stored("", &config);
        assert_eq!(empty, roundtrip(&empty));
    }

    #[test]
    fn extreme_values_roundtrip() {
        let s = StoredSketch {
            chars: 12,
            sequence: vec![u64::MAX, 0, u64::MAX, 1, 1 << 40],
            groups: vec![Group {
                lines: vec![9, u64::MAX],
                changes: vec![
                    Change {
                        start: 1,
                        removed: 2,
                        chars: 3,
                        bridge: vec![u64::MAX],
                    },
                    Change::default(),
                    Change {
                        start: 0,
                        removed: 5,
                        chars: 12,
                        bridge: vec![],
                    },
                ],
            }],
            templates: vec![0, 7, u64::MAX],
        };
        assert_eq!(s, roundtrip(&s));
        let one = StoredSketch {
            chars: 1,
            sequence: vec![3],
            groups: vec![],
            templates: vec![],
        };
        assert_eq!(one, roundtrip(&one));
        let entry = Entry {
            chars: 300,
            content: Some(u64::MAX),
            keys: vec![0, u32::MAX, 7],
            simhash: None,
            lines: vec![
                (1, LineState::Counted),
                (2, LineState::Candidate),
                (3, LineState::Frozen),
            ],
        };
        let mut bytes = Vec::new();
        encode_entry(&entry, &mut bytes);
        assert_eq!(decode_entry(&bytes), Ok(entry));
    }

    #[test]
    fn known_bytes() {
        let s = StoredSketch {
            chars: 3,
            sequence: vec![300, 5, 300],
            groups: vec![],
            templates: vec![0x0102],
        };
        let mut bytes = Vec::new();
        encode_sketch(&s, &mut bytes);
        // Set {5, 300}: mean gap 150, so k = 7. Gap 5: quotient 0 ("0"), low bits 5. Gap 295:
        // quotient 2 ("110"), low bits 39. Bits fill each byte from its lowest bit.
        let expected = [
            3, // chars
            2,
            7, // set length, Rice parameter
            0b0000_1010,
            0b0011_1011,
            0b0000_0001, // the two gaps, 18 bits
            3,
            1,
            0b101, // sequence length, 1 bit per position, positions 1 0 1
            0,     // no groups
            1,
            2,
            1,
            0,
            0,
            0,
            0,
            0,
            0, // one template key, u64le 0x0102
        ];
        assert_eq!(bytes, expected);
        assert_eq!(
            decode_sketch(&bytes).map(|d| d.sequence),
            Ok(vec![300, 5, 300])
        );
    }

    #[test]
    fn corrupt_bytes_are_errors_not_panics() {
        let config = DedupConfig::default();
        let mut s = stored(TEXT, &config);
        s.groups.push(Group {
            lines: vec![1],
            changes: vec![Change {
                start: 2,
                removed: 3,
                chars: 10,
                bridge: vec![5, 6],
            }],
        });
        let mut bytes = Vec::new();
        encode_sketch(&s, &mut bytes);
        for cut in 0..bytes.len() {
            assert!(decode_sketch(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_sketch(&longer).is_err());
        assert!(decode_sketch(&[0xff; 16]).is_err());
        assert!(decode_entry(&[0xff; 16]).is_err());
    }

    #[test]
    fn rice_coding_is_compact() {
        let s = stored(&TEXT.repeat(20), &DedupConfig::default());
        let n = shingle::to_set(s.sequence.clone()).len();
        let mut bytes = Vec::new();
        encode_sketch(&s, &mut bytes);
        // About 64 - log2(n) + 2 bits per hash, plus the positions.
        let positions = (s.sequence.len() * width_for(n) as usize).div_ceil(8);
        let per_hash = (bytes.len() - positions) as f64 * 8.0 / n as f64;
        assert!(
            per_hash < 64.0 - (n as f64).log2() + 3.0,
            "{per_hash} bits per hash"
        );
    }

    /// The sketch a whole-corpus run makes of `text` when `repeated` lines are dropped.
    fn expected(text: &str, repeated: &[&str], config: &DedupConfig) -> Sketch {
        let kept: Vec<&str> = text.lines().filter(|l| !repeated.contains(l)).collect();
        dedup::sketch(&kept.join("\n"), config)
    }

    #[test]
    fn dropping_a_line_later_gives_the_sketch_of_one_run() {
        let text = "Bank Raises Rates Again\nBy Staff Writer\n\nThe central bank raised its main interest rate by half a point on Tuesday, the third increase this year.\nShare this story\nOfficials said that any further moves would depend on wage growth and energy prices over the coming winter.\nRead more\nMarkets had expected a smaller step, and the currency rose sharply after the announcement in the morning.";
        for unit in [shingle::Unit::Char, shingle::Unit::Word] {
            let mut config = DedupConfig::default();
            config.shingle.unit = unit;
            config.shingle.ngram = if unit == shingle::Unit::Char { 6 } else { 3 };
            let counts = LineCounts::default();
            let context = LineContext::new(&counts, &config, false);
            let prepared = context.prepare(text, None);
            let sketch = decode_sketch(&prepared.sketch).expect("decodes");
            let lines = [
                "Bank Raises Rates Again",
                "By Staff Writer",
                "Share this story",
                "Read more",
            ];
            let hash = |l: &str| dedup::line_hash(l, config.repeat_max_words).expect("short line");
            assert!(
                prepared
                    .entry
                    .lines
                    .iter()
                    .all(|(_, s)| *s == LineState::Candidate),
                "{:?}",
                prepared.entry.lines
            );
            for mask in 0..1usize << lines.len() {
                let dropped: Vec<&str> = lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & 1 << i != 0)
                    .map(|(_, l)| *l)
                    .collect();
                let hashes: Vec<u64> = dropped.iter().map(|l| hash(l)).collect();
                let got = sketch.sketch(&|h| hashes.contains(&h), &config);
                let want = expected(text, &dropped, &config);
                assert_eq!(got.sequence, want.sequence, "{unit:?} {dropped:?}");
                assert_eq!(got.signature, want.signature);
                assert_eq!(got.lede_signature, want.lede_signature);
                if mask != 0 {
                    assert_eq!(got.chars, want.chars, "{unit:?} {dropped:?}");
                }
            }
        }
    }

    #[test]
    fn differences_are_named() {
        let a = serde_json::json!({"config": {"shingle": {"ngram": 3}, "threshold": 0.5}, "clean": true});
        let b = serde_json::json!({"config": {"shingle": {"ngram": 5}, "threshold": 0.5}, "clean": true, "x": 1});
        let mut out = Vec::new();
        diff_values("", &a, &b, &mut out);
        assert_eq!(
            out,
            vec![
                "config.shingle.ngram (index: 3, this run: 5)".to_string(),
                "x (index: absent, this run: 1)".to_string()
            ]
        );
    }
}
