//! How many documents each shingle occurs in, estimated by a count-min sketch: two rows of
//! 2^22 counters, whatever the corpus size. It never under-counts. A shingle is over-counted
//! past the stock cap (1 % of the documents) only if both its counters are shared with stock
//! shingles; the counters' average load stays near 1 % of the cap, since both grow with the
//! corpus.
//!
//! Counting costs a cache miss per counter (the counters of shingles further on are prefetched,
//! the crate's one `unsafe` call). Each thread counts into its own shard of plain
//! 8-bit counters: an atomic add per counter made every miss wait for the one before it, and
//! wider counters multiply the memory the misses go to, which competes for the cache with
//! everything else. A counter that wraps carries into a small map beside its shard (once per
//! 256 counts, so rarely: the counters' average load is far below that). Reading sums the
//! shards, so a count does not depend on which thread counted what.

use std::sync::{Mutex, MutexGuard, PoisonError};

use ahash::AHashMap;

const BITS: u32 = 22;
/// Counters in all: two rows.
const COUNTERS: usize = 2 << BITS;
/// Counters summed at a time when reading.
const CHUNK: usize = 4096;
/// Shards at most (8 MB each once used): more threads share them.
const MAX_SHARDS: usize = 4;

/// Document frequencies of shingle hashes (see the module documentation).
pub struct DocFrequency {
    shards: Vec<Mutex<Shard>>,
    /// Counters added whole ([`DocFrequency::add_counters`]); empty until then.
    stored: Mutex<Vec<u32>>,
}

/// One thread's counters: `low[i]` plus 2^8 times `carries[i]` (counters that wrapped).
#[derive(Default)]
struct Shard {
    /// Empty until the shard's first count.
    low: Vec<u8>,
    carries: AHashMap<u32, i64>,
}

impl Shard {
    fn counters(&mut self) -> &mut [u8] {
        if self.low.is_empty() {
            self.low = vec![0; COUNTERS];
        }
        &mut self.low
    }

    /// Count `set` once more (`ADD`) or once less. A counter that wraps past 255 carries 1
    /// into `carries`; one that wraps below 0 borrows 1.
    fn count<const ADD: bool>(&mut self, set: &[u64]) {
        let mut wrapped: Vec<usize> = Vec::new();
        let low = self.counters();
        for (i, &h) in set.iter().enumerate() {
            if let Some(&ahead) = set.get(i + PREFETCH_AHEAD) {
                for slot in DocFrequency::slots(ahead) {
                    prefetch(low, slot);
                }
            }
            for slot in DocFrequency::slots(h) {
                let c = &mut low[slot];
                let before = *c;
                *c = if ADD {
                    before.wrapping_add(1)
                } else {
                    before.wrapping_sub(1)
                };
                if (ADD && *c == 0) || (!ADD && before == 0) {
                    wrapped.push(slot);
                }
            }
        }
        for slot in wrapped {
            *self.carries.entry(slot as u32).or_default() += if ADD { 1 } else { -1 };
        }
    }
}

/// Shingles ahead whose counters are prefetched: a counter is a cache miss, and a loop that
/// only adds would keep too few misses in flight (prefetching took 2-4 % off a dedup run).
const PREFETCH_AHEAD: usize = 24;

