//! Exact similarity of two shingle sets (sorted, deduplicated `u64` slices).
//!
//! Every candidate pair that LSH proposes is checked here before it becomes an edge:
//! a hash collision in a band is a reason to look, never a reason to merge.

use serde::{Deserialize, Serialize};

/// Which exact similarity a candidate pair must reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Similarity {
    /// |A∩B| / |A∪B|: for copies of about the same length.
    Jaccard,
    /// |A∩B| / min(|A|,|B|): a lede-only reprint is contained in its story.
    Containment,
}

/// Size of the intersection of two sorted, deduplicated slices.
pub fn intersection_size(a: &[u64], b: &[u64]) -> usize {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if small.is_empty() {
        return 0;
    }
    // Galloping pays off when one set is much smaller than the other.
    if small.len() * 16 < large.len() {
        return small
            .iter()
            .filter(|x| large.binary_search(x).is_ok())
            .count();
    }
    // Without branches on the comparison: which side moves is a coin toss for the branch
    // predictor, and both move on a match.
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < small.len() && j < large.len() {
        let (x, y) = (small[i], large[j]);
        n += usize::from(x == y);
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    n
}

/// Exact Jaccard similarity; two empty sets are not similar (0.0).
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let inter = intersection_size(a, b);
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// Exact containment |A∩B| / min(|A|,|B|); 0.0 when either set is empty.
pub fn containment(a: &[u64], b: &[u64]) -> f64 {
    let min = a.len().min(b.len());
    if min == 0 {
        0.0
    } else {
        intersection_size(a, b) as f64 / min as f64
    }
}

/// The similarity of two sets under the chosen measure.
pub fn similarity(a: &[u64], b: &[u64], measure: Similarity) -> f64 {
    match measure {
        Similarity::Jaccard => jaccard(a, b),
        Similarity::Containment => containment(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let a = [1, 2, 3, 4];
        let b = [3, 4, 5, 6, 7, 8];
        assert_eq!(intersection_size(&a, &b), 2);
        assert!((jaccard(&a, &b) - 0.25).abs() < 1e-12);
        assert!((containment(&a, &b) - 0.5).abs() < 1e-12);
        assert_eq!(jaccard(&[], &[]), 0.0);
        assert_eq!(containment(&[], &[1]), 0.0);
        let big: Vec<u64> = (0..1000).collect();
        assert_eq!(intersection_size(&[5, 500, 2000], &big), 2);
        assert_eq!(containment(&[5, 500], &big), 1.0);
    }
}
