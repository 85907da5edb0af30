//! Dedup of a corpus read in passes, holding a few hundred bytes per document between passes:
//! no text, no shingle set.
//!
//! 1. **Lines** (when cleaning or the repeated-line filter is on): count each site's lines and
//!    the short lines repeated across documents ([`LineCounts`]).
//! 2. **Sketch**: every document's matching text is shingled and hashed; what stays is its LSH
//!    band keys (or SimHash, [`CandidateKeys`]), its length, the lines its matching text left
//!    out ([`DroppedLines`]), and its shingles' document frequencies, added to a fixed-size
//!    count-min sketch ([`DocFrequency`]).
//! 3. **Verify**: candidate pairs come from the band keys, one table at a time. The corpus is
//!    read again, for the documents in candidate pairs only (the corpus need not parse the
//!    others), and their shingle sets are rebuilt from their
//!    text and dropped lines (not cleaned again), without stock shingles, and compared exactly
//!    with [`verify_pair`]; a set is dropped once its last
//!    partner has been checked. When the pairs outgrow [`DedupConfig::pair_budget`] this pass
//!    runs in rounds, each skipping the pairs that earlier rounds already joined
//!    ([`CandidateKeys::search`]).
//! 4. **Similarity**: clusters are joined by union-find. A duplicate verified directly against
//!    its kept document already has its similarity, and so does an exact copy of it (1, unless
//!    every shingle of the copy is stock: one shingle per document kept from pass 2 shows
//!    that); one more read rebuilds the sets of the others and their kept documents.
//!
//! Each document's state is a pure function of the corpus-wide counts and its own text, and
//! pairs are sorted, so the outcome does not depend on batch sizes or thread count. It equals
//! [`crate::dedup::cluster`] over [`crate::dedup::sketch_docs`] of the same documents.

use crate::cluster::{self, UnionFind};
use crate::dedup::{
    boilerplate_lines, dropped_lines_given, exact_copies, join_exact_copies, merge_lines,
    search_entry, stock_cap, verification_sketch, verify_pair, without_lines, CandidateKeys,
    DedupConfig, DocFrequency, DroppedLines, LineCounts, LineStats, Outcome, SearchEntry,
    ShortLine, Sketch,
};
use crate::doc::Doc;
use crate::shingle::Unit;
use crate::verify::{self, Similarity};
use ahash::AHashMap;
use rayon::prelude::*;

/// Documents handed over together, each with its position: its index in the corpus.
#[derive(Clone, Copy)]
pub struct Batch<'a> {
    pub docs: &'a [Doc],
    /// `positions[k]` is the position of `docs[k]`; increasing.
    pub positions: &'a [usize],
}

/// A corpus that can be read more than once, giving the same documents in the same order.
pub trait Corpus {
    type Error;
    /// Call `batch` with every document whose position `wanted` accepts, in batches, in
    /// corpus order. A read need not do any work for the documents `wanted` declines (a pass
    /// that needs a few documents should not pay for parsing the others); `wanted` may be
    /// asked about any position, any number of times.
    fn for_each_batch(
        &self,
        wanted: &dyn Fn(usize) -> bool,
        batch: &mut dyn FnMut(Batch<'_>),
    ) -> Result<(), Self::Error>;
}

/// The `wanted` of a read of every document.
pub fn every_document(_: usize) -> bool {
    true
}

/// Documents already in memory.
pub struct InMemory<'a>(pub &'a [Doc]);

/// Documents per batch of [`InMemory`]: enough to keep every core busy.
const BATCH: usize = 4096;

impl Corpus for InMemory<'_> {
    type Error = crate::Error;
    fn for_each_batch(
        &self,
        wanted: &dyn Fn(usize) -> bool,
        batch: &mut dyn FnMut(Batch<'_>),
    ) -> Result<(), Self::Error> {
        in_runs(self.0, BATCH, wanted, batch);
        Ok(())
    }
}

