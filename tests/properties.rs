//! Property tests of the invariants: normalization is idempotent; clusters partition the
//! input; the result does not depend on the thread count or the pair budget, nor on the input
//! order (up to the numbering of clusters); every input record comes out exactly once, in the clusters or in
//! the rejects.

use copydesk::dedup::{self, DedupConfig};
use copydesk::doc::{Doc, Origin};
use copydesk::normalize::normalize;
use copydesk::pipeline::{self, InMemory};
use proptest::prelude::*;
use std::collections::HashSet;

const WORDS: &[&str] = &[
    "the", "minister", "said", "on", "tuesday", "that", "prices", "rose", "sharply", "in", "march",
    "after", "talks", "with", "unions", "failed", "bank", "shares", "fell", "oil",
];

fn text_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..60).prop_map(|w| w.join(" "))
}

/// A corpus with planted copies: some documents are prefixes of earlier ones.
fn corpus_strategy() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec((text_strategy(), any::<bool>(), 0usize..40), 1..25).prop_map(|items| {
        let mut docs: Vec<String> = Vec::new();
        for (text, copy, cut) in items {
            if copy && !docs.is_empty() {
                let source = &docs[cut % docs.len()];
                let words: Vec<&str> = source.split(' ').collect();
                let keep = (words.len() * 3 / 4).max(1);
                docs.push(words[..keep.min(words.len())].join(" "));
            } else {
                docs.push(text);
            }
        }
        docs
    })
}

fn run(docs: &[String], threads: usize) -> Vec<dedup::Assignment> {
    run_with(docs, threads, DedupConfig::default())
}

fn run_with(docs: &[String], threads: usize, config: DedupConfig) -> Vec<dedup::Assignment> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let docs: Vec<Doc> = docs
            .iter()
            .enumerate()
            .map(|(i, text)| Doc {
                id: i.to_string(),
                text: text.clone(),
                site: None,
                origin: Origin {
                    path: "mem".into(),
                    line: Some(i as u64 + 1),
                },
            })
            .collect();
        pipeline::dedup(&InMemory(&docs), &config, true, &|_, _| {})
            .expect("in memory, with nothing to spill, dedup cannot fail")
            .assignments
    })
}

/// The clusters of an assignment as sets of document indices (cluster numbers forgotten),
/// with `index[k]` the original index of document `k`.
fn partition(assignments: &[dedup::Assignment], index: &[usize]) -> Vec<Vec<usize>> {
    let clusters = assignments
        .iter()
        .map(|a| a.cluster)
        .max()
        .map_or(0, |m| m + 1);
    let mut groups = vec![Vec::new(); clusters as usize];
    for (k, a) in assignments.iter().enumerate() {
        groups[a.cluster as usize].push(index[k]);
    }
    for g in &mut groups {
        g.sort_unstable();
    }
    groups.sort();
    groups
}

/// A corpus and a shuffled order of it.
fn shuffled_corpus_strategy() -> impl Strategy<Value = (Vec<String>, Vec<usize>)> {
    corpus_strategy().prop_flat_map(|docs| {
        let order: Vec<usize> = (0..docs.len()).collect();
        (Just(docs), Just(order).prop_shuffle())
    })
}

/// One JSONL input line, and what it is.
#[derive(Clone, Debug)]
enum Record {
    /// A valid record with this id (drawn from a small pool, so ids repeat).
    Id(u8, String),
    /// A valid record without an id: its id is FILE:LINE.
    NoId(String),
    /// A record without a text field.
    NoText(u8),
    /// A line that is not JSON.
    Broken,
}

