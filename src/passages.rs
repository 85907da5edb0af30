//! Shared passages: spans of text that two or more *different* stories have in common, with
//! their offsets in the original text.
//!
//! How it works (seed and extend, two passes over hashed word n-grams):
//! 1. [`tokenize`] splits the original text into words, remembering each word's character
//!    offsets; each word is normalized ([`normalize`], optionally folded to its OCR
//!    skeleton) and hashed. Lines that boilerplate cleaning removed are skipped.
//! 2. Word n-grams are hashed and counted: the document frequency (df) of every n-gram,
//!    kept as sorted 64-bit hashes, never text. An n-gram in 2..=`max_doc_df` documents is
//!    a *seed*; more frequent ones (site furniture, stock phrases) are never evidence, and the
//!    cap bounds the pair work per n-gram, so time and memory stay linear in the corpus.
//! 3. Seeds of a document pair are chained along diagonals and merged across small gaps
//!    (edits, OCR noise) into maximal spans of at least `min_words` words.
//! 4. Two documents whose spans cover at least `copy_coverage` of *both* are copies of one
//!    story (reprints); copies are joined into stories with union-find. Text shared by copies
//!    is the story itself, not a passage, and is not reported.
//!    The caller can add what it knows: labels of known copies (near-duplicate clusters) and
//!    a check asked about every other pair that shares a span (the near-duplicate edge rule,
//!    exactly, so that a copy the candidate search missed still joins its story).
//! 5. Seeds are filtered again by *story* frequency (`max_df`: an n-gram must stand in at
//!    most that many different stories), and spans are found again between documents of
//!    different stories only. Spans within a document that mostly overlap join into one
//!    occurrence (two statements side by side, touching by a bridged word, stay apart);
//!    occurrences linked by a span join into one passage (union-find).
//!
//! Each passage keeps its links (which occurrence matched which, and how many seeds), so a
//! caller can report every occurrence, or one occurrence per story with the story's other
//! copies under it ([`Passage::by_story`]).
//!
//! Offsets are in Unicode scalar values (`char`s) of the original text, `end` exclusive.
//! The result is deterministic: it does not depend on the thread count or hash-map order.

use crate::cluster::UnionFind;
use crate::normalize::normalize;
use crate::shingle::{combine, hash_bytes, ocr_skeleton, words};
use rayon::prelude::*;
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

/// Settings of passage finding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PassageConfig {
    /// Words per seed n-gram.
    pub ngram: usize,
    /// Shortest reported span, in words.
    pub min_words: usize,
    /// A seed may stand in at most this many different stories (copies count once).
    pub max_df: usize,
    /// A seed may stand in at most this many documents (bounds the pair work).
    pub max_doc_df: usize,
    /// Largest gap, in words, bridged inside one span.
    pub max_gap: usize,
    /// Two documents whose shared spans cover this share of both are copies of one story.
    pub copy_coverage: f64,
    /// A shorter document this much covered by a longer one whose shared text starts near the
    /// start of both (within `align_slack` words) is a truncated copy (0: off).
    pub copy_aligned: f64,
    /// Words allowed before the first shared span for the aligned-copy rule.
    pub align_slack: usize,
    /// Fold words to their OCR skeleton before hashing.
    pub ocr_fold: bool,
}

impl Default for PassageConfig {
    fn default() -> Self {
        PassageConfig {
            ngram: 5,
            min_words: 8,
            max_df: 3,
            max_doc_df: 64,
            max_gap: 6,
            copy_coverage: 0.5,
            copy_aligned: 0.8,
            align_slack: 20,
            ocr_fold: true,
        }
    }
}

impl PassageConfig {
    /// Check the settings once; everything after trusts them.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::Config(m.to_owned()));
        if self.ngram == 0 || self.ngram > 32 {
            return bad("passage n-gram size must be in 1..=32");
        }
        if self.min_words == 0 {
            return bad("minimum passage length must be at least 1 word");
        }
        if self.max_df < 2 {
            return bad("max-df must be at least 2 (a passage needs two stories)");
        }
        if self.max_doc_df < self.max_df {
            return bad("max-doc-df must be at least max-df");
        }
        if !(self.copy_coverage > 0.0 && self.copy_coverage <= 1.0) {
            return bad("copy coverage must be in (0, 1]");
        }
        if !(0.0..=1.0).contains(&self.copy_aligned) {
            return bad("aligned copy coverage must be in [0, 1]");
        }
        Ok(())
    }
}

