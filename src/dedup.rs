//! Near-duplicate clustering: sketch every document, find candidate pairs, verify each one
//! exactly, join the verified pairs with union-find.
//!
//! Candidates come from two LSH indexes over MinHash signatures:
//! - the whole document at the Jaccard threshold (copies of about the same length);
//! - the document's *lede window*, its first `lede_shingles` shingles, at a lower threshold,
//!   so that a truncated or lede-only reprint meets its long original even though their
//!   Jaccard similarity is small (a reprint is cut from the end, never from the start).
//!
//! Every candidate is verified on the exact shingle sets. An edge needs `min_shared`
//! shared shingles, and either Jaccard ≥ threshold, or (with containment) containment ≥
//! threshold *and* the shared text starting at the same place in both documents. The last
//! rule is what tells a truncated reprint (its text is the long document's beginning) from
//! an article that quotes a statement (the quote sits somewhere inside the host).
//!
//! The result depends only on the documents and the config: candidate pairs are sorted,
//! verification is a pure function of a pair, and union-find roots are smallest indices.

use crate::boilerplate::TemplateCounts;
use crate::boilerplate::{self, CleanConfig};
use crate::cluster::{self, Keep, UnionFind};
use crate::doc::Doc;
pub use crate::frequency::{DocFrequency, Over};
use crate::lsh::{self, Bands};
use crate::minhash::{self, Signature};
use crate::normalize::normalize;
use crate::shingle::{self, ShingleConfig, Unit};
use crate::simhash;
use crate::verify::{self, Similarity};
use ahash::{AHashMap, AHashSet};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Which sketch finds candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// MinHash with LSH banding (plus the lede-window index for truncated copies).
    Minhash,
    /// 64-bit SimHash with permuted block tables (Hamming distance ≤ `simhash_distance`).
    Simhash,
}

/// Every setting of a dedup run; printed in the summary so a run can be reproduced.
#[derive(Clone, Debug, Serialize)]
pub struct DedupConfig {
    pub method: Method,
    pub shingle: ShingleConfig,
    pub num_perm: usize,
    pub threshold: f64,
    pub similarity: Similarity,
    pub keep: Keep,
    /// An edge needs at least this many shared shingles (guards short texts and chaining).
    pub min_shared: usize,
    /// Size of the lede window, in shingles; 0 turns the lede index off.
    pub lede_shingles: usize,
    /// LSH threshold of the lede-window index ([`DedupConfig::lede_threshold_for`] gives
    /// the default for a similarity).
    pub lede_threshold: f64,
    /// With SimHash: the largest Hamming distance that makes a candidate.
    pub simhash_distance: u32,
    /// Jaccard at or above which a pair is an edge without the alignment rule.
    pub jaccard_threshold: f64,
    /// Shingles found in more than this share of documents are stock phrases, not evidence.
    pub max_df_share: f64,
    /// ... but never below this many documents.
    pub min_df_cap: usize,
    /// A short line (fewer than `repeat_max_words` words, no digits) found in at least this many
    /// documents is furniture for matching, whatever site it came from; 0 turns it off.
    pub repeat_min_docs: usize,
    pub repeat_max_words: usize,
    /// Candidate pairs held at once. A corpus with more (millions of near-identical tiny
    /// documents) is verified in rounds that skip pairs already joined: the same clusters,
    /// in bounded memory (8 bytes a pair, about twice over while verifying). Resource
    /// settings like this one never change the outcome, so they are not printed.
    #[serde(skip)]
    pub pair_budget: usize,
    /// Bytes of LSH band keys held in memory; more go to a temporary file in `spill_dir`.
    #[serde(skip)]
    pub key_memory: usize,
    /// Where band keys past `key_memory` go (None: they all stay in memory).
    #[serde(skip)]
    pub spill_dir: Option<std::path::PathBuf>,
    /// Bytes of shingle sets held for verification (an estimate from document lengths); when
    /// the documents in candidate pairs need more, the corpus is read once per window of them.
    #[serde(skip)]
    pub state_budget: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            method: Method::Minhash,
            shingle: ShingleConfig {
                unit: Unit::Char,
                ngram: 6,
                ocr_fold: true,
            },
            num_perm: 128,
            threshold: 0.5,
            similarity: Similarity::Containment,
            keep: Keep::First,
            min_shared: 5,
            lede_shingles: 200,
            lede_threshold: 0.3,
            simhash_distance: 6,
            jaccard_threshold: 0.4,
            max_df_share: 0.01,
            min_df_cap: 50,
            repeat_min_docs: 5,
            repeat_max_words: 16,
            pair_budget: 1 << 24,
            key_memory: 256 << 20,
            spill_dir: None,
            state_budget: 1 << 30,
        }
    }
}

impl DedupConfig {
    /// Check the settings once; everything after trusts them.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::Config(m));
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return bad(format!(
                "threshold must be in (0, 1], got {}",
                self.threshold
            ));
        }
        if !(self.lede_threshold > 0.0 && self.lede_threshold <= 1.0) {
            return bad(format!(
                "lede threshold must be in (0, 1], got {}",
                self.lede_threshold
            ));
        }
        if self.num_perm < 8 || self.num_perm > 1024 {
            return bad(format!("num-perm must be 8..=1024, got {}", self.num_perm));
        }
        if self.shingle.ngram == 0 || self.shingle.ngram > 32 {
            return bad(format!("ngram must be 1..=32, got {}", self.shingle.ngram));
        }
        if !(0.0..=1.0).contains(&self.jaccard_threshold) {
            return bad(format!(
                "jaccard threshold must be in [0, 1], got {}",
                self.jaccard_threshold
            ));
        }
        if !(0.0..=1.0).contains(&self.max_df_share) {
            return bad(format!(
                "max df share must be in [0, 1], got {}",
                self.max_df_share
            ));
        }
        if self.simhash_distance > 16 {
            return bad(format!(
                "simhash distance must be 0..=16, got {}",
                self.simhash_distance
            ));
        }
        Ok(())
    }

    /// Bands × rows of the whole-document index. Under Jaccard the threshold is the rule, so
    /// the bands find 99 % of the pairs at it ([`lsh::recall_bands`]); datasketch's banding
    /// finds 40 % at 0.8, and a lede index at a low threshold had to make up for it with
    /// many false candidates. Under containment the whole-document index is only a proxy
    /// (the lede index finds truncated copies), and it keeps datasketch's banding: recall
    /// banding there tripled the candidate pairs on the 200k perf corpus.
    pub fn bands(&self) -> Bands {
        match self.similarity {
            Similarity::Jaccard => lsh::recall_bands(self.threshold, self.num_perm, BAND_RECALL),
            Similarity::Containment => lsh::optimal_bands(self.threshold, self.num_perm),
        }
    }

    /// The default lede-window threshold: under containment, low enough for a lede-only
    /// reprint to meet its story; under Jaccard, half the threshold: a pair that meets the
    /// threshold shares most of its lede too, and the window only catches pairs whose
    /// whole-document signatures disagree more than their verified sets do (stock phrases
    /// count in signatures, not in verification).
    pub fn lede_threshold_for(similarity: Similarity, threshold: f64) -> f64 {
        match similarity {
            Similarity::Containment => DedupConfig::default().lede_threshold,
            Similarity::Jaccard => threshold / 2.0,
        }
    }

    /// The lede-window index runs with MinHash whenever the window is on. Under Jaccard it
    /// still pays: it finds the pairs whose verified sets meet the threshold while their
    /// whole-document signatures do not.
    pub fn uses_lede_index(&self) -> bool {
        self.method == Method::Minhash && self.lede_shingles > 0
    }

    /// The [`short_lines`] the repeated-line filter looks at (none when it is off).
    pub fn short_lines(&self, text: &str) -> Vec<ShortLine> {
        if self.repeat_min_docs == 0 {
            return Vec::new();
        }
        short_lines(text, self.repeat_max_words)
    }

    /// Bands × rows of the lede-window index.
    pub fn lede_bands(&self) -> Bands {
        lsh::optimal_bands(self.lede_threshold, LEDE_PERM)
    }
}