/// Hand `docs` to `batch` in runs of consecutive wanted documents (at most `size` each), so
/// that a batch is a slice of `docs` and no document is copied.
fn in_runs(
    docs: &[Doc],
    size: usize,
    wanted: &dyn Fn(usize) -> bool,
    batch: &mut dyn FnMut(Batch<'_>),
) {
    let mut positions: Vec<usize> = Vec::new();
    let mut start = 0;
    while start < docs.len() {
        if !wanted(start) {
            start += 1;
            continue;
        }
        let mut end = start + 1;
        while end < docs.len() && end - start < size && wanted(end) {
            end += 1;
        }
        positions.clear();
        positions.extend(start..end);
        batch(Batch {
            docs: &docs[start..end],
            positions: &positions,
        });
        start = end;
    }
}

/// The passes, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Lines,
    Sketch,
    Verify,
    Similarity,
}

impl Pass {
    pub fn as_str(&self) -> &'static str {
        match self {
            Pass::Lines => "counting lines",
            Pass::Sketch => "sketching",
            Pass::Verify => "verifying",
            Pass::Similarity => "measuring similarity",
        }
    }
}

/// The boilerplate lines of the pages pass 1 classified (those without a site), run-length
/// coded, and which pages those are.
#[derive(Default)]
struct ClassifiedPages {
    lines: DroppedLines,
    classified: Vec<bool>,
}

impl ClassifiedPages {
    /// Append the next document: its boilerplate lines, or None when pass 2 classifies it.
    fn push(&mut self, lines: Option<&[u32]>) {
        self.classified.push(lines.is_some());
        self.lines.push(lines.unwrap_or_default());
    }

    /// The boilerplate lines of document `doc`, when pass 1 classified it.
    fn get(&self, doc: usize) -> Option<Vec<u32>> {
        self.classified
            .get(doc)
            .copied()
            .unwrap_or(false)
            .then(|| self.lines.get(doc))
    }
}

/// What pass 2 keeps of every document, in corpus order.
struct Pass2State {
    index: CandidateKeys,
    content: Vec<Option<u64>>,
    lengths: Vec<usize>,
    witnesses: Vec<u64>,
    /// What cleaning and the repeated-line filter dropped from each document: later passes
    /// rebuild matching texts from it without cleaning again.
    dropped: DroppedLines,
    /// The first error storing band keys: it stops the run after the pass.
    failure: Option<crate::Error>,
}

impl Pass2State {
    fn new(config: &DedupConfig) -> Pass2State {
        Pass2State {
            index: CandidateKeys::new(config),
            content: Vec::new(),
            lengths: Vec::new(),
            witnesses: Vec::new(),
            dropped: DroppedLines::default(),
            failure: None,
        }
    }

    /// Append the next documents' sketches.
    fn store(&mut self, sketched: Vec<(SearchEntry, Vec<u32>)>) {
        for (entry, lines) in sketched {
            if let Err(e) = self.index.push(entry.keys) {
                self.failure.get_or_insert(e);
            }
            self.content.push(entry.content);
            self.lengths.push(entry.chars);
            self.witnesses.push(entry.witness);
            self.dropped.push(&lines);
        }
    }
}

