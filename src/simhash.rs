//! 64-bit SimHash weighted by term frequency, and candidate search by permuted block tables.
//!
//! Each shingle hash votes on every bit with its count in the document; the sign of the
//! sum is the bit. Documents whose SimHashes differ in at most k bits are candidates
//! (Manku, Jain, Das Sarma 2007): the 64 bits are cut into k + 2 blocks, and two hashes
//! within distance k agree exactly on at least two blocks, so one table per pair of
//! blocks, keyed by those two blocks, finds every such pair. Candidates are then checked
//! for the Hamming distance and verified on the exact sets like every other candidate.

use crate::shingle::{combine, SEED};

/// The SimHash of a sequence of shingle hashes (repeats weigh as term frequency).
pub fn simhash(shingles: &[u64]) -> u64 {
    let mut votes = [0i64; 64];
    for &h in shingles {
        for (bit, vote) in votes.iter_mut().enumerate() {
            if h >> bit & 1 == 1 {
                *vote += 1;
            } else {
                *vote -= 1;
            }
        }
    }
    votes
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0)
        .fold(0u64, |acc, (bit, _)| acc | 1 << bit)
}

/// Hamming distance of two hashes.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

fn block(hash: u64, index: usize, blocks: usize) -> u64 {
    let start = index * 64 / blocks;
    let end = (index + 1) * 64 / blocks;
    let width = end - start;
    (hash >> start) & ((1u64 << width) - 1)
}

/// Number of block tables for distance `max_distance`: one per pair of its k + 2 blocks.
pub fn tables(max_distance: u32) -> usize {
    let blocks = max_distance as usize + 2;
    blocks * (blocks - 1) / 2
}

/// The key of `hash` in block table `table` (`0..tables(max_distance)`): the table number and
/// the two blocks it keeps. Two hashes within `max_distance` share a key in at least one table.
pub fn table_key(hash: u64, table: usize, max_distance: u32) -> u64 {
    let blocks = max_distance as usize + 2;
    let mut t = table;
    let mut first = 0;
    while t >= blocks - 1 - first {
        t -= blocks - 1 - first;
        first += 1;
    }
    let second = first + 1 + t;
    combine(&[
        SEED ^ (table as u64 + 1),
        block(hash, first, blocks),
        block(hash, second, blocks),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(simhash(&[]), 0);
        assert_eq!(simhash(&[0b1011]), 0b1011);
        // Majority per bit; a tie (0 votes) gives 0.
        assert_eq!(simhash(&[0b110, 0b011, 0b010]), 0b010);
        assert_eq!(distance(0b1011, 0b0001), 2);
    }

    #[test]
    fn block_tables_find_every_pair_within_distance() {
        let base = 0x0123_4567_89ab_cdefu64;
        let hashes = [
            Some(base),
            Some(base ^ 0b1),                     // distance 1
            Some(base ^ (1 << 63 | 1 << 20 | 1)), // distance 3 from base, 2 from the second
            Some(!base),                          // far from everything
            None,
        ];
        let candidates = |k: u32| {
            let mut pairs = Vec::new();
            for table in 0..tables(k) {
                let mut entries: Vec<(u64, u32)> = hashes
                    .iter()
                    .enumerate()
                    .filter_map(|(d, h)| h.map(|h| (table_key(h, table, k), d as u32)))
                    .collect();
                for bucket in crate::lsh::buckets(&mut entries) {
                    crate::lsh::bucket_pairs(bucket, |e| e.1, |i, j| pairs.push((i, j)));
                }
            }
            pairs.sort_unstable();
            pairs.dedup();
            pairs.retain(|&(i, j)| match (hashes[i as usize], hashes[j as usize]) {
                (Some(a), Some(b)) => distance(a, b) <= k,
                _ => false,
            });
            pairs
        };
        assert_eq!(candidates(3), vec![(0, 1), (0, 2), (1, 2)]);
        assert_eq!(candidates(1), vec![(0, 1)]);
        // Tables enumerate every pair of blocks once.
        assert_eq!(tables(3), 10);
    }
}