/// Lines counted over a whole corpus before any document is matched: each site's lines (for
/// template removal, when cleaning) and short lines without digits (repeated furniture, see
/// [`DedupConfig::repeat_min_docs`]). Counted on the raw text, so one pass suffices.
#[derive(Clone, Debug, Default)]
pub struct LineCounts {
    templates: TemplateCounts,
    repeated: AHashMap<u64, u32>,
}

impl LineCounts {
    /// Count the lines of one document.
    pub fn observe(&mut self, text: &str, site: Option<&str>, config: &DedupConfig, clean: bool) {
        let short = config.short_lines(text);
        self.observe_with(text, site, &short, clean);
    }

    /// Count the lines of one document whose [`short_lines`] are known.
    fn observe_with(&mut self, text: &str, site: Option<&str>, short: &[ShortLine], clean: bool) {
        if clean {
            self.templates.observe(site, text);
        }
        self.count_short(short);
    }

    /// Count the distinct short lines of one document.
    fn count_short(&mut self, short: &[ShortLine]) {
        let mut seen: Vec<u64> = short.iter().map(|l| l.hash).collect();
        seen.sort_unstable();
        seen.dedup();
        for h in seen {
            *self.repeated.entry(h).or_insert(0) += 1;
        }
    }

    /// The repeated-line counts: line hash ([`line_hash`]) and the documents holding it.
    pub fn repeated_counts(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.repeated.iter().map(|(h, n)| (*h, *n))
    }

    /// Add `documents` to the count of line hash `h` (counts kept elsewhere, e.g. an index).
    pub fn add_repeated(&mut self, h: u64, documents: u32) {
        let n = self.repeated.entry(h).or_insert(0);
        *n = n.saturating_add(documents);
    }

    /// The per-site template line counts.
    pub fn templates(&self) -> &TemplateCounts {
        &self.templates
    }

    /// The per-site template line counts, to add counts kept elsewhere.
    pub fn templates_mut(&mut self) -> &mut TemplateCounts {
        &mut self.templates
    }

    /// Count a batch of documents in parallel.
    pub fn observe_docs(&mut self, docs: &[Doc], config: &DedupConfig, clean: bool) {
        let short: Vec<Vec<ShortLine>> = docs
            .par_iter()
            .map(|d| config.short_lines(&d.text))
            .collect();
        self.observe_docs_with(docs, &short, clean);
    }

    /// Count a batch of documents whose [`short_lines`] are known (`short[i]` are those of
    /// `docs[i]`), for a caller that keeps them until it matches the documents
    /// ([`dropped_lines_given`]).
    ///
    /// Only site templates, which hash every line of a page, are counted in parallel: a
    /// document has about two short lines, and counting them into per-thread maps to merge
    /// took longer than counting them here.
    pub fn observe_docs_with(&mut self, docs: &[Doc], short: &[Vec<ShortLine>], clean: bool) {
        if clean && docs.iter().any(|d| d.site.is_some()) {
            self.templates.merge(TemplateCounts::from_docs(docs));
        }
        for doc_short in short {
            self.count_short(doc_short);
        }
    }

    /// The statistics matching needs: template counts (when cleaning) and the repeated lines.
    pub fn finish(self, config: &DedupConfig, clean: bool) -> LineStats {
        let repeated = self
            .repeated
            .into_iter()
            .filter(|(_, n)| config.repeat_min_docs > 0 && *n as usize >= config.repeat_min_docs)
            .map(|(h, _)| h)
            .collect();
        LineStats {
            templates: clean.then_some(self.templates),
            repeated,
            max_words: config.repeat_max_words,
        }
    }
}

/// What the first pass learned about lines (see [`LineCounts`]).
#[derive(Clone, Debug, Default)]
pub struct LineStats {
    /// `Some` when cleaning: the per-site line counts the classifier uses.
    templates: Option<TemplateCounts>,
    repeated: AHashSet<u64>,
    max_words: usize,
}

impl LineStats {
    /// Count the lines of documents held in memory.
    pub fn of_docs(docs: &[Doc], config: &DedupConfig, clean: bool) -> LineStats {
        let mut counts = LineCounts::default();
        counts.observe_docs(docs, config, clean);
        counts.finish(config, clean)
    }
}

impl LineStats {
    /// Numbers (from 1) of the lines of `text` that matching drops as repeated.
    pub fn repeated_lines(&self, text: &str) -> Vec<usize> {
        if self.repeated.is_empty() {
            return Vec::new();
        }
        self.repeated_among(&short_lines(text, self.max_words))
            .into_iter()
            .map(|i| i as usize + 1)
            .collect()
    }

    /// The lines among `short` that the repeated-line filter drops (0-based, ascending).
    pub fn repeated_among(&self, short: &[ShortLine]) -> Vec<u32> {
        short
            .iter()
            .filter(|l| self.repeated.contains(&l.hash))
            .map(|l| l.line)
            .collect()
    }
}

/// A line the repeated-line filter could drop: short, without digits ([`line_hash`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortLine {
    /// 0-based, as [`str::lines`] numbers the lines.
    pub line: u32,
    pub hash: u64,
}

/// Each line of `text` that [`line_hash`] hashes, in order.
pub fn short_lines(text: &str, max_words: usize) -> Vec<ShortLine> {
    crate::boilerplate::lines(text)
        .enumerate()
        .filter_map(|(i, l)| {
            line_hash(l, max_words).map(|hash| ShortLine {
                line: i as u32,
                hash,
            })
        })
        .collect()
}

/// The text a document is matched on: with cleaning, without the boilerplate lines matching
/// ignores ([`boilerplate::matching_text`]); then without the short lines repeated across
/// many documents. Long repeated lines are kept: that is how wire copy looks.
pub fn matching_text(text: &str, site: Option<&str>, stats: &LineStats) -> String {
    without_lines(text, &dropped_lines(text, site, stats)).into_owned()
}

/// The lines (0-based, ascending) that [`matching_text`] leaves out of `text`.
pub fn dropped_lines(text: &str, site: Option<&str>, stats: &LineStats) -> Vec<u32> {
    let repeated = if stats.repeated.is_empty() {
        Vec::new()
    } else {
        stats.repeated_among(&short_lines(text, stats.max_words))
    };
    dropped_lines_given(text, site, stats, &repeated)
}

/// [`dropped_lines`] when the text's repeated lines are known (0-based, ascending:
/// [`LineStats::repeated_among`] its [`short_lines`]), so its lines are not hashed again.
pub fn dropped_lines_given(
    text: &str,
    site: Option<&str>,
    stats: &LineStats,
    repeated: &[u32],
) -> Vec<u32> {
    let boilerplate = match &stats.templates {
        Some(templates) => boilerplate_lines(text, site, Some(templates)),
        None => Vec::new(),
    };
    merge_lines(boilerplate, repeated)
}

