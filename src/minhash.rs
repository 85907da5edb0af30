//! MinHash signatures by one-permutation hashing with optimal densification.
//!
//! Classic MinHash applies k hash functions to every shingle (O(n·k)). One-permutation
//! hashing (Li, Owen, Zhang 2012) hashes each shingle once, sends it to one of k bins by
//! its high bits and keeps the minimum of its low bits per bin (O(n + k)). Empty bins are
//! filled by optimal densification (Shrivastava 2017): bin i borrows the value of the
//! first non-empty bin on its own fixed pseudo-random probe sequence, so two documents
//! agree on a bin with probability equal to their Jaccard similarity.
//!
//! Signatures are deterministic functions of the shingle hashes and `k` alone.

/// A MinHash signature: one `u32` per bin.
pub type Signature = Vec<u32>;

/// Value of a bin when the document had no shingles at all.
pub const EMPTY: u32 = u32::MAX;

#[inline]
fn mix(mut x: u64) -> u64 {
    // splitmix64 finalizer: decorrelates the bin choice from the shingle hash's own bits.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Compute a `k`-bin signature from shingle hashes (a set or a sequence: repeats do not matter).
pub fn signature(shingles: &[u64], k: usize) -> Signature {
    let mut sig = vec![EMPTY; k];
    signature_into(shingles, &mut sig);
    sig
}

/// Fill `sig` (its length is k) with the signature of `shingles`.
pub fn signature_into(shingles: &[u64], sig: &mut [u32]) {
    let k = sig.len();
    sig.fill(EMPTY);
    if k == 0 {
        return;
    }
    for &s in shingles {
        let h = mix(s);
        let bin = ((h as u128 * k as u128) >> 64) as usize;
        // The low bits as the value; keep them below EMPTY so a bin that got a shingle is
        // told from an empty one by its value alone.
        let value = (h as u32).min(EMPTY - 1);
        // A store either way: whether a shingle lowers a bin is a coin toss for the branch
        // predictor.
        sig[bin] = sig[bin].min(value);
    }
    if shingles.is_empty() || !sig.contains(&EMPTY) {
        return;
    }
    // Densify from the bins the shingles filled, not from bins filled along the way.
    let filled: Vec<bool> = sig.iter().map(|v| *v != EMPTY).collect();
    for bin in 0..k {
        if filled[bin] {
            continue;
        }
        let mut attempt = 0u64;
        loop {
            attempt += 1;
            let probe = mix((bin as u64) << 32 | attempt);
            let other = ((probe as u128 * k as u128) >> 64) as usize;
            if filled[other] {
                sig[bin] = sig[other];
                break;
            }
        }
    }
}

/// Estimated Jaccard similarity: the share of bins on which two signatures agree.
pub fn estimate_jaccard(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    if a[0] == EMPTY || b[0] == EMPTY {
        return 0.0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::jaccard;

    fn set(range: std::ops::Range<u64>) -> Vec<u64> {
        range
            .map(|i| crate::shingle::hash_bytes(&i.to_le_bytes()))
            .collect()
    }

    #[test]
    fn identical_sets_identical_signatures() {
        let a = set(0..300);
        assert_eq!(signature(&a, 128), signature(&a, 128));
        assert_eq!(
            estimate_jaccard(&signature(&a, 128), &signature(&a, 128)),
            1.0
        );
    }

    #[test]
    fn estimates_match_exact_jaccard_within_expected_error() {
        // Overlaps chosen to give Jaccard 0.2, 0.5 and 0.8; error bound 4 standard deviations.
        let k = 256;
        for (a_range, b_range) in [(0..600, 400..1000), (0..600, 200..800), (0..900, 100..1000)] {
            let mut a = set(a_range);
            let mut b = set(b_range);
            a.sort_unstable();
            b.sort_unstable();
            let exact = jaccard(&a, &b);
            let est = estimate_jaccard(&signature(&a, k), &signature(&b, k));
            let sd = (exact * (1.0 - exact) / k as f64).sqrt();
            assert!(
                (est - exact).abs() <= 4.0 * sd + 1e-9,
                "exact {exact} est {est}"
            );
        }
    }

    #[test]
    fn small_sets_are_densified() {
        let a = set(0..3);
        let sig = signature(&a, 64);
        assert!(sig.iter().all(|v| *v != EMPTY));
        assert_eq!(signature(&[], 8), vec![EMPTY; 8]);
        assert_eq!(
            estimate_jaccard(&signature(&[], 8), &signature(&[], 8)),
            0.0
        );
    }

    #[test]
    fn disjoint_sets_rarely_agree() {
        let est = estimate_jaccard(
            &signature(&set(0..500), 128),
            &signature(&set(500..1000), 128),
        );
        assert!(est < 0.05, "{est}");
    }
}