/// The words of one document: hash of the normalized word and its char offsets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tokens {
    pub hashes: Vec<u64>,
    /// `(start, end)` in chars of the original text, `end` exclusive.
    pub offsets: Vec<(u32, u32)>,
}

impl Tokens {
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Char range of words `start..end` (word indices, `end` exclusive).
    pub fn char_range(&self, start: u32, end: u32) -> (u32, u32) {
        let first = self.offsets.get(start as usize).map_or(0, |o| o.0);
        let last = end
            .checked_sub(1)
            .and_then(|e| self.offsets.get(e as usize))
            .map_or(first, |o| o.1);
        (first, last)
    }
}

/// Split the original `text` into hashed words with char offsets, skipping the lines whose
/// 1-based numbers are in `ignored_lines` (numbered as [`str::lines`] numbers them).
pub fn tokenize(text: &str, ignored_lines: &[usize], ocr_fold: bool) -> Tokens {
    let mut ignored = ignored_lines.to_vec();
    ignored.sort_unstable();
    let mut out = Tokens::default();
    let mut line_char = 0u32;
    let mut lower = String::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let line_chars = line.chars().count() as u32;
        if ignored.binary_search(&(i + 1)).is_err() {
            let mut byte = 0usize;
            let mut chr = line_char;
            for (at, word) in line.unicode_word_indices() {
                chr += line[byte..at].chars().count() as u32;
                let len = word.chars().count() as u32;
                let span = (chr, chr + len);
                let mut push = |w: &str| {
                    let h = if ocr_fold {
                        hash_bytes(ocr_skeleton(w).as_bytes())
                    } else {
                        hash_bytes(w.as_bytes())
                    };
                    out.hashes.push(h);
                    out.offsets.push(span);
                };
                if word.is_ascii() {
                    // The common case: lowercasing is all `normalize` would do to it.
                    lower.clear();
                    lower.extend(word.chars().map(|c| c.to_ascii_lowercase()));
                    push(&lower);
                } else {
                    // NFKC can split a word (ligatures, fullwidth punctuation): every part
                    // keeps the original word's offsets.
                    let normalized = normalize(word);
                    for w in words(&normalized) {
                        push(w);
                    }
                }
                byte = at + word.len();
                chr += len;
            }
        }
        line_char += line_chars;
    }
    out
}

/// Hashes of the word n-grams of `tokens`, one per start position.
fn grams(tokens: &Tokens, n: usize) -> Vec<u64> {
    if tokens.len() < n {
        return Vec::new();
    }
    tokens.hashes.windows(n).map(combine).collect()
}

/// Where seed n-grams stand: `(gram, doc, position)` sorted, only grams that pass the
/// frequency rule, at most `MAX_REPEATS` positions per document and gram.
#[derive(Clone, Debug, Default)]
pub struct SeedIndex {
    entries: Vec<(u64, u32, u32)>,
}

/// A phrase repeated inside one document counts at most this often (bounds pair work).
const MAX_REPEATS: usize = 4;

impl SeedIndex {
    /// Index the n-grams of every document that stand in `2..=max_doc_df` documents.
    pub fn build(docs: &[Tokens], config: &PassageConfig) -> SeedIndex {
        let mut entries: Vec<(u64, u32, u32)> = docs
            .par_iter()
            .enumerate()
            .flat_map_iter(|(d, t)| {
                grams(t, config.ngram)
                    .into_iter()
                    .enumerate()
                    .map(move |(p, g)| (g, d as u32, p as u32))
            })
            .collect();
        entries.par_sort_unstable();
        let mut kept = Vec::new();
        let mut i = 0;
        while i < entries.len() {
            let g = entries[i].0;
            let end = i + entries[i..].partition_point(|e| e.0 == g);
            let run = &entries[i..end];
            let df = distinct_docs(run);
            if df >= 2 && df <= config.max_doc_df {
                push_capped(&mut kept, run);
            }
            i = end;
        }
        SeedIndex { entries: kept }
    }