/// The lines (0-based, ascending) that cleaning takes out of a page for matching: those the
/// classifier removes on the line's own evidence. Site templates count only on a page with a
/// site, so a page without one can be classified before the corpus is counted (`templates`
/// None: the same lines, a unit test holds it).
pub fn boilerplate_lines(
    text: &str,
    site: Option<&str>,
    templates: Option<&TemplateCounts>,
) -> Vec<u32> {
    boilerplate::removed_lines(text, site, templates, &CleanConfig::default())
        .into_iter()
        .filter(|(_, reason)| reason.is_line_evidence())
        .map(|(line, _)| (line as u32).saturating_sub(1))
        .collect()
}

/// The union of two ascending lists of line numbers, ascending (a few lines each).
pub fn merge_lines(mut boilerplate: Vec<u32>, repeated: &[u32]) -> Vec<u32> {
    if !repeated.is_empty() {
        boilerplate.extend_from_slice(repeated);
        boilerplate.sort_unstable();
        boilerplate.dedup();
    }
    boilerplate
}

/// `text` without the lines `dropped` (0-based, ascending), the others joined by `\n`; the
/// text itself when nothing is dropped.
pub fn without_lines<'a>(text: &'a str, dropped: &[u32]) -> std::borrow::Cow<'a, str> {
    if dropped.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    if memchr::memchr(b'\r', text.as_bytes()).is_some() {
        // `str::lines` takes the CR of a CRLF off each line: line by line.
        return std::borrow::Cow::Owned(without_lines_one_by_one(text, dropped));
    }
    // Without CRs a run of kept lines is one slice of the text, copied at once.
    let mut out = String::with_capacity(text.len());
    let mut first = true;
    let mut push_run = |run: &str| {
        if !first {
            out.push('\n');
        }
        out.push_str(run);
        first = false;
    };
    let mut next = dropped.iter().copied().peekable();
    let mut run_start: Option<usize> = None;
    let mut line_start = 0;
    // Each line's end; the last line's too when no line break ends the text (`str::lines`
    // makes no empty line after a final break).
    let last = (!text.is_empty() && !text.ends_with('\n')).then_some(text.len());
    for (line, end) in memchr::memchr_iter(b'\n', text.as_bytes())
        .chain(last)
        .enumerate()
    {
        if next.next_if_eq(&(line as u32)).is_some() {
            if let Some(start) = run_start.take() {
                // The run ends at the break before this line.
                push_run(&text[start..line_start - 1]);
            }
            if next.peek().is_none() {
                // The lines after the last dropped one are one run: no more breaks to find.
                if let Some(rest) = text.get(end + 1..).filter(|rest| !rest.is_empty()) {
                    push_run(rest.strip_suffix('\n').unwrap_or(rest));
                }
                return std::borrow::Cow::Owned(out);
            }
        } else if run_start.is_none() {
            run_start = Some(line_start);
        }
        line_start = end + 1;
    }
    if let Some(start) = run_start {
        push_run(&text[start..line_start - 1]);
    }
    std::borrow::Cow::Owned(out)
}

/// [`without_lines`] a line at a time.
fn without_lines_one_by_one(text: &str, dropped: &[u32]) -> String {
    let mut next = dropped.iter().copied().peekable();
    let mut out = String::with_capacity(text.len());
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        if next.next_if_eq(&(i as u32)).is_some() {
            continue;
        }
        if !first {
            out.push('\n');
        }
        out.push_str(line);
        first = false;
    }
    out
}

/// The [`dropped_lines`] of every document of a corpus, run-length coded (a few bytes a
/// document): later passes rebuild a document's matching text without cleaning it again.
#[derive(Default)]
pub struct DroppedLines {
    /// Per run of dropped lines: the gap since the previous run's end, then its length; both
    /// LEB128.
    bytes: Vec<u8>,
    /// Where each document's runs start in `bytes` (one more entry than documents).
    starts: Vec<u64>,
}

impl DroppedLines {
    /// Append the next document's dropped lines (0-based, ascending).
    pub fn push(&mut self, dropped: &[u32]) {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        let mut end = 0u64;
        for run in dropped.chunk_by(|a, b| u64::from(*a) + 1 == u64::from(*b)) {
            let start = u64::from(run[0]);
            push_leb128(&mut self.bytes, start - end);
            push_leb128(&mut self.bytes, run.len() as u64);
            end = start + run.len() as u64;
        }
        self.starts.push(self.bytes.len() as u64);
    }

    /// The dropped lines of document `doc` (none for a document never pushed).
    pub fn get(&self, doc: usize) -> Vec<u32> {
        let (Some(&from), Some(&to)) = (self.starts.get(doc), self.starts.get(doc + 1)) else {
            return Vec::new();
        };
        let mut bytes = &self.bytes[from as usize..to as usize];
        let mut out = Vec::new();
        let mut end = 0u64;
        while let (Some(gap), Some(len)) = (read_leb128(&mut bytes), read_leb128(&mut bytes)) {
            let start = end + gap;
            out.extend((start..start + len).map(|line| line as u32));
            end = start + len;
        }
        out
    }
}

