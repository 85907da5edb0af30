//! Locality-sensitive hashing: MinHash banding and SimHash block tables.
//!
//! Banding splits a k-bin signature into b bands of r rows; two documents become a
//! candidate pair when all r rows of some band agree, which happens with probability
//! 1 - (1 - s^r)^b at Jaccard s. [`optimal_bands`] picks b and r for a threshold the way
//! datasketch does: it minimises the weighted areas of false positives below the threshold
//! and false negatives above it, which leaves the curve's midpoint near the threshold (at
//! 0.8 with 128 bins, b = 9 and r = 13 find only 40 % of the pairs at 0.8). [`recall_bands`]
//! instead finds nearly every pair at the threshold, with as few pairs below it as that allows.
//!
//! Buckets are grouped by sorting a table's `(key, doc)` entries, not by a hash map, which
//! keeps memory compact and the order fixed whatever the thread count, so the rest of the
//! pipeline is deterministic.

use crate::shingle::SEED;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Bands × rows of a MinHash LSH index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Bands {
    pub bands: usize,
    pub rows: usize,
}

/// Probability that a pair at Jaccard `s` collides in at least one band.
pub fn collision_probability(s: f64, bands: usize, rows: usize) -> f64 {
    1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32)
}

fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    // Composite Simpson's rule; the integrands are smooth polynomials on [0, 1].
    let n = 200;
    let h = (b - a) / n as f64;
    let mut sum = f(a) + f(b);
    for i in 1..n {
        let x = a + i as f64 * h;
        sum += if i % 2 == 1 { 4.0 } else { 2.0 } * f(x);
    }
    sum * h / 3.0
}

/// Bands and rows (b·r ≤ `num_perm`) minimising the false-positive plus false-negative area
/// around `threshold`, each weighted (datasketch's `_optimal_param`, weights 0.5/0.5).
pub fn optimal_bands(threshold: f64, num_perm: usize) -> Bands {
    let mut best = Bands { bands: 1, rows: 1 };
    let mut best_error = f64::INFINITY;
    for bands in 1..=num_perm {
        for rows in 1..=num_perm / bands {
            let fp = integrate(|s| collision_probability(s, bands, rows), 0.0, threshold);
            let fn_ = integrate(
                |s| 1.0 - collision_probability(s, bands, rows),
                threshold,
                1.0,
            );
            let error = 0.5 * fp + 0.5 * fn_;
            if error < best_error - 1e-15 {
                best_error = error;
                best = Bands { bands, rows };
            }
        }
    }
    best
}

/// Bands and rows (b·r ≤ `num_perm`) under which a pair at Jaccard `threshold` collides with
/// probability at least `recall`: the most rows that allow it (the steepest curve, so the
/// fewest pairs below the threshold), with the fewest bands those rows need. A threshold too
/// low for any banding gets one row a bin, the highest probability there is.
pub fn recall_bands(threshold: f64, num_perm: usize, recall: f64) -> Bands {
    for rows in (1..=num_perm).rev() {
        let hit = threshold.powi(rows as i32);
        let miss = (1.0 - hit).ln();
        let bands = if hit >= 1.0 {
            1
        } else if miss < 0.0 {
            // Smallest b with 1 - (1 - hit)^b >= recall.
            ((1.0 - recall).ln() / miss).ceil().max(1.0) as usize
        } else {
            continue; // a band of these rows (almost) never collides
        };
        if bands.saturating_mul(rows) <= num_perm {
            return Bands { bands, rows };
        }
    }
    Bands {
        bands: num_perm,
        rows: 1,
    }
}