    /// Keep only seeds that stand in `2..=max_stories` different stories.
    fn filter_stories(&self, story: &[u32], max_stories: usize) -> SeedIndex {
        let mut kept = Vec::new();
        let mut i = 0;
        let mut seen: Vec<u32> = Vec::new();
        while i < self.entries.len() {
            let g = self.entries[i].0;
            let end = i + self.entries[i..].partition_point(|e| e.0 == g);
            let run = &self.entries[i..end];
            seen.clear();
            seen.extend(run.iter().map(|e| story[e.1 as usize]));
            seen.sort_unstable();
            seen.dedup();
            if seen.len() >= 2 && seen.len() <= max_stories {
                kept.extend_from_slice(run);
            }
            i = end;
        }
        SeedIndex { entries: kept }
    }

    fn run(&self, gram: u64) -> &[(u64, u32, u32)] {
        let start = self.entries.partition_point(|e| e.0 < gram);
        let end = start + self.entries[start..].partition_point(|e| e.0 == gram);
        &self.entries[start..end]
    }

    /// Number of documents a gram stands in, as far as the index knows (0: not a seed).
    pub fn doc_frequency(&self, gram: u64) -> usize {
        distinct_docs(self.run(gram))
    }
}

fn distinct_docs(run: &[(u64, u32, u32)]) -> usize {
    let mut n = 0;
    let mut last = None;
    for e in run {
        if last != Some(e.1) {
            n += 1;
            last = Some(e.1);
        }
    }
    n
}

fn push_capped(out: &mut Vec<(u64, u32, u32)>, run: &[(u64, u32, u32)]) {
    let mut last = None;
    let mut count = 0;
    for e in run {
        if last == Some(e.1) {
            count += 1;
        } else {
            last = Some(e.1);
            count = 1;
        }
        if count <= MAX_REPEATS {
            out.push(*e);
        }
    }
}

/// A span shared by documents `a` and `b`, in word positions (`end` exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SharedSpan {
    pub a: u32,
    pub b: u32,
    pub a_start: u32,
    pub a_end: u32,
    pub b_start: u32,
    pub b_end: u32,
    /// Seed n-grams inside the span (how much evidence holds it).
    pub seeds: u32,
}

/// Chain seed hits `(other, i, j)` of one document into maximal spans per other document.
fn chain(mut hits: Vec<(u32, u32, u32)>, a: u32, config: &PassageConfig) -> Vec<SharedSpan> {
    let n = config.ngram as u32;
    let gap = config.max_gap as u32;
    // Along one diagonal (same offset j - i) the hits of an unedited stretch are consecutive.
    hits.sort_unstable_by_key(|&(b, i, j)| (b, j as i64 - i as i64, i));
    let mut segments: Vec<SharedSpan> = Vec::new();
    for &(b, i, j) in &hits {
        if let Some(s) = segments.last_mut() {
            if s.b == b
                && (s.b_start as i64 - s.a_start as i64) == (j as i64 - i as i64)
                && i <= s.a_end + gap
            {
                s.a_end = s.a_end.max(i + n);
                s.b_end = s.b_end.max(j + n);
                s.seeds += 1;
                continue;
            }
        }
        segments.push(SharedSpan {
            a,
            b,
            a_start: i,
            a_end: i + n,
            b_start: j,
            b_end: j + n,
            seeds: 1,
        });
    }
    // Across diagonals: an inserted or deleted word shifts the diagonal a little.
    segments.sort_unstable_by_key(|s| (s.b, s.a_start, s.b_start));
    let mut spans: Vec<SharedSpan> = Vec::new();
    for s in segments {
        if let Some(cur) = spans.last_mut() {
            if cur.b == s.b
                && s.a_start <= cur.a_end + gap
                && s.b_start >= cur.b_start
                && s.b_start <= cur.b_end + gap
            {
                cur.a_end = cur.a_end.max(s.a_end);
                cur.b_end = cur.b_end.max(s.b_end);
                cur.seeds += s.seeds;
                continue;
            }
        }
        spans.push(s);
    }
    let min = config.min_words as u32;
    spans.retain(|s| s.a_end - s.a_start >= min && s.b_end - s.b_start >= min);
    spans
}