/// Ask the CPU to start loading `counters[slot]`: a hint, with no effect on any result.
#[inline(always)]
fn prefetch(counters: &[u8], slot: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(counter) = counters.get(slot) {
        // SAFETY: a prefetch reads nothing the program sees and cannot fault; the address is
        // that of an element of `counters` besides.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                std::ptr::from_ref(counter).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (counters, slot);
}

impl Default for DocFrequency {
    fn default() -> Self {
        let shards = rayon::current_num_threads().clamp(1, MAX_SHARDS);
        DocFrequency {
            stored: Mutex::default(),
            shards: (0..shards).map(|_| Mutex::default()).collect(),
        }
    }
}

impl DocFrequency {
    /// The two counters of a shingle hash, one in each row.
    pub(crate) fn slots(h: u64) -> [usize; 2] {
        let mask = (1u64 << BITS) - 1;
        // Shingle hashes are xxh3 outputs: their low and high halves are independent.
        [
            (h & mask) as usize,
            (1 << BITS) + ((h >> 32) & mask) as usize,
        ]
    }

    /// The calling thread's shard. A shard's lock is uncontended while there are no more
    /// threads than shards.
    fn shard(&self) -> MutexGuard<'_, Shard> {
        let i = rayon::current_thread_index().unwrap_or(0) % self.shards.len();
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Count one document's shingle set (safe from several threads at once).
    pub fn add_set(&self, set: &[u64]) {
        self.shard().count::<true>(set);
    }

    /// Take back one document's shingle set counted by [`DocFrequency::add_set`].
    pub fn remove_set(&self, set: &[u64]) {
        self.shard().count::<false>(set);
    }

    /// `f(first, counts)` for every run of [`CHUNK`] counters in order, the counts summed over
    /// the shards (in runs, so the sums vectorize: reading all counters is a fixed cost of
    /// every run, small corpora included).
    fn for_each_chunk(&self, mut f: impl FnMut(usize, &[u32])) {
        let shards: Vec<MutexGuard<'_, Shard>> = self
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner))
            .collect();
        let mut carries: Vec<(usize, i64)> = shards
            .iter()
            .flat_map(|s| s.carries.iter().map(|(&i, &c)| (i as usize, c)))
            .collect();
        carries.sort_unstable();
        let mut carries = carries.into_iter().peekable();
        let stored = self.stored.lock().unwrap_or_else(PoisonError::into_inner);
        let lows: Vec<&[u8]> = shards
            .iter()
            .filter(|s| !s.low.is_empty())
            .map(|s| s.low.as_slice())
            .collect();
        let mut counts = vec![0u32; CHUNK];
        for first in (0..COUNTERS).step_by(CHUNK) {
            let chunk = first..first + CHUNK;
            match lows.split_first() {
                Some((low, others)) => {
                    for (count, &l) in counts.iter_mut().zip(&low[chunk.clone()]) {
                        *count = u32::from(l);
                    }
                    for low in others {
                        for (count, &l) in counts.iter_mut().zip(&low[chunk.clone()]) {
                            *count += u32::from(l);
                        }
                    }
                }
                None => counts.fill(0),
            }
            if !stored.is_empty() {
                for (count, &n) in counts.iter_mut().zip(&stored[chunk.clone()]) {
                    *count = count.wrapping_add(n);
                }
            }
            // Modulo 2^32, as 32-bit counters would hold the counts (they are never negative
            // when every removed set was added).
            while let Some((i, c)) = carries.next_if(|(i, _)| chunk.contains(i)) {
                counts[i - first] = counts[i - first].wrapping_add((c << 8) as u32);
            }
            f(first, &counts);
        }
    }

    /// Every counter, in order (to store the counts and add them back later).
    pub fn counters(&self) -> Vec<u32> {
        let mut counters = vec![0u32; COUNTERS];
        self.for_each_chunk(|first, counts| {
            counters[first..first + CHUNK].copy_from_slice(counts);
        });
        counters
    }

    /// Add counters taken with [`DocFrequency::counters`]; false (and nothing added) when
    /// their number differs from this sketch's.
    pub fn add_counters(&self, counters: &[u32]) -> bool {
        if counters.len() != COUNTERS {
            return false;
        }
        let mut stored = self.stored.lock().unwrap_or_else(PoisonError::into_inner);
        if stored.is_empty() {
            *stored = vec![0; COUNTERS];
        }
        for (c, &n) in stored.iter_mut().zip(counters) {
            *c = c.wrapping_add(n);
        }
        true
    }

    /// The shingles whose estimated count is over `cap`, as one bit per counter (1 MB that
    /// stays in cache, where the counters take 8 MB a shard): for filtering many sets at one
    /// cap.
    pub fn over(&self, cap: u32) -> Over {
        let mut bits = vec![0u64; COUNTERS / 64];
        self.for_each_chunk(|first, counts| {
            for (word, counts) in bits[first / 64..].iter_mut().zip(counts.chunks_exact(64)) {
                // Nearly every run of 64 counters is under the cap.
                if counts.iter().copied().max().is_some_and(|m| m > cap) {
                    *word = counts
                        .iter()
                        .enumerate()
                        .fold(0, |w, (b, &c)| w | u64::from(c > cap) << b);
                }
            }
        });
        Over { bits }
    }
}