fn record_strategy() -> impl Strategy<Value = Record> {
    prop_oneof![
        6 => (0u8..12, text_strategy()).prop_map(|(i, t)| Record::Id(i, t)),
        2 => text_strategy().prop_map(Record::NoId),
        1 => (0u8..12).prop_map(Record::NoText),
        1 => Just(Record::Broken),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn normalization_is_idempotent(s in "\\PC{0,80}") {
        let once = normalize(&s);
        prop_assert_eq!(normalize(&once), once);
    }

    #[test]
    fn normalization_is_idempotent_on_tricky_text(s in "[a-zA-Z \\n\\-\u{00AD}\u{200B}\u{FEFF}İıẞßﬁ“”‘’–—\u{00A0}]{0,60}") {
        let once = normalize(&s);
        prop_assert_eq!(normalize(&once), once);
    }

    #[test]
    fn clusters_partition_the_input(docs in corpus_strategy()) {
        let a = run(&docs, 1);
        prop_assert_eq!(a.len(), docs.len());
        for (i, x) in a.iter().enumerate() {
            match x.duplicate_of {
                None => prop_assert!(x.similarity.is_none()),
                Some(k) => {
                    let kept = &a[k as usize];
                    prop_assert_eq!(kept.cluster, x.cluster, "duplicate_of is in the same cluster");
                    prop_assert!(kept.duplicate_of.is_none(), "duplicate_of points at a kept document");
                    prop_assert!(k as usize != i);
                }
            }
        }
        // Exactly one kept document per cluster, clusters numbered by first appearance.
        let clusters = a.iter().map(|x| x.cluster).max().map_or(0, |m| m + 1);
        for c in 0..clusters {
            prop_assert_eq!(a.iter().filter(|x| x.cluster == c && x.duplicate_of.is_none()).count(), 1);
        }
        let mut next = 0;
        for x in &a {
            prop_assert!(x.cluster <= next);
            if x.cluster == next { next += 1; }
        }
    }

    #[test]
    fn output_is_independent_of_thread_count(docs in corpus_strategy()) {
        prop_assert_eq!(run(&docs, 1), run(&docs, 2));
    }

    /// Verifying in rounds of a few pairs (skipping pairs already joined), and in windows of
    /// a few documents' states, changes nothing.
    #[test]
    fn output_is_independent_of_the_pair_and_state_budgets(docs in corpus_strategy(), budget in 1usize..8) {
        let tight = DedupConfig {
            pair_budget: budget,
            state_budget: budget * 200,
            ..DedupConfig::default()
        };
        prop_assert_eq!(run_with(&docs, 2, tight), run(&docs, 2));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn shuffled_input_gives_the_same_clusters((docs, order) in shuffled_corpus_strategy()) {
        let shuffled: Vec<String> = order.iter().map(|&i| docs[i].clone()).collect();
        let identity: Vec<usize> = (0..docs.len()).collect();
        prop_assert_eq!(
            partition(&run(&docs, 1), &identity),
            partition(&run(&shuffled, 1), &order)
        );
    }
}

proptest! {
    // Each case runs the binary once.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_input_record_comes_out_exactly_once(records in prop::collection::vec(record_strategy(), 1..30)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let input = dir.path().join("input.jsonl");
        let mut jsonl = String::new();
        for r in &records {
            let line = match r {
                Record::Id(i, t) => serde_json::json!({"id": format!("doc-{i}"), "text": t}).to_string(),
                Record::NoId(t) => serde_json::json!({"text": t}).to_string(),
                Record::NoText(i) => serde_json::json!({"id": format!("doc-{i}")}).to_string(),
                Record::Broken => "{\"id\": \"broken".to_owned(),
            };
            jsonl.push_str(&line);
            jsonl.push('\n');
        }
        std::fs::write(&input, jsonl).expect("write input");
        let clusters = dir.path().join("clusters.jsonl");
        let rejects = dir.path().join("rejects.jsonl");
        assert_cmd::Command::cargo_bin("copydesk")
            .expect("binary")
            .arg("dedup")
            .arg(&input)
            .args(["--on-error", "skip", "--output"])
            .arg(&clusters)
            .arg("--rejects")
            .arg(&rejects)
            .assert()
            .success();
        let read = |p: &std::path::Path| -> Vec<serde_json::Value> {
            std::fs::read_to_string(p)
                .expect("output")
                .lines()
                .map(|l| serde_json::from_str(l).expect("JSON line"))
                .collect()
        };
        let out_ids: Vec<String> = read(&clusters)
            .iter()
            .map(|r| r["id"].as_str().unwrap_or("").to_owned())
            .collect();
        let reject_lines: Vec<String> = read(&rejects)
            .iter()
            .map(|r| r["origin"].as_str().unwrap_or("").to_owned())
            .collect();
        // What must come out: the first record of each id in the clusters, everything else in
        // the rejects, both in input order.
        let mut seen = HashSet::new();
        let mut want_ids = Vec::new();
        let mut want_rejects = Vec::new();
        for (n, r) in records.iter().enumerate() {
            let origin = format!("{}:{}", input.display(), n + 1);
            let id = match r {
                Record::Id(i, _) => format!("doc-{i}"),
                Record::NoId(_) => origin.clone(),
                Record::NoText(_) | Record::Broken => {
                    want_rejects.push(origin);
                    continue;
                }
            };
            if seen.insert(id.clone()) {
                want_ids.push(id);
            } else {
                want_rejects.push(origin);
            }
        }
        let distinct: HashSet<&String> = out_ids.iter().collect();
        prop_assert_eq!(distinct.len(), out_ids.len(), "an id appears twice");
        prop_assert_eq!(out_ids.len() + reject_lines.len(), records.len());
        prop_assert_eq!(out_ids, want_ids);
        prop_assert_eq!(reject_lines, want_rejects);
    }
}