/// Spans that document `a` shares with documents after it (or any other, for `all`).
fn spans_of(
    a: usize,
    docs: &[Tokens],
    index: &SeedIndex,
    story: Option<&[u32]>,
    config: &PassageConfig,
) -> Vec<SharedSpan> {
    let mut hits = Vec::new();
    for (i, g) in grams(&docs[a], config.ngram).into_iter().enumerate() {
        for &(_, b, j) in index.run(g) {
            if (b as usize) <= a {
                continue;
            }
            if let Some(story) = story {
                if story[b as usize] == story[a] {
                    continue;
                }
            }
            hits.push((b, i as u32, j));
        }
    }
    chain(hits, a as u32, config)
}

/// The spans two documents share, with seeds filtered by a corpus-wide index (for `explain`).
pub fn pair_spans(
    a: &Tokens,
    b: &Tokens,
    index: &SeedIndex,
    config: &PassageConfig,
) -> Vec<SharedSpan> {
    let bg = grams(b, config.ngram);
    let mut b_pos: Vec<(u64, u32)> = bg
        .into_iter()
        .enumerate()
        .map(|(j, g)| (g, j as u32))
        .collect();
    b_pos.sort_unstable();
    let mut hits = Vec::new();
    for (i, g) in grams(a, config.ngram).into_iter().enumerate() {
        if index.doc_frequency(g) < 2 {
            continue;
        }
        let start = b_pos.partition_point(|e| e.0 < g);
        for &(_, j) in b_pos[start..].iter().take_while(|e| e.0 == g) {
            hits.push((1, i as u32, j));
        }
    }
    let mut spans = chain(hits, 0, config);
    spans.sort_unstable_by_key(|s| (s.a_start, s.b_start));
    spans
}

/// Words of `len` covered by the union of `ranges`.
fn covered(mut ranges: Vec<(u32, u32)>) -> u32 {
    ranges.sort_unstable();
    let mut total = 0;
    let mut cur: Option<(u32, u32)> = None;
    for (s, e) in ranges {
        match cur {
            Some((cs, ce)) if s <= ce => cur = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                cur = Some((s, e));
            }
            None => cur = Some((s, e)),
        }
    }
    total + cur.map_or(0, |(s, e)| e - s)
}

/// One place a passage stands: document index and char offsets (`end` exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    pub doc: u32,
    /// The story (set of copies) the document belongs to: its smallest document index.
    pub story: u32,
    pub start: u32,
    pub end: u32,
    /// Word positions of the occurrence in the document's tokens.
    pub word_start: u32,
    pub word_end: u32,
}

/// A span match between two occurrences of one passage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    /// Indices into [`Passage::occurrences`].
    pub x: u32,
    pub y: u32,
    pub seeds: u32,
}

/// One statement shared by several stories.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Passage {
    /// Sorted by document, then start.
    pub occurrences: Vec<Occurrence>,
    pub links: Vec<Link>,
}

/// The occurrences of a passage in the copies of one story.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoryOccurrences {
    /// The story (its smallest document index).
    pub story: u32,
    /// Index into [`Passage::occurrences`] of the copy that stands for the story: the one with
    /// the most linked evidence, then the one whose exact wording the passage's other
    /// occurrences share most ([`Passage::agreement`]: OCR noise, re-casing and edits lose),
    /// then the one with the fewest boilerplate lines, then the first in input order (the copy
    /// `dedup` keeps by default).
    pub main: usize,
    /// The passage's other occurrences in copies of the story, in document order.
    pub copies: Vec<usize>,
}

impl Passage {
    /// Per occurrence: how widely its exact wording (whitespace-split word 3-grams of the
    /// original text) is shared by the passage's other occurrences.
    pub fn agreement(&self, texts: &[&str]) -> Vec<u64> {
        let grams: Vec<Vec<u64>> = self
            .occurrences
            .iter()
            .map(|o| {
                let text = texts.get(o.doc as usize).copied().unwrap_or("");
                let slice: String = text
                    .chars()
                    .skip(o.start as usize)
                    .take(o.end.saturating_sub(o.start) as usize)
                    .collect();
                raw_grams(&slice)
            })
            .collect();
        let mut all: Vec<u64> = grams.iter().flatten().copied().collect();
        all.sort_unstable();
        grams
            .iter()
            .map(|g| {
                g.iter()
                    .map(|h| {
                        let start = all.partition_point(|x| x < h);
                        let n = all[start..].partition_point(|x| x == h);
                        n.saturating_sub(1) as u64
                    })
                    .sum()
            })
            .collect()
    }