/// The shingles whose [`DocFrequency`] estimate is over a fixed cap, one bit per counter.
pub struct Over {
    bits: Vec<u64>,
}

impl Over {
    /// Whether `h`'s estimated count (the smaller of its two counters) is over the cap this
    /// was made with.
    pub fn contains(&self, h: u64) -> bool {
        DocFrequency::slots(h)
            .iter()
            .all(|&s| self.bits[s / 64] & (1 << (s % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    /// A hash whose two counters are `a` and `b` (`b` in the second row's numbering).
    fn hash_at(a: usize, b: usize) -> u64 {
        (b as u64) << 32 | a as u64
    }

    #[test]
    fn counts_are_the_smaller_counter() {
        let df = DocFrequency::default();
        df.add_set(&[hash_at(1, 2), hash_at(3, 4)]);
        df.add_set(&[hash_at(1, 5)]);
        let counters = df.counters();
        assert_eq!(counters[1], 2);
        assert_eq!(counters[3], 1);
        assert_eq!(counters[(1 << BITS) + 2], 1);
        assert_eq!(counters[(1 << BITS) + 5], 1);
        let over = df.over(1);
        assert!(!over.contains(hash_at(1, 2)), "2 and 1: the estimate is 1");
        df.add_set(&[hash_at(7, 2)]);
        assert!(df.over(1).contains(hash_at(1, 2)));
        assert!(df.over(0).contains(hash_at(3, 4)));
    }

    #[test]
    fn counters_that_wrap_carry_and_removals_borrow() {
        let df = DocFrequency::default();
        let h = hash_at(9, 9);
        for _ in 0..70_000 {
            df.add_set(&[h]);
        }
        assert_eq!(df.counters()[9], 70_000);
        for _ in 0..69_999 {
            df.remove_set(&[h]);
        }
        assert_eq!(df.counters()[9], 1);
        assert!(df.over(0).contains(h));
        assert!(!df.over(1).contains(h));
    }

    #[test]
    fn stored_counters_add_back_exactly() {
        let df = DocFrequency::default();
        for i in 0..1000u64 {
            df.add_set(&[crate::shingle::hash_bytes(&i.to_le_bytes()); 3]);
        }
        let mut stored = df.counters();
        stored[5] = 200_000;
        let other = DocFrequency::default();
        assert!(other.add_counters(&stored));
        assert!(other.add_counters(&stored));
        let doubled: Vec<u32> = stored.iter().map(|c| c * 2).collect();
        assert_eq!(other.counters(), doubled);
        assert!(!other.add_counters(&[1, 2, 3]));
    }

    #[test]
    fn counts_do_not_depend_on_the_threads_that_counted() {
        let sets: Vec<Vec<u64>> = (0..2000u64)
            .map(|d| {
                (0..50)
                    .map(|k| crate::shingle::hash_bytes(&((d % 97) * 31 + k).to_le_bytes()))
                    .collect()
            })
            .collect();
        let one = DocFrequency::default();
        sets.iter().for_each(|s| one.add_set(s));
        let many = DocFrequency::default();
        sets.par_iter().for_each(|s| many.add_set(s));
        assert_eq!(one.counters(), many.counters());
    }
}