fn push_leb128(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_leb128(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Sketch texts as dedup matches them, without cleaning (the caller may have cleaned them).
/// `progress` is called once per sketched document (from any thread).
pub fn sketch_texts(
    texts: &[&str],
    config: &DedupConfig,
    progress: &(dyn Fn() + Sync),
) -> Vec<Sketch> {
    let mut counts = LineCounts::default();
    for t in texts {
        counts.observe(t, None, config, false);
    }
    let stats = counts.finish(config, false);
    texts
        .par_iter()
        .map(|t| {
            let s = sketch(&matching_text(t, None, &stats), config);
            progress();
            s
        })
        .collect()
}

/// Sketch documents held in memory as dedup matches them ([`matching_text`], then
/// [`sketch`]). The streaming [`crate::pipeline`] does the same in passes over a corpus.
pub fn sketch_docs(
    docs: &[Doc],
    config: &DedupConfig,
    clean: bool,
    progress: &(dyn Fn() + Sync),
) -> Vec<Sketch> {
    let stats = LineStats::of_docs(docs, config, clean);
    docs.par_iter()
        .map(|d| {
            let s = sketch(&matching_text(&d.text, d.site.as_deref(), &stats), config);
            progress();
            s
        })
        .collect()
}

/// Hash of a normalized line with fewer than `max_words` words (None: empty, too long, or
/// holding a number: table rows such as "Net 1,458,000 vs 1,070,000" are the story itself).
pub fn line_hash(line: &str, max_words: usize) -> Option<u64> {
    // Half the lines of a page are the blank ones between paragraphs.
    if line.is_empty() || has_digit(line) || has_ascii_words(line, max_words) {
        return None;
    }
    // Most lines are too long to count: counting first spares normalizing them.
    let words = shingle::count_words(line, max_words);
    (words > 0 && words < max_words).then(|| shingle::hash_bytes(normalize(line).as_bytes()))
}

/// Whether the text opens with at least `n` words that start with an ASCII letter after
/// whitespace (or at the start), all ASCII: then it has at least `n` words however it is
/// normalized (whitespace always separates words), and counting its words is spared. Reads 8
/// bytes at a time and only the opening, where `count_words` reads the whole line.
fn has_ascii_words(text: &str, n: usize) -> bool {
    use crate::boilerplate::{bytes_in, lanes};
    let mut starts = 0;
    let mut after_space = lanes(0x80) & 0x80; // the text's start counts as after whitespace
    for chunk in text.as_bytes().chunks(8) {
        let mut eight = [0u8; 8];
        eight[..chunk.len()].copy_from_slice(chunk);
        let x = u64::from_le_bytes(eight);
        if x & lanes(0x80) != 0 {
            return false;
        }
        let letters = bytes_in(x | lanes(0x20), b'a', b'z');
        let spaces = bytes_in(x, b' ', b' ') | bytes_in(x, b'\t', b'\r');
        starts += (letters & (spaces << 8 | after_space)).count_ones() as usize;
        if starts >= n {
            return true;
        }
        after_space = spaces >> 56;
    }
    false
}

/// Whether a text holds an ASCII digit; 32 bytes at a time without a branch inside, so the
/// compiler vectorizes the test (a search stopping at each byte did not).
fn has_digit(text: &str) -> bool {
    text.as_bytes().chunks(32).any(|chunk| {
        chunk
            .iter()
            .fold(false, |found, b| found | b.is_ascii_digit())
    })
}

/// Shingles in more documents than this are stock phrases (see [`DedupConfig::max_df_share`]).
pub fn stock_cap(documents: usize, config: &DedupConfig) -> u32 {
    let cap = ((documents as f64 * config.max_df_share) as usize).max(config.min_df_cap);
    cap.min(u32::MAX as usize) as u32
}

/// Bins of the lede-window signature (the window is short: fewer bins suffice).
pub const LEDE_PERM: usize = 64;

/// Share of the pairs at the Jaccard threshold that the whole-document bands find.
const BAND_RECALL: f64 = 0.99;

/// What the pipeline keeps of one document after sketching: no text.
#[derive(Clone, Debug, Default)]
pub struct Sketch {
    /// Shingle hashes in text order (with repeats): positions for the alignment rule.
    pub sequence: Vec<u64>,
    /// The same hashes sorted and deduplicated: exact verification.
    pub set: Vec<u64>,
    pub signature: Signature,
    pub lede_signature: Signature,
    pub simhash: u64,
    /// Length of the original text in characters (for `--keep longest`).
    pub chars: usize,
}

/// Sketch one document's (already cleaned) text.
pub fn sketch(text: &str, config: &DedupConfig) -> Sketch {
    let mut s = shingled(text, config);
    sign(&mut s, config);
    s
}

/// Add the signatures of the configured method to a sketch that has its shingles.
fn sign(s: &mut Sketch, config: &DedupConfig) {
    match config.method {
        Method::Minhash => {
            if config.uses_lede_index() {
                let end = s.sequence.len().min(config.lede_shingles);
                s.lede_signature = minhash::signature(&s.sequence[..end], LEDE_PERM);
            }
            s.signature = minhash::signature(&s.set, config.num_perm);
        }
        Method::Simhash => s.simhash = simhash::simhash(&s.sequence),
    }
}

/// What pass 2 of the streaming pipeline keeps of one document.
pub struct SearchEntry {
    pub keys: DocKeys,
    /// [`content_hash`] of its shingle sequence.
    pub content: Option<u64>,
    /// Length in characters.
    pub chars: usize,
    /// One of its shingles, the smallest hash (0 when it has none). When that one turns out
    /// not to be a stock shingle, the document's verification set is not empty, so an exact
    /// copy of it has similarity 1 to it without either being read again.
    pub witness: u64,
}

/// Pass 2 of the streaming pipeline for one matching text ([`SearchEntry`]); its distinct
/// shingles are added to `df`. The keys equal those of [`sketch`]; the shingle set is not
/// sorted (signatures and document frequencies read it in any order), which saves the sort of
/// every document.
pub fn search_entry(
    text: &str,
    config: &DedupConfig,
    index: &CandidateKeys,
    df: &DocFrequency,
) -> SearchEntry {
    let mut sequence = Vec::new();
    shingle::text_shingles_into(text, &config.shingle, &mut sequence);
    let set = shingle::distinct(&sequence);
    df.add_set(&set);
    let witness = set.iter().copied().min().unwrap_or(0);
    let mut s = Sketch {
        sequence,
        set,
        chars: text.chars().count(),
        ..Sketch::default()
    };
    sign(&mut s, config);
    SearchEntry {
        keys: index.keys_of(&s),
        content: content_hash(&s.sequence),
        chars: s.chars,
        witness,
    }
}

/// A document's shingles and length, no signatures yet ([`sketch`] adds them; the streaming
/// pipeline rebuilds what verification needs with [`verification_sketch`]).
pub fn shingled(text: &str, config: &DedupConfig) -> Sketch {
    let mut sequence = Vec::new();
    shingle::text_shingles_into(text, &config.shingle, &mut sequence);
    let set = shingle::to_set(sequence.clone());
    Sketch {
        sequence,
        set,
        chars: text.chars().count(),
        ..Sketch::default()
    }
}

/// What verification compares of a document ([`shingled`] without the stock shingles, and
/// without the sequence unless `with_sequence`). Stock shingles leave the sequence before the
/// set is made from it: filtering commutes with sorting, so each shingle is looked up once.
pub fn verification_sketch(
    text: &str,
    config: &DedupConfig,
    stock: &Over,
    with_sequence: bool,
) -> Sketch {
    let mut sequence = Vec::new();
    shingle::text_shingles_into(text, &config.shingle, &mut sequence);
    sequence.retain(|h| !stock.contains(*h));
    let (sequence, set) = if with_sequence {
        let set = shingle::to_set(sequence.clone());
        (sequence, set)
    } else {
        (Vec::new(), shingle::to_set(sequence))
    };
    Sketch {
        sequence,
        set,
        chars: text.chars().count(),
        ..Sketch::default()
    }
}

/// The sketch of a document from its shingle sequence and its length in characters: what
/// [`sketch`] makes after shingling (a stored sequence can be sketched again without its text).
pub fn sketch_sequence(sequence: Vec<u64>, chars: usize, config: &DedupConfig) -> Sketch {
    let set = shingle::to_set(sequence.clone());
    let mut s = Sketch {
        sequence,
        set,
        chars,
        ..Sketch::default()
    };
    sign(&mut s, config);
    s
}

/// Where each document went.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// Cluster number, by the input position of the cluster's first document.
    pub cluster: u32,
    /// The kept document of the cluster, when this one is not it.
    pub duplicate_of: Option<u32>,
    /// Similarity to the kept document under the configured measure (None for kept ones).
    pub similarity: Option<f64>,
}

/// The result of clustering and the counts that explain it.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub assignments: Vec<Assignment>,
    pub clusters: usize,
    pub duplicates: usize,
    /// Documents joined as exact copies of an earlier one (no candidate search needed).
    pub exact_copies: usize,
    pub candidate_pairs: usize,
    pub verified_edges: usize,
    /// Verification rounds (more than one only when the pairs outgrew the pair budget).
    pub verify_rounds: usize,
}

impl Outcome {
    /// The outcome of `clusters`: every document's cluster and kept document, with
    /// `similarity(i, kept)` for each duplicate `i`, and the counts of the search that made them.
    pub fn of(
        clusters: &cluster::Clusters,
        similarity: impl Fn(usize, u32) -> f64 + Sync,
        exact_copies: usize,
        search: SearchTotals,
    ) -> Outcome {
        let assignments: Vec<Assignment> = (0..clusters.cluster.len())
            .into_par_iter()
            .map(|i| {
                let c = clusters.cluster[i];
                let kept = clusters.kept[c as usize];
                let duplicate_of = (kept as usize != i).then_some(kept);
                Assignment {
                    cluster: c,
                    duplicate_of,
                    similarity: duplicate_of.map(|k| similarity(i, k)),
                }
            })
            .collect();
        Outcome {
            clusters: clusters.kept.len(),
            duplicates: clusters.cluster.len() - clusters.kept.len(),
            exact_copies,
            candidate_pairs: search.candidate_pairs,
            verified_edges: search.verified_edges,
            verify_rounds: search.rounds,
            assignments,
        }
    }
}