    /// Seeds linked to each occurrence (its evidence across stories).
    fn weights(&self) -> Vec<u64> {
        let mut weight = vec![0u64; self.occurrences.len()];
        for l in &self.links {
            weight[l.x as usize] += l.seeds as u64;
            weight[l.y as usize] += l.seeds as u64;
        }
        weight
    }

    /// The occurrence with the most linked evidence (ties: first), whose text represents it.
    pub fn representative(&self) -> usize {
        let weight = self.weights();
        let mut best = 0;
        for (i, w) in weight.iter().enumerate() {
            if *w > weight[best] {
                best = i;
            }
        }
        best
    }

    /// The occurrences grouped by story, one group per story, in the document order of their
    /// main occurrence. `texts` are the original texts and `furniture` the number of
    /// boilerplate lines of each document (missing entries: empty text, 0).
    pub fn by_story(&self, texts: &[&str], furniture: &[u32]) -> Vec<StoryOccurrences> {
        let weight = self.weights();
        let agree = self.agreement(texts);
        let rank = |i: usize| {
            let doc = self.occurrences[i].doc as usize;
            let extra = furniture.get(doc).copied().unwrap_or(0);
            (weight[i], agree[i], std::cmp::Reverse(extra))
        };
        let mut order: Vec<usize> = (0..self.occurrences.len()).collect();
        // Stable: within a story, occurrences stay in document order.
        order.sort_by_key(|&i| self.occurrences[i].story);
        let mut groups: Vec<StoryOccurrences> = Vec::new();
        let mut k = 0;
        while k < order.len() {
            let story = self.occurrences[order[k]].story;
            let end = k + order[k..].partition_point(|&i| self.occurrences[i].story == story);
            let members = &order[k..end];
            let mut main = members[0];
            for &i in &members[1..] {
                if rank(i) > rank(main) {
                    main = i;
                }
            }
            let copies = members.iter().copied().filter(|&i| i != main).collect();
            groups.push(StoryOccurrences {
                story,
                main,
                copies,
            });
            k = end;
        }
        groups.sort_by_key(|g| (self.occurrences[g.main].doc, self.occurrences[g.main].start));
        groups
    }
}

/// Everything a run found.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub passages: Vec<Passage>,
    /// Story of each document (smallest document index of its copies).
    pub story: Vec<u32>,
    /// Document pairs recognized as copies of one story.
    pub copy_pairs: usize,
    /// Cross-story spans before grouping.
    pub spans: usize,
}

