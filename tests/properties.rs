//! Property tests of the invariants: normalization is idempotent; clusters partition the
//! input; the result does not depend on the thread count.

use copydesk::dedup::{self, DedupConfig};
use copydesk::doc::{Doc, Origin};
use copydesk::normalize::normalize;
use copydesk::pipeline::{self, InMemory};
use proptest::prelude::*;

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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let config = DedupConfig::default();
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
        match pipeline::dedup(&InMemory(&docs), &config, true, &|_, _| {}) {
            Ok(outcome) => outcome.assignments,
            Err(never) => match never {},
        }
    })
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
}