/// Join every exact copy to its first document. Identical matching texts are the same
/// document whatever their shingles' frequency, so no check is needed. Returns how many joined.
pub fn join_exact_copies(uf: &mut UnionFind, copies: &[Option<u32>]) -> usize {
    let mut joined = 0;
    for (i, first) in copies.iter().enumerate() {
        if let Some(first) = first {
            uf.union(*first, i as u32);
            joined += 1;
        }
    }
    joined
}

/// How a verified pair relates, for `explain` and for edges.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairCheck {
    pub shared: usize,
    pub jaccard: f64,
    pub containment: f64,
    /// The shared text starts at the same place in both documents (prefix-aligned).
    pub aligned: bool,
    pub edge: bool,
}

impl PairCheck {
    /// The pair's similarity under `measure` (what [`verify::similarity`] gives for the sets).
    pub fn similarity(&self, measure: Similarity) -> f64 {
        match measure {
            Similarity::Jaccard => self.jaccard,
            Similarity::Containment => self.containment,
        }
    }
}

/// The first position of `sequence` from which a run of shared shingles starts: at least
/// `run` of the next `run + 1` positions are in `other`. A run must span a few words of text
/// (3 word shingles, or 15 character shingles), so a stray common phrase early on does not count.
/// Positions are looked up only as far as the window of the answer reaches.
fn first_shared_run(sequence: &[u64], other: &[u64], run: usize) -> Option<usize> {
    let need = run.min(sequence.len());
    let mut hits: Vec<bool> = Vec::with_capacity(sequence.len());
    // Hits in `i..hits.len()`.
    let mut in_window = 0;
    for i in 0..sequence.len() {
        let end = (i + run + 1).min(sequence.len());
        while hits.len() < end {
            let hit = other.binary_search(&sequence[hits.len()]).is_ok();
            in_window += usize::from(hit);
            hits.push(hit);
        }
        if hits[i] && in_window >= need {
            return Some(i);
        }
        in_window -= usize::from(hits[i]);
    }
    None
}

/// What [`check_pair`] measures of a pair's sets (the alignment aside).
struct SetMeasures {
    shared: usize,
    jaccard: f64,
    containment: f64,
    /// The smaller set's size.
    min: usize,
}

fn set_measures(a: &Sketch, b: &Sketch) -> SetMeasures {
    let shared = verify::intersection_size(&a.set, &b.set);
    let union = a.set.len() + b.set.len() - shared;
    let jaccard = if union == 0 {
        0.0
    } else {
        shared as f64 / union as f64
    };
    let min = a.set.len().min(b.set.len());
    let containment = if min == 0 {
        0.0
    } else {
        shared as f64 / min as f64
    };
    SetMeasures {
        shared,
        jaccard,
        containment,
        min,
    }
}

/// Whether the shared text starts at the same place in both documents (see [`PairCheck`]).
fn aligned(a: &Sketch, b: &Sketch, config: &DedupConfig) -> bool {
    let (short, long) = if a.set.len() <= b.set.len() {
        (a, b)
    } else {
        (b, a)
    };
    let run = match config.shingle.unit {
        Unit::Word => 3,
        Unit::Char => 15,
    };
    match (
        first_shared_run(&short.sequence, &long.set, run),
        first_shared_run(&long.sequence, &short.set, run),
    ) {
        (Some(s), Some(l)) => {
            let slack = 8usize.max(short.sequence.len() / 8);
            l <= s + slack
        }
        _ => false,
    }
}

/// The edge rule (see the module docs), asking for the alignment only when it decides.
fn is_edge_given(m: &SetMeasures, config: &DedupConfig, aligned: impl FnOnce() -> bool) -> bool {
    let enough = m.shared >= config.min_shared.min(m.min.max(1));
    enough
        && match config.similarity {
            Similarity::Jaccard => m.jaccard >= config.threshold,
            Similarity::Containment => {
                m.containment >= config.threshold
                    && (m.jaccard >= config.jaccard_threshold || aligned())
            }
        }
}

/// Verify one candidate pair exactly (see the module docs for the rule).
pub fn check_pair(a: &Sketch, b: &Sketch, config: &DedupConfig) -> PairCheck {
    let m = set_measures(a, b);
    let aligned = aligned(a, b, config);
    PairCheck {
        shared: m.shared,
        jaccard: m.jaccard,
        containment: m.containment,
        aligned,
        edge: is_edge_given(&m, config, || aligned),
    }
}

/// `check_pair(a, b, config).edge` and the pair's similarity under the configured measure,
/// without the alignment work where the rule does not need it: most candidate pairs fall
/// short of the containment threshold, and the Jaccard rule never needs it.
pub fn verify_pair(a: &Sketch, b: &Sketch, config: &DedupConfig) -> (bool, f64) {
    let m = set_measures(a, b);
    let edge = is_edge_given(&m, config, || aligned(a, b, config));
    let similarity = match config.similarity {
        Similarity::Jaccard => m.jaccard,
        Similarity::Containment => m.containment,
    };
    (edge, similarity)
}

/// Hash of a document's shingle sequence (None when it has none). Two documents with the same
/// hash are exact copies for matching: same shingles in the same order, so every check of a
/// pair gives the same answer for either of them.
pub fn content_hash(sequence: &[u64]) -> Option<u64> {
    if sequence.is_empty() {
        return None;
    }
    // xxh3 of the little-endian bytes of the sequence, streamed through a stack buffer instead
    // of a copy of the whole sequence (streaming gives the one-shot hash: unit test).
    let mut hasher = xxhash_rust::xxh3::Xxh3::with_seed(shingle::SEED);
    let mut buffer = [0u8; 256];
    for chunk in sequence.chunks(buffer.len() / 8) {
        for (bytes, h) in buffer.chunks_exact_mut(8).zip(chunk) {
            bytes.copy_from_slice(&h.to_le_bytes());
        }
        hasher.update(&buffer[..chunk.len() * 8]);
    }
    Some(hasher.digest())
}

/// For every document, the first earlier document with the same content hash. Exact copies are
/// joined to it directly and left out of candidate search, so a corpus of a million identical
/// pages makes no LSH buckets of a million.
pub fn exact_copies(hashes: &[Option<u64>]) -> Vec<Option<u32>> {
    let mut order: Vec<(u64, u32)> = hashes
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.map(|h| (h, i as u32)))
        .collect();
    order.sort_unstable();
    let mut first = vec![None; hashes.len()];
    for run in order.chunk_by(|a, b| a.0 == b.0) {
        for &(_, i) in &run[1..] {
            first[i as usize] = Some(run[0].1);
        }
    }
    first
}

/// What candidate search needs of every document, packed: its LSH bucket keys (`stride` per
/// document: the whole-document bands, then the lede-window bands) or, with SimHash, its hash.
/// The streaming pipeline keeps only this between passes; in memory it is built from sketches.
pub struct CandidateKeys {
    method: Method,
    bands: Bands,
    lede: Option<Bands>,
    simhash_distance: u32,
    stride: usize,
    keys: lsh::KeyColumns,
    has_keys: Vec<bool>,
    simhash: Vec<Option<u64>>,
}