/// Cluster the documents of `corpus`. `progress(pass, documents)` is called after each batch
/// with the number of documents the pass has done so far.
pub fn dedup<C: Corpus>(
    corpus: &C,
    config: &DedupConfig,
    clean: bool,
    progress: &dyn Fn(Pass, usize),
) -> Result<Outcome, C::Error>
where
    C::Error: From<crate::Error>,
{
    // Pass 1: lines. Each document's short lines are kept (about two a document) until the
    // counts are known, then only the repeated ones: pass 2 need not hash its lines again.
    // A page without a site is classified here too (site templates need a site), while the
    // reader, not the workers, sets the pace; pass 2 classifies only pages with a site.
    let (stats, repeated, pages) = if clean || config.repeat_min_docs > 0 {
        let mut counts = LineCounts::default();
        let mut short: Vec<ShortLine> = Vec::new();
        let mut short_starts: Vec<usize> = vec![0];
        let mut pages = ClassifiedPages::default();
        let mut done = 0;
        corpus.for_each_batch(&every_document, &mut |batch| {
            let lines: Vec<(Vec<ShortLine>, Option<Vec<u32>>)> = batch
                .docs
                .par_iter()
                .map(|d| {
                    let page =
                        (clean && d.site.is_none()).then(|| boilerplate_lines(&d.text, None, None));
                    (config.short_lines(&d.text), page)
                })
                .collect();
            let (shorts, classified): (Vec<_>, Vec<_>) = lines.into_iter().unzip();
            counts.observe_docs_with(batch.docs, &shorts, clean);
            for (doc_short, page) in shorts.into_iter().zip(classified) {
                short.extend(doc_short);
                short_starts.push(short.len());
                pages.push(page.as_deref());
            }
            done += batch.docs.len();
            progress(Pass::Lines, done);
        })?;
        let stats = counts.finish(config, clean);
        let mut repeated = DroppedLines::default();
        for doc in short_starts.windows(2) {
            repeated.push(&stats.repeated_among(&short[doc[0]..doc[1]]));
        }
        (stats, repeated, pages)
    } else {
        (
            LineStats::default(),
            DroppedLines::default(),
            ClassifiedPages::default(),
        )
    };

    // Pass 2: sketches, reduced to what candidate search needs.
    let df = DocFrequency::default();
    // The workers make band keys with `banding` while `kept.index`, which stores them, takes
    // the previous batch's.
    let banding = CandidateKeys::new(config);
    let mut kept = Pass2State::new(config);
    // A batch's sketches are kept while the workers sketch the next one, so that the workers
    // do not wait for them to be stored.
    let mut sketched: Vec<(SearchEntry, Vec<u32>)> = Vec::new();
    corpus.for_each_batch(&every_document, &mut |batch| {
        let earlier = std::mem::take(&mut sketched);
        let state = &mut kept;
        (sketched, ()) = rayon::join(
            || {
                batch
                    .docs
                    .par_iter()
                    .zip(batch.positions)
                    .map(|(d, &position)| {
                        let lines = match pages.get(position) {
                            Some(page) => merge_lines(page, &repeated.get(position)),
                            None => dropped_lines_given(
                                &d.text,
                                d.site.as_deref(),
                                &stats,
                                &repeated.get(position),
                            ),
                        };
                        let text = without_lines(&d.text, &lines);
                        (search_entry(&text, config, &banding, &df), lines)
                    })
                    .collect()
            },
            || state.store(earlier),
        );
        progress(Pass::Sketch, kept.lengths.len() + sketched.len());
    })?;
    kept.store(sketched);
    let Pass2State {
        index,
        content,
        lengths,
        witnesses,
        dropped,
        failure,
    } = kept;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let n = lengths.len();

    let copies = exact_copies(&content);
    drop(content);

    // Pass 3: exact verification of the candidate pairs (one read per round; one round unless
    // the pairs outgrow the budget).
    // One bit a counter stays in cache; the counters themselves cost a cache miss a shingle.
    let stock = df.over(stock_cap(n, config));
    drop(df);
    let with_sequence = config.similarity == Similarity::Containment;
    drop(stats);
    drop(repeated);
    drop(pages);
    // Document `i`'s verification state, rebuilt from its text and dropped lines.
    let verified = |i: u32, d: &Doc, sequence: bool| {
        let text = without_lines(&d.text, &dropped.get(i as usize));
        verification_sketch(&text, config, &stock, sequence)
    };
    let state = |i: u32, d: &Doc| verified(i, d, with_sequence);
    // About what a document's state holds: 8 bytes a shingle for the set, 8 more for the
    // sequence; a word shingle per 6 characters or so.
    let state_bytes = |d: u32, sequence: bool| {
        let chars = lengths.get(d as usize).copied().unwrap_or(0);
        let shingles = match config.shingle.unit {
            Unit::Char => chars,
            Unit::Word => chars / 6 + 1,
        };
        shingles * if sequence { 16 } else { 8 }
    };
    let similarity = config.similarity;
    // Each document's smallest verified partner and their similarity: for most duplicates that
    // is the kept document, so pass 4 need not rebuild them. Pass 4 fills in the others.
    let mut partner: Vec<u32> = vec![u32::MAX; n];
    let mut similarity_of: Vec<f64> = vec![0.0; n];
    let mut uf = UnionFind::new(n);
    let search = index.search(&copies, config.pair_budget, &mut uf, |pairs| {
        let checked = for_each_pair(
            corpus,
            pairs,
            &|d| state_bytes(d, with_sequence),
            config.state_budget,
            &state,
            &|a, b| verify_pair(a, b, config),
            &|done| progress(Pass::Verify, done),
        )?;
        for (&(i, j), &(edge, s)) in pairs.iter().zip(&checked) {
            if edge {
                for (d, other) in [(i, j), (j, i)] {
                    if other < partner[d as usize] {
                        partner[d as usize] = other;
                        similarity_of[d as usize] = s;
                    }
                }
            }
        }
        Ok::<_, C::Error>(checked.into_iter().map(|(edge, _)| edge).collect())
    })?;
    drop(index);
    let exact = join_exact_copies(&mut uf, &copies);
    let clusters = cluster::assign(&mut uf, config.keep, &lengths);

    // Pass 4: the similarity to its kept document of each duplicate that was not verified
    // against it directly. An exact copy of its kept document has the same verification set,
    // so similarity 1 unless that set is empty: its witness shingle not being stock shows it
    // is not (most duplicates not verified directly are such copies).
    let first_copy = |d: u32| copies[d as usize].unwrap_or(d);
    let mut to_kept: Vec<(u32, u32)> = Vec::new();
    for i in 0..n as u32 {
        let k = clusters.kept[clusters.cluster[i as usize] as usize];
        if k == i || partner[i as usize] == k {
            continue;
        }
        if first_copy(i) == first_copy(k) && !stock.contains(witnesses[k as usize]) {
            similarity_of[i as usize] = 1.0;
        } else {
            to_kept.push((i.min(k), i.max(k)));
        }
    }
    drop(partner);
    drop(copies);
    drop(witnesses);
    to_kept.sort_unstable();
    let set_only = |i: u32, d: &Doc| verified(i, d, false);
    let similarities = for_each_pair(
        corpus,
        &to_kept,
        &|d| state_bytes(d, false),
        config.state_budget,
        &set_only,
        &|a, b| verify::similarity(&a.set, &b.set, similarity),
        &|done| progress(Pass::Similarity, done),
    )?;
    for ((i, j), s) in to_kept.iter().zip(similarities) {
        let k = clusters.kept[clusters.cluster[*i as usize] as usize];
        let dup = if k == *i { *j } else { *i };
        similarity_of[dup as usize] = s;
    }

    Ok(Outcome::of(
        &clusters,
        |i, _| similarity_of[i],
        exact,
        search,
    ))
}

