//! Scores of a clustering against truth labels: ARI, pairwise and B-cubed precision/recall/F1.
//!
//! The formulas follow the benchmark's `eval_neardup.py` exactly (same operations, same
//! order), so the two agree to 1e-9 on the same files; a test holds that.

use ahash::AHashMap;
use serde::Serialize;
use std::collections::HashMap;

/// Clustering scores, with the same names as `eval_neardup.py --json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Scores {
    pub docs: usize,
    pub ari: f64,
    pub pair_precision: f64,
    pub pair_recall: f64,
    pub pair_f1: f64,
    pub b3_precision: f64,
    pub b3_recall: f64,
    pub b3_f1: f64,
    pub pred_clusters: usize,
    pub true_clusters: usize,
    pub true_pairs: u64,
    pub pred_pairs: u64,
    pub tp_pairs: u64,
}

fn c2(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Score `pred` against `truth`. Both map id to cluster label; `order` lists the truth ids
/// in file order (the B-cubed sums run in that order, as in the Python scorer). Every truth
/// id must have a prediction (the caller checks and reports missing ids).
pub fn score(
    order: &[String],
    truth: &HashMap<String, String>,
    pred: &HashMap<String, String>,
) -> Scores {
    let n = order.len();
    let mut cont: AHashMap<(&str, &str), u64> = AHashMap::new();
    let mut a: AHashMap<&str, u64> = AHashMap::new();
    let mut b: AHashMap<&str, u64> = AHashMap::new();
    for id in order {
        let t = truth[id].as_str();
        let p = pred[id].as_str();
        *cont.entry((t, p)).or_insert(0) += 1;
        *a.entry(t).or_insert(0) += 1;
        *b.entry(p).or_insert(0) += 1;
    }
    let index: u64 = cont.values().map(|&v| c2(v)).sum();
    let sa: u64 = a.values().map(|&v| c2(v)).sum();
    let sb: u64 = b.values().map(|&v| c2(v)).sum();
    let tot = c2(n as u64);
    let exp = if tot > 0 {
        (sa as f64 * sb as f64) / tot as f64
    } else {
        0.0
    };
    let mx = (sa + sb) as f64 / 2.0;
    let ari = if mx == exp {
        1.0
    } else {
        (index as f64 - exp) / (mx - exp)
    };
    let p = if sb > 0 {
        index as f64 / sb as f64
    } else {
        1.0
    };
    let r = if sa > 0 {
        index as f64 / sa as f64
    } else {
        1.0
    };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    let mut bp_sum = 0.0;
    let mut br_sum = 0.0;
    for id in order {
        let t = truth[id].as_str();
        let pl = pred[id].as_str();
        let c = cont[&(t, pl)] as f64;
        bp_sum += c / b[pl] as f64;
    }
    for id in order {
        let t = truth[id].as_str();
        let pl = pred[id].as_str();
        let c = cont[&(t, pl)] as f64;
        br_sum += c / a[t] as f64;
    }
    let bp = bp_sum / n.max(1) as f64;
    let br = br_sum / n.max(1) as f64;
    let bf = if bp + br > 0.0 {
        2.0 * bp * br / (bp + br)
    } else {
        0.0
    };
    Scores {
        docs: n,
        ari,
        pair_precision: p,
        pair_recall: r,
        pair_f1: f,
        b3_precision: bp,
        b3_recall: br,
        b3_f1: bf,
        pred_clusters: b.len(),
        true_clusters: a.len(),
        true_pairs: sa,
        pred_pairs: sb,
        tp_pairs: index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn perfect_and_known_answers() {
        let order: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let truth = map(&[("a", "1"), ("b", "1"), ("c", "2"), ("d", "3")]);
        let s = score(&order, &truth, &truth);
        assert_eq!(s.ari, 1.0);
        assert_eq!(s.b3_f1, 1.0);
        // Everything in one cluster: 1 true pair of 6 predicted pairs.
        let all = map(&[("a", "x"), ("b", "x"), ("c", "x"), ("d", "x")]);
        let s = score(&order, &truth, &all);
        assert_eq!(s.tp_pairs, 1);
        assert_eq!(s.pred_pairs, 6);
        assert!((s.pair_precision - 1.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.pair_recall, 1.0);
        // ARI is 0 when one side is a single cluster (the expected index equals the index).
        assert!(s.ari.abs() < 1e-12);
        assert!((s.b3_precision - (0.5 + 0.5 + 0.25 + 0.25) / 4.0).abs() < 1e-12);
    }
}