/// One document's entry of [`CandidateKeys`] (computed in parallel, pushed in order).
pub struct DocKeys {
    keys: Vec<u32>,
    simhash: Option<u64>,
}

impl DocKeys {
    /// Keys kept elsewhere (e.g. in an index), as [`CandidateKeys::keys_of`] made them.
    pub fn from_parts(keys: Vec<u32>, simhash: Option<u64>) -> DocKeys {
        DocKeys { keys, simhash }
    }

    /// The LSH bucket keys (empty with SimHash, or for a document without shingles).
    pub fn keys(&self) -> &[u32] {
        &self.keys
    }

    /// The SimHash (None with MinHash, or for a document without shingles).
    pub fn simhash(&self) -> Option<u64> {
        self.simhash
    }
}

impl CandidateKeys {
    pub fn new(config: &DedupConfig) -> CandidateKeys {
        let bands = config.bands();
        let lede = config.uses_lede_index().then(|| config.lede_bands());
        let stride = match config.method {
            Method::Minhash => bands.bands + lede.map_or(0, |b| b.bands),
            Method::Simhash => 0,
        };
        CandidateKeys {
            method: config.method,
            bands,
            lede,
            simhash_distance: config.simhash_distance,
            stride,
            keys: lsh::KeyColumns::new(stride, config.key_memory, config.spill_dir.clone()),
            has_keys: Vec::new(),
            simhash: Vec::new(),
        }
    }

    /// The keys of one sketch (a document without shingles has none).
    pub fn keys_of(&self, s: &Sketch) -> DocKeys {
        let mut keys = Vec::new();
        let mut simhash = None;
        match self.method {
            Method::Minhash => {
                keys.extend(lsh::band_keys(&s.signature, self.bands));
                if let Some(lede) = self.lede {
                    keys.extend(lsh::band_keys(&s.lede_signature, lede));
                }
            }
            Method::Simhash => simhash = (!s.set.is_empty()).then_some(s.simhash),
        }
        DocKeys { keys, simhash }
    }

    /// Append the next document's keys.
    pub fn push(&mut self, k: DocKeys) -> crate::Result<()> {
        let present = self.stride > 0 && k.keys.len() == self.stride;
        if self.stride > 0 {
            self.keys
                .push(present.then_some(&k.keys[..]))
                .map_err(crate::Error::Scratch)?;
        }
        self.has_keys.push(present);
        if self.method == Method::Simhash {
            self.simhash.push(k.simhash);
        }
        Ok(())
    }

    /// How many tables (LSH bands, or SimHash block tables) candidate search reads.
    fn tables(&self) -> usize {
        match self.method {
            Method::Minhash => self.stride,
            Method::Simhash => simhash::tables(self.simhash_distance),
        }
    }

    /// The entries of MinHash table `t`, packed as `key << 32 | doc` (see
    /// [`lsh::packed_buckets`]), for the documents `searched` allows.
    fn minhash_table(&self, t: usize, searched: &dyn Fn(usize) -> bool) -> crate::Result<Vec<u64>> {
        let mut keys = Vec::new();
        self.keys
            .read_table(t, &mut keys)
            .map_err(crate::Error::Scratch)?;
        Ok(keys
            .iter()
            .enumerate()
            .filter(|&(d, _)| self.has_keys[d] && searched(d))
            .map(|(d, key)| u64::from(*key) << 32 | d as u64)
            .collect())
    }

    /// The `(key, doc)` entries of SimHash table `t`, for the documents `searched` allows.
    fn simhash_table(&self, t: usize, searched: &dyn Fn(usize) -> bool) -> Vec<(u64, u32)> {
        self.simhash
            .iter()
            .enumerate()
            .filter(|(d, _)| searched(*d))
            .filter_map(|(d, h)| {
                h.map(|h| (simhash::table_key(h, t, self.simhash_distance), d as u32))
            })
            .collect()
    }

    /// Add the candidate pairs of one table's buckets (`doc` gives an entry's document) to
    /// `pending`, compacting it when it reaches its mark and verifying a `round` when it still
    /// holds half the budget.
    fn pairs_of_buckets<'a, T: Copy + 'a, E>(
        &self,
        buckets: impl Iterator<Item = &'a [T]>,
        doc: impl Fn(T) -> u32 + Copy,
        pending: &mut PendingPairs,
        uf: &mut UnionFind,
        round: &mut VerifyRound<'_, E>,
    ) -> Result<(), E> {
        for bucket in buckets {
            lsh::bucket_pairs(bucket, doc, |i, j| {
                if self.proposes(i, j) && uf.find(i) != uf.find(j) {
                    pending.pairs.push((i, j));
                }
            });
            if pending.pairs.len() >= pending.compact_at {
                pending.pairs.sort_unstable();
                pending.pairs.dedup();
                if pending.pairs.len() >= pending.budget / 2 {
                    round(&mut pending.pairs, uf)?;
                }
                pending.compact_at = (2 * pending.pairs.len())
                    .max(COMPACT_AT)
                    .min(pending.budget);
            }
        }
        Ok(())
    }

    /// Whether a pair from a shared bucket is a candidate (SimHash also checks the distance).
    fn proposes(&self, i: u32, j: u32) -> bool {
        match self.method {
            Method::Minhash => true,
            Method::Simhash => match (self.simhash[i as usize], self.simhash[j as usize]) {
                (Some(a), Some(b)) => simhash::distance(a, b) <= self.simhash_distance,
                _ => false,
            },
        }
    }

    /// Candidate search among the documents that are not exact copies (`copies[i]` is None; a
    /// short or empty `copies` means none are), verified in rounds of at most about `budget`
    /// pairs so memory stays bounded however many pairs the corpus has. Each round's pairs
    /// (sorted, unique) go to `verify`, which says which are edges; those are joined in `uf`.
    /// A pair whose documents an earlier round has already joined is not proposed again: it
    /// could not change the clusters. With one round (any corpus whose pairs fit the budget)
    /// every candidate pair is verified.
    pub fn search<E, V>(
        &self,
        copies: &[Option<u32>],
        budget: usize,
        uf: &mut UnionFind,
        mut verify: V,
    ) -> Result<SearchTotals, E>
    where
        V: FnMut(&[(u32, u32)]) -> Result<Vec<bool>, E>,
        E: From<crate::Error>,
    {
        let searched = |i: usize| copies.get(i).is_none_or(|c| c.is_none());
        let budget = budget.max(1);
        let mut totals = SearchTotals::default();
        let mut round = |pending: &mut Vec<(u32, u32)>, uf: &mut UnionFind| -> Result<(), E> {
            pending.sort_unstable();
            pending.dedup();
            if pending.is_empty() {
                return Ok(());
            }
            let edges = verify(pending)?;
            for (&(i, j), edge) in pending.iter().zip(edges) {
                if edge {
                    uf.union(i, j);
                    totals.verified_edges += 1;
                }
            }
            totals.candidate_pairs += pending.len();
            totals.rounds += 1;
            pending.clear();
            Ok(())
        };
        // Similar documents meet in many tables; compacting whenever the list doubles keeps
        // it at about twice the unique pairs.
        let mut pending = PendingPairs {
            pairs: Vec::new(),
            compact_at: COMPACT_AT.min(budget),
            budget,
        };
        for t in 0..self.tables() {
            match self.method {
                Method::Minhash => {
                    let mut entries = self.minhash_table(t, &searched)?;
                    let buckets = lsh::packed_buckets(&mut entries);
                    self.pairs_of_buckets(buckets, |e| e as u32, &mut pending, uf, &mut round)?;
                }
                Method::Simhash => {
                    let mut entries = self.simhash_table(t, &searched);
                    let buckets = lsh::buckets(&mut entries);
                    self.pairs_of_buckets(buckets, |e| e.1, &mut pending, uf, &mut round)?;
                }
            }
        }
        round(&mut pending.pairs, uf)?;
        Ok(totals)
    }