/// Find the passages of a corpus (see the module docs). `known_stories`, when given, labels
/// documents already known to be copies of one story (for example near-duplicate clusters):
/// they are joined with the copies found here. `is_copy(a, b)` is asked about every pair of
/// documents that share a span and that the coverage rules do not already call copies (for
/// example the near-duplicate edge rule, checked exactly); answer `false` to rely on the
/// coverage rules alone.
pub fn find(
    docs: &[Tokens],
    config: &PassageConfig,
    known_stories: Option<&[u32]>,
    is_copy: &(dyn Fn(u32, u32) -> bool + Sync),
) -> Found {
    let index = SeedIndex::build(docs, config);

    // Copies: spans with every seed, coverage of both documents.
    let copy_pairs: Vec<(u32, u32)> = (0..docs.len())
        .into_par_iter()
        .flat_map_iter(|a| {
            let spans = spans_of(a, docs, &index, None, config);
            let mut pairs = Vec::new();
            let mut k = 0;
            while k < spans.len() {
                let b = spans[k].b;
                let end = k + spans[k..].partition_point(|s| s.b == b);
                let group = &spans[k..end];
                let ca = covered(group.iter().map(|s| (s.a_start, s.a_end)).collect());
                let cb = covered(group.iter().map(|s| (s.b_start, s.b_end)).collect());
                let la = docs[a].len().max(1) as f64;
                let lb = docs[b as usize].len().max(1) as f64;
                let (fa, fb) = (ca as f64 / la, cb as f64 / lb);
                let both = fa >= config.copy_coverage && fb >= config.copy_coverage;
                let first_a = group.iter().map(|s| s.a_start).min().unwrap_or(0) as usize;
                let first_b = group.iter().map(|s| s.b_start).min().unwrap_or(0) as usize;
                let aligned = config.copy_aligned > 0.0
                    && fa.max(fb) >= config.copy_aligned
                    && first_a <= config.align_slack
                    && first_b <= config.align_slack;
                if both || aligned || is_copy(a as u32, b) {
                    pairs.push((a as u32, b));
                }
                k = end;
            }
            pairs
        })
        .collect();
    let mut uf = UnionFind::new(docs.len());
    for &(a, b) in &copy_pairs {
        uf.union(a, b);
    }
    if let Some(labels) = known_stories {
        let mut first: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        for (d, &label) in labels.iter().enumerate().take(docs.len()) {
            let root = *first.entry(label).or_insert(d as u32);
            uf.union(root, d as u32);
        }
    }
    let story: Vec<u32> = (0..docs.len() as u32).map(|d| uf.find(d)).collect();

    // Passages: rare-in-stories seeds, spans across stories only.
    let index = index.filter_stories(&story, config.max_df);
    let spans: Vec<SharedSpan> = (0..docs.len())
        .into_par_iter()
        .flat_map_iter(|a| spans_of(a, docs, &index, Some(&story), config))
        .collect();
    let passages = group(&spans, docs, &story);
    Found {
        passages,
        story,
        copy_pairs: copy_pairs.len(),
        spans: spans.len(),
    }
}

/// Words per n-gram of [`Passage::agreement`].
const RAW_NGRAM: usize = 3;