/// The key of band `band` of a signature: xxh3 of its rows (little-endian bytes), seeded by
/// the band number, so equal rows in different bands never meet.
pub fn band_key(signature: &[u32], band: usize, rows: usize) -> u64 {
    let slice = &signature[band * rows..(band + 1) * rows];
    let seed = SEED ^ band as u64;
    // Most bands have a few rows: a small buffer on the stack (zeroing a buffer for the
    // largest band, 4 KB, took a sixth of a dedup run's instructions).
    let mut small = [0u8; 128];
    if slice.len() * 4 <= small.len() {
        for (chunk, v) in small.chunks_exact_mut(4).zip(slice) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        return xxh3_64_with_seed(&small[..slice.len() * 4], seed);
    }
    let bytes: Vec<u8> = slice.iter().flat_map(|v| v.to_le_bytes()).collect();
    xxh3_64_with_seed(&bytes, seed)
}

/// The keys of every band of a signature, or none for an empty document's signature. Buckets
/// use the low 32 bits of [`band_key`]: half the memory per document, and a chance collision
/// only adds a candidate pair, which verification rejects.
pub fn band_keys(signature: &[u32], bands: Bands) -> impl Iterator<Item = u32> + '_ {
    let usable = !signature.is_empty() && signature[0] != crate::minhash::EMPTY;
    let count = if usable { bands.bands } else { 0 };
    (0..count).map(move |band| band_key(signature, band, bands.rows) as u32)
}

/// Largest bucket whose members are all paired with each other; a larger bucket (a template
/// shared by thousands of pages, or thousands of exact copies) pairs each member with the
/// bucket's first member and its neighbour, which keeps the work linear and still joins
/// every member into one component if they verify.
pub const FULL_BUCKET: usize = 64;

/// The buckets of a table of `(key, doc)` entries: runs of entries sharing a key, in key
/// order (the entries are sorted in place, so the order never depends on the input order).
pub fn buckets<K: Ord + Copy>(entries: &mut [(K, u32)]) -> impl Iterator<Item = &[(K, u32)]> {
    entries.sort_unstable();
    entries.chunk_by(|a, b| a.0 == b.0)
}

/// [`buckets`] of a table whose keys fit 32 bits, each entry packed as `key << 32 | doc`:
/// sorting one `u64` an entry takes half the time a `(u64, u32)` pair does, and the order is
/// the same. Entries in document order (as tables are built) need only a stable sort by key
/// for that order, which a radix sort does three times faster than a comparison sort.
pub fn packed_buckets(entries: &mut [u64]) -> impl Iterator<Item = &[u64]> {
    if entries.len() >= RADIX_MIN && entries.is_sorted_by_key(|&e| e as u32) {
        radix_sort_by_key(entries);
    } else {
        entries.sort_unstable();
    }
    entries.chunk_by(|a, b| a >> 32 == b >> 32)
}

/// Entries below which a comparison sort is as fast as the radix sort's fixed passes.
const RADIX_MIN: usize = 1024;

/// Stable LSD radix sort of packed entries by their key (high 32 bits), a byte a pass; a
/// pass whose byte is the same in every entry is skipped.
fn radix_sort_by_key(entries: &mut [u64]) {
    let mut scratch = vec![0u64; entries.len()];
    // Whether the sorted-so-far order is in `scratch` rather than `entries`.
    let mut in_scratch = false;
    for shift in [32u32, 40, 48, 56] {
        let (from, to) = if in_scratch {
            (&scratch[..], &mut *entries)
        } else {
            (&*entries, &mut scratch[..])
        };
        let digit = |e: u64| (e >> shift) as usize & 0xff;
        let mut starts = [0usize; 256];
        for &e in from {
            starts[digit(e)] += 1;
        }
        if starts.contains(&from.len()) {
            continue;
        }
        let mut at = 0;
        for start in starts.iter_mut() {
            let count = *start;
            *start = at;
            at += count;
        }
        for &e in from {
            let d = digit(e);
            to[starts[d]] = e;
            starts[d] += 1;
        }
        in_scratch = !in_scratch;
    }
    if in_scratch {
        entries.copy_from_slice(&scratch);
    }
}