    /// Every candidate pair, sorted and unique (see [`CandidateKeys::search`]; for callers
    /// that need the pairs themselves and hold the documents in memory anyway).
    pub fn candidates(&self, copies: &[Option<u32>]) -> crate::Result<Vec<(u32, u32)>> {
        let mut all = Vec::new();
        let mut uf = UnionFind::new(self.has_keys.len().max(self.simhash.len()));
        self.search(copies, usize::MAX, &mut uf, |pairs: &[(u32, u32)]| {
            all.extend_from_slice(pairs);
            Ok::<_, crate::Error>(vec![false; pairs.len()])
        })?;
        Ok(all)
    }
}

/// Candidate pairs found and not yet verified, compacted when they reach `compact_at` (see
/// [`CandidateKeys::search`]).
struct PendingPairs {
    pairs: Vec<(u32, u32)>,
    compact_at: usize,
    budget: usize,
}

/// Verifies the pending candidate pairs and joins the edges found (see
/// [`CandidateKeys::search`]).
type VerifyRound<'a, E> = dyn FnMut(&mut Vec<(u32, u32)>, &mut UnionFind) -> Result<(), E> + 'a;

/// Size of the candidate list at which it is first compacted.
const COMPACT_AT: usize = 1 << 20;

/// What a candidate search did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchTotals {
    /// Pairs verified (over all rounds).
    pub candidate_pairs: usize,
    /// Pairs found to be the same story.
    pub verified_edges: usize,
    /// Verification rounds: more than one only when the pairs outgrew the budget.
    pub rounds: usize,
}

/// Candidate pairs of the configured method among sketches in memory (see
/// [`CandidateKeys::candidates`]).
pub fn candidates(
    sketches: &[Sketch],
    copies: &[Option<u32>],
    config: &DedupConfig,
) -> crate::Result<Vec<(u32, u32)>> {
    candidate_keys(sketches, config)?.candidates(copies)
}

/// The candidate keys of sketches in memory (kept in memory too: the sketches are larger).
fn candidate_keys(sketches: &[Sketch], config: &DedupConfig) -> crate::Result<CandidateKeys> {
    let in_memory = DedupConfig {
        spill_dir: None,
        ..config.clone()
    };
    let mut index = CandidateKeys::new(&in_memory);
    let keys: Vec<DocKeys> = sketches.par_iter().map(|s| index.keys_of(s)).collect();
    for k in keys {
        index.push(k)?;
    }
    Ok(index)
}

/// Remove shingles that occur in too many documents from every set and sequence, in place
/// (signatures stay as sketched: they only propose candidates).
pub fn remove_stock_shingles(sketches: &mut [Sketch], config: &DedupConfig) {
    let cap = stock_cap(sketches.len(), config);
    let df = DocFrequency::default();
    sketches.par_iter().for_each(|s| df.add_set(&s.set));
    let stock = df.over(cap);
    sketches.par_iter_mut().for_each(|s| {
        s.sequence.retain(|h| !stock.contains(*h));
        s.set.retain(|h| !stock.contains(*h));
    });
}

/// Cluster sketched documents (they are consumed: stock shingles are removed in place).
pub fn cluster(mut sketches: Vec<Sketch>, config: &DedupConfig) -> crate::Result<Outcome> {
    let hashes: Vec<Option<u64>> = sketches
        .par_iter()
        .map(|s| content_hash(&s.sequence))
        .collect();
    let copies = exact_copies(&hashes);
    remove_stock_shingles(&mut sketches, config);
    let sketches = &sketches[..];
    let mut uf = UnionFind::new(sketches.len());
    let verify = |pairs: &[(u32, u32)]| {
        Ok::<_, crate::Error>(
            pairs
                .par_iter()
                .map(|(i, j)| verify_pair(&sketches[*i as usize], &sketches[*j as usize], config).0)
                .collect(),
        )
    };
    let search =
        candidate_keys(sketches, config)?.search(&copies, config.pair_budget, &mut uf, verify)?;
    let exact = join_exact_copies(&mut uf, &copies);
    let lengths: Vec<usize> = sketches.iter().map(|s| s.chars).collect();
    let clusters = cluster::assign(&mut uf, config.keep, &lengths);
    let similarity = |i: usize, kept: u32| {
        verify::similarity(
            &sketches[i].set,
            &sketches[kept as usize].set,
            config.similarity,
        )
    };
    Ok(Outcome::of(&clusters, similarity, exact, search))
}