/// Apply `f` to every pair of `pairs` (sorted, `i < j`), with the states `state` builds for
/// both documents, reading the corpus once per window of earlier documents: a window takes
/// pairs in order while the estimated states (`bytes`) of its earlier documents stay within
/// `budget` (always at least one document), so memory for states stays bounded however far
/// apart the partners are. Results come back in the order of `pairs`.
fn for_each_pair<C: Corpus, R: Send + Default + Clone>(
    corpus: &C,
    pairs: &[(u32, u32)],
    bytes: &dyn Fn(u32) -> usize,
    budget: usize,
    state: &(dyn Fn(u32, &Doc) -> Sketch + Sync),
    f: &(dyn Fn(&Sketch, &Sketch) -> R + Sync),
    progress: &dyn Fn(usize),
) -> Result<Vec<R>, C::Error> {
    let mut results = Vec::with_capacity(pairs.len());
    let mut start = 0;
    while start < pairs.len() {
        let mut end = start;
        let mut held = 0usize;
        while end < pairs.len() {
            let first = pairs[end].0;
            let cost = bytes(first);
            if end > start && held.saturating_add(cost) > budget {
                break;
            }
            held = held.saturating_add(cost);
            while end < pairs.len() && pairs[end].0 == first {
                end += 1;
            }
        }
        results.extend(one_pass(corpus, &pairs[start..end], state, f, progress)?);
        start = end;
    }
    Ok(results)
}