/// Distinct word 3-grams of `text` as it stands (words split at whitespace, nothing folded:
/// case, punctuation, look-alike characters and OCR noise all count).
fn raw_grams(text: &str) -> Vec<u64> {
    let hashes: Vec<u64> = text
        .split_whitespace()
        .map(|w| hash_bytes(w.as_bytes()))
        .collect();
    let mut grams: Vec<u64> = if hashes.len() < RAW_NGRAM {
        hashes
    } else {
        hashes.windows(RAW_NGRAM).map(combine).collect()
    };
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Join overlapping spans within a document into occurrences, and linked occurrences into
/// passages.
fn group(spans: &[SharedSpan], docs: &[Tokens], story: &[u32]) -> Vec<Passage> {
    // Every span end: (doc, start, end, span index, side).
    let mut ends: Vec<(u32, u32, u32, usize, bool)> = Vec::with_capacity(spans.len() * 2);
    for (k, s) in spans.iter().enumerate() {
        ends.push((s.a, s.a_start, s.a_end, k, false));
        ends.push((s.b, s.b_start, s.b_end, k, true));
    }
    ends.sort_unstable();
    // Merge overlapping ranges of one document into nodes.
    let mut nodes: Vec<(u32, u32, u32)> = Vec::new();
    let mut node_of = vec![[0u32; 2]; spans.len()];
    for &(d, s, e, k, side) in &ends {
        match nodes.last_mut() {
            // Spans that overlap by a word or two (bridged gaps at their ends) are different
            // statements side by side; most of the shorter one must overlap.
            Some(n) if n.0 == d && s < n.2 && 2 * (n.2.min(e) - s) >= (e - s).min(n.2 - n.1) => {
                n.2 = n.2.max(e)
            }
            _ => nodes.push((d, s, e)),
        }
        node_of[k][side as usize] = (nodes.len() - 1) as u32;
    }
    let mut uf = UnionFind::new(nodes.len());
    for nk in &node_of {
        uf.union(nk[0], nk[1]);
    }
    // Components in the order of their first node (document order).
    let mut comp_of = vec![u32::MAX; nodes.len()];
    let mut passages: Vec<Passage> = Vec::new();
    let mut local = vec![0u32; nodes.len()];
    for (i, &(d, ws, we)) in nodes.iter().enumerate() {
        let root = uf.find(i as u32) as usize;
        if comp_of[root] == u32::MAX {
            comp_of[root] = passages.len() as u32;
            passages.push(Passage {
                occurrences: Vec::new(),
                links: Vec::new(),
            });
        }
        let p = &mut passages[comp_of[root] as usize];
        let (start, end) = docs[d as usize].char_range(ws, we);
        local[i] = p.occurrences.len() as u32;
        p.occurrences.push(Occurrence {
            doc: d,
            story: story[d as usize],
            start,
            end,
            word_start: ws,
            word_end: we,
        });
    }
    for (k, nk) in node_of.iter().enumerate() {
        let p = comp_of[uf.find(nk[0]) as usize] as usize;
        let (x, y) = (local[nk[0] as usize], local[nk[1] as usize]);
        let (x, y) = if x <= y { (x, y) } else { (y, x) };
        passages[p].links.push(Link {
            x,
            y,
            seeds: spans[k].seeds,
        });
    }
    for p in &mut passages {
        // Several spans can join the same two occurrences: keep one link with all seeds.
        p.links.sort_unstable_by_key(|l| (l.x, l.y));
        let mut merged: Vec<Link> = Vec::with_capacity(p.links.len());
        for l in p.links.drain(..) {
            match merged.last_mut() {
                Some(m) if m.x == l.x && m.y == l.y => m.seeds += l.seeds,
                _ => merged.push(l),
            }
        }
        p.links = merged;
    }
    passages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PassageConfig {
        PassageConfig {
            ngram: 3,
            min_words: 4,
            ..PassageConfig::default()
        }
    }

    #[test]
    fn tokenize_keeps_char_offsets_of_the_original() {
        let text = "Héllo “World”\nskip me\n  ﬁne day";
        let t = tokenize(text, &[2], false);
        let chars: Vec<char> = text.chars().collect();
        let words: Vec<String> = t
            .offsets
            .iter()
            .map(|&(s, e)| chars[s as usize..e as usize].iter().collect())
            .collect();
        assert_eq!(words, ["Héllo", "World", "ﬁne", "day"]);
        assert_eq!(t.offsets[0], (0, 5));
        // The ligature normalizes to "fine", as the plain spelling does.
        assert_eq!(t.hashes[2], tokenize("fine", &[], false).hashes[0]);
    }

    #[test]
    fn chain_merges_a_gap_and_a_shifted_diagonal() {
        let c = cfg();
        // Diagonal 0 at 0..3, a substituted word, then diagonal +1 (one inserted word).
        let hits = vec![(7, 0, 0), (7, 1, 1), (7, 5, 6), (7, 6, 7)];
        let spans = chain(hits, 2, &c);
        assert_eq!(spans.len(), 1);
        let s = spans[0];
        assert_eq!(
            (s.a, s.b, s.a_start, s.a_end, s.b_start, s.b_end),
            (2, 7, 0, 9, 0, 10)
        );
        assert_eq!(s.seeds, 4);
    }

    #[test]
    fn chain_drops_short_spans_and_keeps_pairs_apart() {
        let c = cfg();
        let spans = chain(vec![(1, 10, 3), (2, 0, 0), (2, 1, 1)], 0, &c);
        // One hit of 3 words is under min_words 4; two hits make 4 words.
        assert_eq!(spans.len(), 1);
        assert_eq!((spans[0].b, spans[0].a_start, spans[0].a_end), (2, 0, 4));
    }

    #[test]
    fn covered_counts_the_union() {
        assert_eq!(covered(vec![(0, 4), (2, 6), (10, 12)]), 8);
        assert_eq!(covered(vec![]), 0);
    }

    #[test]
    fn finds_a_quoted_statement_with_offsets_and_ignores_copies() {
        let quote =
            "the ministry urged all parties to prevent the use of foreign fighters in the conflict";
        let a = format!(
            "Story one about trade talks today in the capital, where delegates from twelve \
             nations met for hours over tariffs, quotas and farm subsidies. Officials said \
             {quote} and left."
        );
        let b = format!(
            "A second story on weather. Heavy storms crossed the northern plains overnight, \
             closing roads and schools in three counties. Elsewhere, {quote}. Rain fell all \
             day long."
        );
        let copy = a.clone();
        let other = "Nothing in common with any other text here at all, just words.".to_owned();
        let texts = [a.as_str(), b.as_str(), copy.as_str(), other.as_str()];
        let tokens: Vec<Tokens> = texts.iter().map(|t| tokenize(t, &[], true)).collect();
        let found = find(&tokens, &PassageConfig::default(), None, &|_, _| false);
        // Documents 0 and 2 are copies: one story.
        assert_eq!(found.story, vec![0, 1, 0, 3]);
        assert_eq!(found.passages.len(), 1);
        let p = &found.passages[0];
        let docs: Vec<u32> = p.occurrences.iter().map(|o| o.doc).collect();
        assert_eq!(docs, vec![0, 1, 2]);
        for o in &p.occurrences {
            let text: String = texts[o.doc as usize]
                .chars()
                .skip(o.start as usize)
                .take((o.end - o.start) as usize)
                .collect();
            assert_eq!(text, quote);
        }
    }

    #[test]
    fn frequent_phrases_are_not_seeds() {
        let phrase = "the foreign ministry said in a statement on tuesday that";
        let texts: Vec<String> = (0..6)
            .map(|i| format!("Story number {i} begins here with its own words {i}. {phrase}"))
            .collect();
        let tokens: Vec<Tokens> = texts.iter().map(|t| tokenize(t, &[], true)).collect();
        let config = PassageConfig {
            max_df: 3,
            ..PassageConfig::default()
        };
        assert!(find(&tokens, &config, None, &|_, _| false)
            .passages
            .is_empty());
    }

    #[test]
    fn by_story_nests_copies_under_the_copy_with_the_exact_wording() {
        let texts = [
            "A host quotes: the minister said exports would double next year.",
            "the minister said exports would double next year.",
            "THE MINISTER SAID EXPORTS WOULD DOUBLE NEXT YEAR.",
            "the minister said exports would double next year. Share this",
        ];
        let span = |doc: u32, story: u32| {
            let text = texts[doc as usize];
            let at = text.to_lowercase().find("the minister").unwrap_or(0) as u32;
            Occurrence {
                doc,
                story,
                start: at,
                end: at + 49,
                word_start: 0,
                word_end: 8,
            }
        };
        // Story 1 holds documents 1, 2 and 3; every copy is linked to the host with one seed
        // count, so the exact wording decides, then the boilerplate lines.
        let p = Passage {
            occurrences: vec![span(0, 0), span(1, 1), span(2, 1), span(3, 1)],
            links: (1..4).map(|y| Link { x: 0, y, seeds: 4 }).collect(),
        };
        let groups = p.by_story(&texts, &[0, 2, 0, 0]);
        assert_eq!(groups.len(), 2);
        assert_eq!((groups[0].story, groups[0].main), (0, 0));
        assert!(groups[0].copies.is_empty());
        // Document 2 is re-cased; document 1 has two boilerplate lines, document 3 none.
        assert_eq!((groups[1].story, groups[1].main), (1, 3));
        assert_eq!(groups[1].copies, vec![1, 2]);
        // Without boilerplate counts the tie goes to the first copy.
        assert_eq!(p.by_story(&texts, &[])[1].main, 1);
    }

    #[test]
    fn spans_that_touch_stay_apart_and_spans_that_overlap_join() {
        let tokens: Vec<Tokens> = (0..3)
            .map(|_| tokenize(&"word ".repeat(40), &[], false))
            .collect();
        let span = |b: u32, a_start: u32, a_end: u32| SharedSpan {
            a: 0,
            b,
            a_start,
            a_end,
            b_start: 0,
            b_end: a_end - a_start,
            seeds: 1,
        };
        // Document 0 shares 0..10 with document 1 and 9..20 with document 2: one word apart
        // from being side by side, so two passages.
        let apart = group(&[span(1, 0, 10), span(2, 9, 20)], &tokens, &[0, 1, 2]);
        assert_eq!(apart.len(), 2);
        // 0..10 and 2..12 are one statement found twice: one passage of three occurrences.
        let joined = group(&[span(1, 0, 10), span(2, 2, 12)], &tokens, &[0, 1, 2]);
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].occurrences.len(), 3);
    }

    #[test]
    fn validate_rejects_bad_settings() {
        let bad = PassageConfig {
            max_df: 1,
            ..PassageConfig::default()
        };
        assert!(bad.validate().is_err());
        assert!(PassageConfig::default().validate().is_ok());
    }
}