/// Call `emit(i, j)`, `i < j`, for the candidate pairs of one bucket (`doc` gives an entry's
/// document): every pair of members, or, past [`FULL_BUCKET`], each member with its
/// neighbour and with the first member.
pub fn bucket_pairs<T: Copy>(bucket: &[T], doc: impl Fn(T) -> u32, mut emit: impl FnMut(u32, u32)) {
    let mut pair = |a: u32, b: u32| {
        if a != b {
            emit(a.min(b), a.max(b));
        }
    };
    if bucket.len() <= FULL_BUCKET {
        for (x, &a) in bucket.iter().enumerate() {
            for &b in &bucket[x + 1..] {
                pair(doc(a), doc(b));
            }
        }
    } else {
        let first = doc(bucket[0]);
        for w in bucket.windows(2) {
            pair(doc(w[0]), doc(w[1]));
            pair(first, doc(w[1]));
        }
    }
}

/// Documents per segment of [`KeyColumns`].
const SEGMENT: usize = 1 << 16;

/// Every document's band keys (`tables` per document), stored table by table so candidate
/// search reads one table at a time. Keys arrive per document; each finished segment of
/// `SEGMENT` (65,536) documents is transposed and kept in memory while memory holds at most
/// `memory_cap` bytes of keys, and appended to an anonymous temporary file in `spill_dir`
/// after that (with no `spill_dir`, everything stays in memory).
pub struct KeyColumns {
    tables: usize,
    /// Keys of the unfinished segment, document by document.
    open: Vec<u32>,
    segments: Vec<Segment>,
    held: usize,
    memory_cap: usize,
    spill_dir: Option<PathBuf>,
    spill: Option<File>,
    spilled: u64,
}

/// A finished segment: its keys table by table (`keys[t * SEGMENT + d]`), in memory or at an
/// offset of the spill file.
enum Segment {
    Memory(Vec<u32>),
    Spilled(u64),
}

impl KeyColumns {
    pub fn new(tables: usize, memory_cap: usize, spill_dir: Option<PathBuf>) -> KeyColumns {
        KeyColumns {
            tables,
            open: Vec::new(),
            segments: Vec::new(),
            held: 0,
            memory_cap,
            spill_dir,
            spill: None,
            spilled: 0,
        }
    }

    /// Append the next document's keys (`tables` of them; None: a document without keys,
    /// stored as zeros so every document keeps its place).
    pub fn push(&mut self, keys: Option<&[u32]>) -> io::Result<()> {
        match keys {
            Some(keys) => {
                debug_assert_eq!(keys.len(), self.tables);
                self.open.extend_from_slice(keys);
            }
            None => self.open.resize(self.open.len() + self.tables, 0),
        }
        if self.tables > 0 && self.open.len() == self.tables * SEGMENT {
            self.seal()?;
        }
        Ok(())
    }

    fn seal(&mut self) -> io::Result<()> {
        let mut columns = vec![0u32; self.open.len()];
        for (d, keys) in self.open.chunks_exact(self.tables).enumerate() {
            for (t, key) in keys.iter().enumerate() {
                columns[t * SEGMENT + d] = *key;
            }
        }
        self.open.clear();
        let bytes = columns.len() * 4;
        let spill_dir = match &self.spill_dir {
            Some(dir) if self.held + bytes > self.memory_cap => dir,
            _ => {
                self.held += bytes;
                self.segments.push(Segment::Memory(columns));
                return Ok(());
            }
        };
        let mut file: &File = match &mut self.spill {
            Some(file) => file,
            slot @ None => slot.insert(tempfile::tempfile_in(spill_dir)?),
        };
        let mut out = Vec::with_capacity(bytes);
        for key in &columns {
            out.extend_from_slice(&key.to_le_bytes());
        }
        file.seek(SeekFrom::Start(self.spilled))?;
        file.write_all(&out)?;
        self.segments.push(Segment::Spilled(self.spilled));
        self.spilled += bytes as u64;
        Ok(())
    }

    /// Bytes of keys written to the temporary file.
    pub fn spilled_bytes(&self) -> u64 {
        self.spilled
    }