/// Read the documents in `pairs` once and apply `f` to every pair (sorted, `i < j`), with the
/// states `state` builds for both documents. A state is built only for documents in a pair and
/// kept only until its last partner has been read, so memory holds the states of the
/// documents whose partners are still ahead. Results come back in the order of `pairs`.
fn one_pass<C: Corpus, R: Send + Default + Clone>(
    corpus: &C,
    pairs: &[(u32, u32)],
    state: &(dyn Fn(u32, &Doc) -> Sketch + Sync),
    f: &(dyn Fn(&Sketch, &Sketch) -> R + Sync),
    progress: &dyn Fn(usize),
) -> Result<Vec<R>, C::Error> {
    let mut results = vec![R::default(); pairs.len()];
    if pairs.is_empty() {
        return Ok(results);
    }
    // Pairs by their later document, and the last partner of every document.
    let mut by_later: Vec<usize> = (0..pairs.len()).collect();
    by_later.sort_unstable_by_key(|&p| (pairs[p].1, pairs[p].0));
    // `last[d]`: the last partner of document d (u32::MAX: d is in no pair).
    let docs = pairs.iter().map(|p| p.1 as usize + 1).max().unwrap_or(0);
    let mut last: Vec<u32> = vec![u32::MAX; docs];
    for &(i, j) in pairs {
        for (d, partner) in [(i, j), (j, j)] {
            let l = &mut last[d as usize];
            *l = if *l == u32::MAX {
                partner
            } else {
                (*l).max(partner)
            };
        }
    }
    let in_pair = |d: usize| last.get(d).is_some_and(|l| *l != u32::MAX);
    let mut open: AHashMap<u32, Sketch> = AHashMap::new();
    let mut cursor = 0usize;
    corpus.for_each_batch(&in_pair, &mut |batch| {
        // Every document before `end` has been read (those in no pair were passed over).
        let Some(end) = batch.positions.last().map(|p| p + 1) else {
            return;
        };
        let fresh: Vec<(u32, Sketch)> = batch
            .docs
            .par_iter()
            .zip(batch.positions)
            .map(|(d, &p)| (p as u32, state(p as u32, d)))
            .collect();
        open.extend(fresh);
        // Every pair whose later document is in this batch now has both states.
        let from = cursor;
        while cursor < by_later.len() && (pairs[by_later[cursor]].1 as usize) < end {
            cursor += 1;
        }
        let due = &by_later[from..cursor];
        let done: Vec<(usize, R)> = due
            .par_iter()
            .filter_map(|&p| {
                let (i, j) = pairs[p];
                Some((p, f(open.get(&i)?, open.get(&j)?)))
            })
            .collect();
        for (p, r) in done {
            results[p] = r;
        }
        open.retain(|id, _| last.get(*id as usize).is_some_and(|l| *l as usize >= end));
        progress(end);
    })?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::{self, Method};
    use crate::doc::Origin;

    fn doc(id: usize, text: &str) -> Doc {
        Doc {
            id: id.to_string(),
            text: text.to_string(),
            site: None,
            origin: Origin {
                path: "mem".into(),
                line: Some(id as u64 + 1),
            },
        }
    }

    /// A corpus that hands out batches of a fixed size, to move batch boundaries around.
    struct Batched<'a>(&'a [Doc], usize);
    impl Corpus for Batched<'_> {
        type Error = crate::Error;
        fn for_each_batch(
            &self,
            wanted: &dyn Fn(usize) -> bool,
            batch: &mut dyn FnMut(Batch<'_>),
        ) -> Result<(), Self::Error> {
            in_runs(self.0, self.1, wanted, batch);
            Ok(())
        }
    }

    fn corpus() -> Vec<Doc> {
        let story = "The central bank raised its main interest rate by half a point on Tuesday, \
            the third increase this year, citing inflation that has stayed above its target. \
            Officials said further moves would depend on wage growth and energy prices over the winter. \
            Markets had expected a smaller step, and the currency rose after the announcement.";
        let other =
            "Heavy snow closed the mountain pass for the second day as crews worked to clear \
            drifts of up to three metres, and the police advised drivers to wait for the weekend.";
        vec![
            doc(0, other),
            doc(1, story),
            doc(2, &format!("{story} Analysts were surprised.")),
            doc(3, &story[..150]),
            doc(4, &format!("BERLIN (Reuters) - {story}")),
            doc(5, "Short unrelated text about gardening tips for spring."),
            doc(6, story),
            doc(7, &format!("  {}  ", story.to_uppercase())),
        ]
    }

    #[test]
    fn equals_the_in_memory_clustering_for_any_batch_size() {
        let docs = corpus();
        for config in [
            DedupConfig::default(),
            DedupConfig {
                similarity: Similarity::Jaccard,
                threshold: 0.8,
                ..DedupConfig::default()
            },
            DedupConfig {
                method: Method::Simhash,
                ..DedupConfig::default()
            },
        ] {
            let expected =
                dedup::cluster(dedup::sketch_docs(&docs, &config, true, &|| {}), &config).unwrap();
            for size in [1, 2, 4, 100] {
                let got = dedup(&Batched(&docs, size), &config, true, &|_, _| {}).unwrap();
                assert_eq!(got.assignments, expected.assignments, "batch {size}");
                assert_eq!(got.candidate_pairs, expected.candidate_pairs);
                assert_eq!(got.verified_edges, expected.verified_edges);
            }
            // A budget of one pair verifies in many rounds, skipping pairs already joined
            // (and checking again a rejected pair that meets in a later table), and a state
            // budget of one byte reads the corpus once per earlier document: the same clusters.
            let tight = DedupConfig {
                pair_budget: 1,
                state_budget: 1,
                ..config.clone()
            };
            let got = dedup(&Batched(&docs, 3), &tight, true, &|_, _| {}).unwrap();
            assert_eq!(got.assignments, expected.assignments, "budget 1");
            assert!(got.candidate_pairs > 0);
            let in_memory =
                dedup::cluster(dedup::sketch_docs(&docs, &tight, true, &|| {}), &tight).unwrap();
            assert_eq!(in_memory.assignments, expected.assignments);
            assert_eq!(in_memory.candidate_pairs, got.candidate_pairs);
        }
    }

    #[test]
    fn exact_copies_whose_shingles_are_all_stock_have_similarity_zero_as_in_memory() {
        // Three copies put every shingle of the story over a cap of one document: its
        // verification set is empty, so a copy's similarity is 0, not 1.
        let docs = corpus();
        let copies = vec![
            docs[1].clone(),
            docs[6].clone(),
            docs[0].clone(),
            docs[1].clone(),
        ];
        let config = DedupConfig {
            min_df_cap: 1,
            max_df_share: 0.0,
            ..DedupConfig::default()
        };
        let expected =
            dedup::cluster(dedup::sketch_docs(&copies, &config, true, &|| {}), &config).unwrap();
        let got = dedup(&Batched(&copies, 2), &config, true, &|_, _| {}).unwrap();
        assert_eq!(got.assignments, expected.assignments);
        assert_eq!(got.assignments[1].similarity, Some(0.0));
        // Under the default cap the same copies have similarity 1.
        let got = dedup(
            &Batched(&copies, 2),
            &DedupConfig::default(),
            true,
            &|_, _| {},
        )
        .unwrap();
        assert_eq!(got.assignments[1].similarity, Some(1.0));
        assert_eq!(got.assignments[3].duplicate_of, Some(0));
    }

    #[test]
    fn a_read_of_some_positions_hands_over_those_documents() {
        let docs = corpus();
        for size in [1, 2, 3, 100] {
            let mut got = Vec::new();
            Batched(&docs, size)
                .for_each_batch(&|p| p % 3 != 1, &mut |batch| {
                    assert!(batch.docs.len() <= size);
                    for (d, &p) in batch.docs.iter().zip(batch.positions) {
                        got.push((p, d.id.clone()));
                    }
                })
                .unwrap();
            let expected: Vec<(usize, String)> = (0..docs.len())
                .filter(|p| p % 3 != 1)
                .map(|p| (p, docs[p].id.clone()))
                .collect();
            assert_eq!(got, expected, "batch {size}");
        }
    }

    #[test]
    fn reprints_join_and_others_stay_apart() {
        let docs = corpus();
        let out = dedup(&InMemory(&docs), &DedupConfig::default(), true, &|_, _| {}).unwrap();
        let a = &out.assignments;
        assert_eq!(a[2].duplicate_of, Some(1));
        assert_eq!(a[3].duplicate_of, Some(1));
        assert_eq!(a[4].duplicate_of, Some(1));
        assert_eq!(a[0].duplicate_of, None);
        assert_eq!(a[5].duplicate_of, None);
        assert!(a[2].similarity.is_some_and(|s| s > 0.9));
        // 6 and 7 normalize to 1's text: joined as exact copies, without candidate search.
        assert_eq!(a[6].duplicate_of, Some(1));
        assert_eq!(a[7].duplicate_of, Some(1));
        assert_eq!(a[7].similarity, Some(1.0));
        assert_eq!(out.exact_copies, 2);
    }
}