/// The 1-based numbers (as [`str::lines`] numbers them) of the lines of each text that
/// [`matching_text`] drops: short lines without digits found in at least `repeat_min_docs`
/// of the texts. Empty lists when the filter is off.
pub fn repeated_line_numbers(texts: &[&str], config: &DedupConfig) -> Vec<Vec<usize>> {
    let mut counts = LineCounts::default();
    for t in texts {
        counts.observe(t, None, config, false);
    }
    let stats = counts.finish(config, false);
    texts.par_iter().map(|t| stats.repeated_lines(t)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_page_without_a_site_is_classified_the_same_before_the_counts() {
        let furniture = "Home | World | Business | Sport\nShare this article";
        let template =
            "Our reporting is paid for by readers like you, and every gift helps us go on.";
        let mut templates = TemplateCounts::new();
        for i in 0..4 {
            let page = format!("{furniture}\nStory {i} opens here with a sentence long enough to be prose, as articles do.\n{template}");
            templates.observe(Some("example.com"), &page);
            templates.observe(None, &page);
        }
        let page = format!("{furniture}\nThe minister said on Monday that the talks would go on, and that nothing was settled yet.\n{template}\n12:45 London 14°C");
        let before = boilerplate_lines(&page, None, None);
        assert_eq!(before, boilerplate_lines(&page, None, Some(&templates)));
        assert!(!before.is_empty());
        // With the site, the counted templates do count.
        assert_ne!(
            boilerplate_lines(&page, Some("example.com"), Some(&templates)),
            boilerplate_lines(&page, Some("example.com"), None)
        );
    }

    proptest::proptest! {
        #[test]
        fn has_ascii_words_means_enough_words(text in "[a-zA-Z,.'` \t\u{0B}\u{2019}\u{00E9}-]{0,120}", n in 1usize..20) {
            if has_ascii_words(&text, n) {
                proptest::prop_assert!(shingle::count_words(&text, n) >= n);
            }
        }

        #[test]
        fn content_hash_is_xxh3_of_the_bytes(sequence in proptest::collection::vec(proptest::num::u64::ANY, 0..200)) {
            let bytes: Vec<u8> = sequence.iter().flat_map(|h| h.to_le_bytes()).collect();
            let expected = (!sequence.is_empty()).then(|| shingle::hash_bytes(&bytes));
            proptest::prop_assert_eq!(content_hash(&sequence), expected);
        }

        #[test]
        fn without_lines_copies_runs_as_lines_would(
            text in proptest::prop_oneof!["[ab\n]{0,40}", "[ab\n\r]{0,40}"],
            dropped in proptest::collection::btree_set(0u32..12, 0..8),
        ) {
            let dropped: Vec<u32> = dropped.into_iter().collect();
            let expected = if dropped.is_empty() {
                text.clone()
            } else {
                without_lines_one_by_one(&text, &dropped)
            };
            proptest::prop_assert_eq!(without_lines(&text, &dropped), expected);
        }

        #[test]
        fn has_digit_is_any_ascii_digit(text in "[a-z0-9 \u{0663}\u{2019}]{0,100}") {
            proptest::prop_assert_eq!(has_digit(&text), text.bytes().any(|b| b.is_ascii_digit()));
        }
    }

    use super::*;

    /// The lookup of every position first, then the search (the definition).
    fn first_shared_run_reference(sequence: &[u64], other: &[u64], run: usize) -> Option<usize> {
        let hit: Vec<bool> = sequence
            .iter()
            .map(|h| other.binary_search(h).is_ok())
            .collect();
        let need = run.min(hit.len());
        (0..hit.len()).find(|&i| {
            hit[i]
                && hit[i..(i + run + 1).min(hit.len())]
                    .iter()
                    .filter(|x| **x)
                    .count()
                    >= need
        })
    }

    proptest::proptest! {
        #[test]
        fn first_shared_run_equals_the_definition(
            sequence in proptest::collection::vec(0u64..12, 0..40),
            other in proptest::collection::btree_set(0u64..12, 0..8),
            run in 0usize..6,
        ) {
            let other: Vec<u64> = other.into_iter().collect();
            proptest::prop_assert_eq!(
                first_shared_run(&sequence, &other, run),
                first_shared_run_reference(&sequence, &other, run)
            );
        }
    }

    #[test]
    fn verify_pair_agrees_with_check_pair() {
        let story = "The central bank raised its main interest rate by half a point on Tuesday, \
            the third increase this year, citing inflation that has stayed above its target. \
            Officials said further moves would depend on wage growth and energy prices.";
        let texts = [
            story.to_string(),
            story[..90].to_string(),
            format!("Farmers began the harvest early. {story} Growers asked for subsidies."),
            story.replace("bank", "fund"),
            "Heavy snow closed the mountain pass for the second day.".to_string(),
            String::new(),
        ];
        for similarity in [Similarity::Containment, Similarity::Jaccard] {
            for threshold in [0.3, 0.5, 0.8] {
                let config = DedupConfig {
                    similarity,
                    threshold,
                    ..DedupConfig::default()
                };
                let sketches: Vec<Sketch> = texts.iter().map(|t| sketch(t, &config)).collect();
                for a in &sketches {
                    for b in &sketches {
                        let check = check_pair(a, b, &config);
                        assert_eq!(
                            verify_pair(a, b, &config),
                            (check.edge, check.similarity(similarity))
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn dropped_lines_read_back_per_document() {
        let docs: Vec<Vec<u32>> = vec![
            vec![],
            vec![0, 1, 2, 7, 9, 10],
            vec![300, 301, 70_000, u32::MAX - 1, u32::MAX],
            vec![5],
            vec![],
        ];
        let mut stored = DroppedLines::default();
        for d in &docs {
            stored.push(d);
        }
        for (i, d) in docs.iter().enumerate() {
            assert_eq!(&stored.get(i), d, "document {i}");
        }
        assert!(stored.get(docs.len()).is_empty());
        assert!(DroppedLines::default().get(0).is_empty());
    }

    #[test]
    fn without_lines_keeps_the_others_in_order() {
        let text = "a\r\nb\n\nc\nd";
        assert_eq!(without_lines(text, &[]), text);
        assert_eq!(without_lines(text, &[1, 3]), "a\n\nd");
        assert_eq!(without_lines(text, &[0, 1, 2, 3, 4]), "");
        assert_eq!(without_lines(text, &[4, 9]), "a\nb\n\nc");
    }

    const STORY: &str = "The central bank raised its main interest rate by half a point on Tuesday, \
        the third increase this year, citing inflation that has stayed above its target. \
        Officials said further moves would depend on wage growth and energy prices over the winter. \
        Markets had expected a smaller step, and the currency rose after the announcement. \
        Analysts said the decision showed the bank was willing to accept slower growth.";

    fn sketches(texts: &[&str]) -> Vec<Sketch> {
        let config = DedupConfig::default();
        texts.iter().map(|t| sketch(t, &config)).collect()
    }

    #[test]
    fn exact_copies_point_at_their_first_document() {
        let h = |x: u64| Some(x);
        assert_eq!(
            exact_copies(&[h(7), None, h(9), h(7), None, h(7), h(9)]),
            vec![None, None, None, Some(0), None, Some(0), Some(2)]
        );
        assert_eq!(content_hash(&[]), None);
        assert_ne!(content_hash(&[1, 2]), content_hash(&[2, 1]));
    }

    #[test]
    fn truncated_copy_joins_its_story() {
        let lede = "The central bank raised its main interest rate by half a point on Tuesday, \
            the third increase this year, citing inflation that has stayed above its target.";
        let s = sketches(&[
            STORY,
            lede,
            "A completely different text about football results \
            and the weather in the mountains this weekend, with snow expected.",
        ]);
        let out = cluster(s, &DedupConfig::default()).unwrap();
        assert_eq!(out.assignments[1].duplicate_of, Some(0));
        assert_eq!(out.assignments[2].duplicate_of, None);
        assert_eq!(out.clusters, 2);
    }

    #[test]
    fn quoted_statement_inside_other_article_is_not_a_copy() {
        let statement = "Officials said further moves would depend on wage growth and energy prices over the winter. \
            Markets had expected a smaller step, and the currency rose after the announcement.";
        let host = format!(
            "Farmers in the north began the harvest early this year after a dry summer left fields \
             ready weeks ahead of schedule, and cooperatives reported record deliveries of grain. \
             Prices for wheat fell in regional markets as the first loads arrived, while traders said \
             demand from mills remained steady through the autumn. \
             {statement} The agriculture ministry said storage capacity would be expanded next spring, \
             and that new silos near the river port would take the pressure off local depots. \
             Growers' associations welcomed the plan but asked for faster payment of subsidies."
        );
        let s = sketches(&[statement, &host]);
        let check = check_pair(&s[0], &s[1], &DedupConfig::default());
        assert!(check.containment > 0.9, "{check:?}");
        assert!(!check.aligned, "{check:?}");
        assert!(!check.edge);
    }

    #[test]
    fn repeated_line_numbers_are_the_lines_matching_drops() {
        let texts: Vec<String> = (0..5)
            .map(|i| format!("Story {i} has its own first line\nShare this article\nNet 1,458,000 vs 1,070,000\nShare this article"))
            .collect();
        let texts: Vec<&str> = texts.iter().map(|t| t.as_str()).collect();
        let config = DedupConfig::default();
        let lines = repeated_line_numbers(&texts, &config);
        // The prompt recurs in 5 documents; the table row holds digits; the first lines differ.
        assert_eq!(lines[0], vec![2, 4]);
        let stats = LineStats::of_docs(&[], &config, false);
        assert!(stats.repeated_lines(texts[0]).is_empty());
        let mut counts = LineCounts::default();
        for t in &texts {
            counts.observe(t, None, &config, false);
        }
        let stats = counts.finish(&config, false);
        assert_eq!(
            matching_text(texts[0], None, &stats),
            "Story 0 has its own first line\nNet 1,458,000 vs 1,070,000"
        );
        let off = DedupConfig {
            repeat_min_docs: 0,
            ..DedupConfig::default()
        };
        assert!(repeated_line_numbers(&texts, &off)
            .iter()
            .all(|l| l.is_empty()));
    }
}