    /// Table `t`'s key of every document, in document order, into `out`.
    pub fn read_table(&self, t: usize, out: &mut Vec<u32>) -> io::Result<()> {
        out.clear();
        let mut bytes = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Memory(columns) => {
                    out.extend_from_slice(&columns[t * SEGMENT..(t + 1) * SEGMENT]);
                }
                Segment::Spilled(offset) => {
                    let Some(mut file) = self.spill.as_ref() else {
                        return Err(io::Error::other("key spill file missing"));
                    };
                    bytes.resize(SEGMENT * 4, 0);
                    file.seek(SeekFrom::Start(offset + (t * SEGMENT * 4) as u64))?;
                    file.read_exact(&mut bytes)?;
                    out.extend(
                        bytes
                            .chunks_exact(4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    );
                }
            }
        }
        out.extend(
            self.open
                .chunks_exact(self.tables.max(1))
                .map(|keys| keys[t]),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `band_key(&[1, 2, 3], 0, 3)`, computed once (the same before and after the stack buffer).
    const KNOWN_BAND_KEY: u64 = 5_689_140_832_744_343_085;

    #[test]
    fn band_keys_hash_the_rows_little_endian_whatever_the_band_size() {
        // Band keys are stored in indexes: the definition must not drift.
        let signature: Vec<u32> = (0..1024u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect();
        for rows in [1, 13, 32, 33, 1024] {
            for band in [0, signature.len() / rows - 1] {
                let bytes: Vec<u8> = signature[band * rows..(band + 1) * rows]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                let want = xxh3_64_with_seed(&bytes, SEED ^ band as u64);
                assert_eq!(
                    band_key(&signature, band, rows),
                    want,
                    "rows {rows} band {band}"
                );
            }
        }
        assert_eq!(band_key(&[1, 2, 3], 0, 3), KNOWN_BAND_KEY);
    }

    #[test]
    fn optimal_bands_known_answers() {
        // datasketch MinHashLSH(threshold=0.8, num_perm=128) chooses b=9, r=13.
        assert_eq!(optimal_bands(0.8, 128), Bands { bands: 9, rows: 13 });
        // A low threshold wants many short bands.
        let low = optimal_bands(0.3, 128);
        assert!(low.rows <= 4 && low.bands >= 20, "{low:?}");
    }

    #[test]
    fn recall_bands_known_answers() {
        // 0.8^6 = 0.262, 1 - 0.738^16 = 0.992; seven rows would need 20 bands (140 bins).
        assert_eq!(recall_bands(0.8, 128, 0.99), Bands { bands: 16, rows: 6 });
        assert_eq!(
            recall_bands(0.9, 128, 0.99),
            Bands {
                bands: 11,
                rows: 10
            }
        );
        assert_eq!(
            recall_bands(1.0, 128, 0.99),
            Bands {
                bands: 1,
                rows: 128
            }
        );
        assert_eq!(
            recall_bands(0.01, 128, 0.99),
            Bands {
                bands: 128,
                rows: 1
            }
        );
        for threshold in [0.3, 0.5, 0.7, 0.8, 0.9, 0.95] {
            for num_perm in [16, 64, 128, 256] {
                let b = recall_bands(threshold, num_perm, 0.99);
                assert!(b.bands * b.rows <= num_perm, "{threshold} {num_perm} {b:?}");
                let p = collision_probability(threshold, b.bands, b.rows);
                assert!(p >= 0.99, "{threshold} {num_perm} {b:?}: {p}");
                // One more row would need more bins than there are.
                let rows = b.rows + 1;
                let fits = (1..=num_perm / rows)
                    .any(|bands| collision_probability(threshold, bands, rows) >= 0.99);
                assert!(!fits, "{threshold} {num_perm} {b:?}");
            }
        }
    }

    #[test]
    fn collision_curve_is_s_shaped() {
        let b = Bands { bands: 9, rows: 13 };
        assert!(collision_probability(0.95, b.bands, b.rows) > 0.99);
        assert!(collision_probability(0.5, b.bands, b.rows) < 0.01);
    }

    fn pairs_of(mut entries: Vec<(u64, u32)>) -> Vec<(u32, u32)> {
        let mut pairs = Vec::new();
        for bucket in buckets(&mut entries) {
            bucket_pairs(bucket, |e| e.1, |i, j| pairs.push((i, j)));
        }
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    #[test]
    fn buckets_make_ordered_pairs_of_members() {
        let pairs = pairs_of(vec![(7, 2), (7, 0), (9, 1), (7, 1), (9, 2)]);
        assert_eq!(pairs, vec![(0, 1), (0, 2), (1, 2)]);
    }

    #[test]
    fn packed_buckets_emit_the_pairs_in_the_order_of_key_doc_buckets() {
        // Few keys, so some buckets pass FULL_BUCKET and take the chain rule.
        let entries: Vec<(u64, u32)> = (0..2000u32)
            .map(|d| {
                (
                    u64::from(d.wrapping_mul(2_654_435_761) % 23),
                    (d * 7919) % 2000,
                )
            })
            .collect();
        let in_order = |packed: bool| {
            let mut pairs = Vec::new();
            if packed {
                let mut entries: Vec<u64> = entries
                    .iter()
                    .map(|&(k, d)| k << 32 | u64::from(d))
                    .collect();
                for bucket in packed_buckets(&mut entries) {
                    bucket_pairs(bucket, |e| e as u32, |i, j| pairs.push((i, j)));
                }
            } else {
                let mut entries = entries.clone();
                for bucket in buckets(&mut entries) {
                    bucket_pairs(bucket, |e| e.1, |i, j| pairs.push((i, j)));
                }
            }
            pairs
        };
        let wide = in_order(false);
        assert!(wide.len() > 2000);
        assert_eq!(in_order(true), wide);
    }

    #[test]
    fn packed_buckets_of_entries_in_document_order_are_sorted_whole() {
        // Keys of 0..4 bytes of variety, so that some radix passes are skipped.
        for key_bits in [0u32, 3, 8, 13, 32] {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let entries: Vec<u64> = (0..5000u64)
                .map(|d| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = (x >> 32) & ((1u64 << key_bits) - 1);
                    let key = key.rotate_left(32 - key_bits.min(31)) & 0xffff_ffff;
                    key << 32 | d
                })
                .collect();
            let mut radix = entries.clone();
            let buckets: Vec<Vec<u64>> = packed_buckets(&mut radix).map(|b| b.to_vec()).collect();
            let mut sorted = entries.clone();
            sorted.sort_unstable();
            assert_eq!(radix, sorted, "key bits {key_bits}");
            assert_eq!(buckets.concat(), sorted);
        }
    }

    #[test]
    fn key_columns_read_back_every_table_in_memory_or_spilled() {
        let docs = 2 * SEGMENT + 5;
        let key = |d: usize, t: usize| (d * 7 + t * 1_000_003) as u32;
        let dir = tempfile::tempdir().unwrap();
        for (cap, spill) in [(usize::MAX, None), (0, Some(dir.path().to_path_buf()))] {
            let mut columns = KeyColumns::new(3, cap, spill.clone());
            for d in 0..docs {
                columns
                    .push(Some(&[key(d, 0), key(d, 1), key(d, 2)]))
                    .unwrap();
            }
            assert_eq!(columns.spilled_bytes() > 0, spill.is_some());
            let mut out = Vec::new();
            for t in 0..3 {
                columns.read_table(t, &mut out).unwrap();
                assert_eq!(out.len(), docs);
                assert!(out.iter().enumerate().all(|(d, k)| *k == key(d, t)));
            }
        }
    }

    #[test]
    fn huge_buckets_stay_linear() {
        let entries: Vec<(u64, u32)> = (0..1000).map(|d| (1u64, d)).collect();
        let pairs = pairs_of(entries);
        assert!(pairs.len() < 2000);
        assert!(pairs.contains(&(0, 999)));
        assert!(pairs.contains(&(998, 999)));
    }
}
