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
pub fn words(normalized: &str) -> Words<'_> {
    if normalized.is_ascii() {
        Words::Ascii(AsciiWords::new(normalized, false))
    } else {
        Words::Unicode(normalized.unicode_words())
    }
}

/// The words of a text (see [`words`]).
pub enum Words<'a> {
    /// Most text is ASCII: a byte loop with the same boundaries, several times faster.
    Ascii(AsciiWords<'a>),
    Unicode(unicode_segmentation::UnicodeWords<'a>),
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;
    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        match self {
            Words::Ascii(w) => w.next(),
            Words::Unicode(w) => w.next(),
        }
    }
}

/// The number of words of `normalize(text)`, counting no further than `limit`; an ASCII text
/// is not normalized for it.
pub fn count_words(text: &str, limit: usize) -> usize {
    match crate::normalize::ascii_joined(text) {
        Some(joined) => AsciiWords::new(&joined, true).take(limit).count(),
        None => words(&crate::normalize::normalize(text))
            .take(limit)
            .count(),
    }
}

/// UAX #29 words of an ASCII text, restricted to what ASCII can hold: letters, digits and `_`
/// join (WB5, WB8-WB10, WB13a/b); `:`, `.` or `'` between two letters (WB6/7) and `,`, `;`,
/// `.` or `'` between two digits (WB11/12) join too; everything else breaks. Segments without
/// a letter or digit are skipped, as `unicode_words` does. A property test holds it equal to
/// `unicode_words` on ASCII.
///
/// The word bytes (letters, digits, `_`) of 64 bytes at a time are found in one bit mask by a
/// loop the compiler vectorizes; a word is a run of set bits, and only the byte after a run
/// is looked at for a join. A byte loop with a branch per byte cost twice as much.
pub struct AsciiWords<'a> {
    text: &'a str,
    /// The text is not normalized: a backtick is the apostrophe `normalize` makes of it.
    raw: bool,
    /// Start of the current block (`usize::MAX` before the first).
    base: usize,
    /// Word bytes of the current block not yet returned.
    member: u64,
}

const OTHER: u8 = 0;
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const UNDERSCORE: u8 = 3;

/// Word-boundary class of each byte (only ASCII bytes occur).
const CLASS: [u8; 256] = {
    let mut class = [OTHER; 256];
    let mut b = 0;
    while b < 128 {
        class[b] = match b as u8 {
            b'a'..=b'z' | b'A'..=b'Z' => LETTER,
            b'0'..=b'9' => DIGIT,
            b'_' => UNDERSCORE,
            _ => OTHER,
        };
        b += 1;
    }
    class
};

const BLOCK: usize = 64;

/// The `N` bytes of `text` from `base`, padded with zeros (no word's bytes).
#[inline]
fn bytes_at<const N: usize>(text: &[u8], base: usize) -> [u8; N] {
    let mut block = [0u8; N];
    let rest = &text[base.min(text.len())..];
    let n = rest.len().min(N);
    block[..n].copy_from_slice(&rest[..n]);
    block
}

/// Bit i set where `flags[i]` is 1 (flags are 0 or 1).
#[inline]
fn pack_bits(flags: &[u8; BLOCK]) -> u64 {
    let mut mask = 0u64;
    for (k, eight) in flags.chunks_exact(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(eight);
        // Each 0/1 byte lands on its own bit of the top byte; no two products overlap, so
        // nothing carries.
        let packed = u64::from_le_bytes(bytes).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= packed << (8 * k);
    }
    mask
}

/// Bits `from..from + len` (`from + len` ≤ 64).
#[inline]
fn bit_range(from: u32, len: u32) -> u64 {
    let ones = if len >= 64 {
        u64::MAX
    } else {
        (1u64 << len) - 1
    };
    ones << from
}

impl<'a> AsciiWords<'a> {
    fn new(text: &'a str, raw: bool) -> Self {
        AsciiWords {
            text,
            raw,
            base: usize::MAX,
            member: 0,
        }
    }

    /// Move to the next block; false past the end of the text. Once per 64 bytes: kept out
    /// of line so the per-word loop stays small.
    #[inline(never)]
    fn advance(&mut self) -> bool {
        let bytes = self.text.as_bytes();
        let base = if self.base == usize::MAX {
            0
        } else {
            self.base + BLOCK
        };
        self.member = 0;
        if base >= bytes.len() {
            return false;
        }
        self.base = base;
        let block: [u8; BLOCK] = bytes_at(bytes, base);
        let mut flags = [0u8; BLOCK];
        for (f, &b) in flags.iter_mut().zip(&block) {
            // `|`, not `||`: no branches, so the loop vectorizes.
            let letter = (b | 0x20).wrapping_sub(b'a') < 26;
            let digit = b.wrapping_sub(b'0') < 10;
            *f = u8::from(letter | digit | (b == b'_'));
        }
        self.member = pack_bits(&flags);
        true
    }

    /// The end of the run of word bytes from `at` (the run may be empty), taking its bits.
    /// Words are taken in order, so no bit below `at` is left in the block.
    #[inline(always)]
    fn run_from(&mut self, mut at: usize) -> usize {
        loop {
            if at >= self.base.wrapping_add(BLOCK) && !self.advance() {
                return at;
            }
            let bit = (at - self.base) as u32;
            let member = self.member;
            if member >> bit & 1 == 0 {
                return at;
            }
            // Adding the run's lowest bit clears the run and sets the bit just past it (none
            // when the run reaches the end of the block).
            let carried = member.wrapping_add(1 << bit);
            self.member = member & carried;
            let end = (carried & !member).trailing_zeros();
            at = self.base + end as usize;
            if end < BLOCK as u32 {
                return at;
            }
        }
    }

    /// Whether `mid` between bytes of classes `before` and `after` keeps them in one word.
    #[inline]
    fn joins(&self, before: u8, mid: u8, after: u8) -> bool {
        let mid = if self.raw && mid == b'`' { b'\'' } else { mid };
        match (before, after) {
            (LETTER, LETTER) => matches!(mid, b':' | b'.' | b'\''),
            (DIGIT, DIGIT) => matches!(mid, b',' | b';' | b'.' | b'\''),
            _ => false,
        }
    }

    /// The byte range of the next word.
    #[inline(always)]
    fn next_span(&mut self) -> Option<(usize, usize)> {
        let bytes = self.text.as_bytes();
        loop {
            if self.member == 0 {
                if !self.advance() {
                    return None;
                }
                continue;
            }
            let start = self.base + self.member.trailing_zeros() as usize;
            let mut end = self.run_from(start);
            // Most words end at a space: look at the neighbours only after a possible joiner.
            while let (Some(&mid), Some(&after)) = (bytes.get(end), bytes.get(end + 1)) {
                if !JOINER[mid as usize]
                    || !self.joins(CLASS[bytes[end - 1] as usize], mid, CLASS[after as usize])
                {
                    break;
                }
                end = self.run_from(end + 1);
            }
            // Only a segment that starts with `_` can lack a letter or digit.
            if bytes[start] != b'_' || bytes[start..end].iter().any(u8::is_ascii_alphanumeric) {
                return Some((start, end));
            }
        }
    }
}

/// The bytes that can join two letters or two digits (the backtick only in raw text).
const JOINER: [bool; 256] = {
    let mut joiner = [false; 256];
    let mut b = 0;
    while b < 256 {
        joiner[b] = matches!(b as u8, b':' | b'.' | b'\'' | b'`' | b',' | b';');
        b += 1;
    }
    joiner
};

impl<'a> Iterator for AsciiWords<'a> {
    type Item = &'a str;
    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let (start, end) = self.next_span()?;
        Some(&self.text[start..end])
    }
}

/// An ASCII text with every byte mapped as [`map_ascii_word`] maps the bytes of a word that
/// has no folded pair (`rn`, `cl`, `vv`), and where such pairs start: a word without one is
/// hashed straight from the mapped bytes, and only the few with one are mapped on their own.
struct MappedAscii {
    bytes: Vec<u8>,
    /// Bit `i % 64` of entry `i / 64`: a folded pair starts at byte `i` (empty without folding).
    pair_starts: Vec<u64>,
}

/// Codes of the letters that start (`r`, `c`, `v`) and end (`n`, `l`, `v`) a folded pair, as
/// bits 1, 2, 4: a pair starts at a byte whose first code shares a bit with the next byte's
/// second code. Only letters map onto `r c v n l` under `| 0x20`, so that is lowercasing.
#[inline]
fn pair_first(b: u8) -> u8 {
    let l = b | 0x20;
    u8::from(l == b'r') | u8::from(l == b'c') << 1 | u8::from(l == b'v') << 2
}

#[inline]
fn pair_second(b: u8) -> u8 {
    let l = b | 0x20;
    u8::from(l == b'n') | u8::from(l == b'l') << 1 | u8::from(l == b'v') << 2
}

impl MappedAscii {
    fn new(text: &[u8], fold: bool) -> MappedAscii {
        let bytes = if fold {
            text.iter().map(|&b| mapped_byte::<true>(b)).collect()
        } else {
            text.iter().map(|&b| mapped_byte::<false>(b)).collect()
        };
        let mut pair_starts = Vec::new();
        if fold {
            pair_starts.reserve(text.len().div_ceil(BLOCK));
            for (block, base) in text.chunks(BLOCK).zip((0..).step_by(BLOCK)) {
                // Each byte of the block beside the byte after it (none after the last one of
                // the text); zipped slices vectorize, where pairs of a copied window did not.
                let next = &text[base + 1..text.len().min(base + BLOCK + 1)];
                let mut flags = [0u8; BLOCK];
                for ((f, &first), &second) in flags.iter_mut().zip(block).zip(next) {
                    *f = u8::from(pair_first(first) & pair_second(second) != 0);
                }
                pair_starts.push(pack_bits(&flags));
            }
        }
        MappedAscii { bytes, pair_starts }
    }

    /// Whether a folded pair lies inside bytes `start..end`.
    fn has_pair(&self, start: usize, end: usize) -> bool {
        if self.pair_starts.is_empty() || end < start + 2 {
            return false;
        }
        // Pairs starting at `start..=end - 2`.
        let last = end - 2;
        if start / BLOCK == last / BLOCK {
            // Most words: one block; `span` is 1..=64.
            let span = (last - start + 1) as u32;
            return (self.pair_starts[start / BLOCK] >> (start % BLOCK))
                & (u64::MAX >> (64 - span))
                != 0;
        }
        (start / BLOCK..=last / BLOCK).any(|k| {
            let from = if k == start / BLOCK { start % BLOCK } else { 0 };
            let to = if k == last / BLOCK {
                last % BLOCK
            } else {
                BLOCK - 1
            };
            self.pair_starts[k] & bit_range(from as u32, (to - from + 1) as u32) != 0
        })
    }
}

/// The hash of every word of an ASCII text, each mapped as [`map_ascii_word`] does.
fn ascii_word_hashes(text: &str, raw: bool, fold: bool) -> Vec<u64> {
    let mapped = MappedAscii::new(text.as_bytes(), fold);
    let mut words = AsciiWords::new(text, raw);
    let mut hashes = Vec::with_capacity(text.len() / 5);
    let mut spill = Vec::new();
    while let Some((start, end)) = words.next_span() {
        hashes.push(if mapped.has_pair(start, end) {
            hash_ascii_word(&text.as_bytes()[start..end], fold, &mut spill)
        } else {
            hash_bytes(&mapped.bytes[start..end])
        });
    }
    hashes
}

/// Word n-gram shingles of a text's word hashes (fewer words than n: one shingle of them all).
fn word_ngrams(hashes: &[u64], n: usize, out: &mut Vec<u64>) {
    if hashes.is_empty() {
        return;
    }
    if hashes.len() < n {
        out.push(combine(hashes));
        return;
    }
    // A window length known at compile time unrolls `combine`; word n-grams are short.
    match n {
        2 => windows_of::<2>(hashes, out),
        3 => windows_of::<3>(hashes, out),
        4 => windows_of::<4>(hashes, out),
        5 => windows_of::<5>(hashes, out),
        6 => windows_of::<6>(hashes, out),
        7 => windows_of::<7>(hashes, out),
        8 => windows_of::<8>(hashes, out),
        _ => out.extend(hashes.windows(n).map(combine)),
    }
}

fn windows_of<const N: usize>(hashes: &[u64], out: &mut Vec<u64>) {
    out.extend(hashes.windows(N).map(combine));
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

/// Each ASCII byte as `normalize` leaves it: lowercased, the backtick an apostrophe.
const LOWER: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'`' => b'\'',
            c => c.to_ascii_lowercase(),
        };
        b += 1;
    }
    table
};

/// Each ASCII byte lowercased as [`LOWER`] and then folded as a single character by
/// [`push_ocr_skeleton`].
const FOLD: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match LOWER[b] {
            b'0' => b'o',
            b'1' | b'i' | b'!' | b'|' => b'l',
            b'5' => b's',
            c => c,
        };
        b += 1;
    }
    table
};

/// `FOLD[b]` (or `LOWER[b]` without `FOLD`) by comparisons, not a table lookup: a loop of them
/// vectorizes, 16 or 32 bytes a step instead of one.
#[inline(always)]
fn mapped_byte<const FOLDED: bool>(b: u8) -> u8 {
    let upper = b.wrapping_sub(b'A') < 26;
    let lower = b | (u8::from(upper) << 5);
    let mut m = if lower == b'`' { b'\'' } else { lower };
    if FOLDED {
        m = if m == b'0' { b'o' } else { m };
        m = if (m == b'1') | (m == b'i') | (m == b'!') | (m == b'|') {
            b'l'
        } else {
            m
        };
        m = if m == b'5' { b's' } else { m };
    }
    m
}

/// The letter a lowercased pair folds to as [`push_ocr_skeleton`] does (`rn` is `m`, `cl` is
/// `d`, `vv` is `w`), or 0.
#[inline]
fn fold_pair(first: u8, second: u8) -> u8 {
    let pair = u16::from(first) << 8 | u16::from(second);
    let m = u8::from(pair == u16::from_be_bytes(*b"rn")) * b'm';
    let d = u8::from(pair == u16::from_be_bytes(*b"cl")) * b'd';
    let w = u8::from(pair == u16::from_be_bytes(*b"vv")) * b'w';
    m | d | w
}

/// Write an ASCII word as `normalize` and then (with `fold`) [`push_ocr_skeleton`] would make
/// it into `out`, which is at least as long as the word; returns the length written.
#[inline]
fn map_ascii_word(word: &[u8], fold: bool, out: &mut [u8]) -> usize {
    if !fold {
        for (o, &b) in out.iter_mut().zip(word) {
            *o = LOWER[b as usize];
        }
        return word.len();
    }
    // Without branches on the letters: `r` and `c` are common, and a branch on them
    // mispredicted often enough to double the time of this loop.
    let mut len = 0;
    let mut i = 0;
    while i < word.len() {
        let next = word.get(i + 1).map_or(0, |&n| LOWER[n as usize]);
        let pair = fold_pair(LOWER[word[i] as usize], next);
        let single = FOLD[word[i] as usize];
        out[len] = if pair != 0 { pair } else { single };
        len += 1;
        i += 1 + usize::from(pair != 0);
    }
    len
}

/// Append an ASCII word mapped as [`map_ascii_word`] does.
fn push_ascii_word(word: &[u8], fold: bool, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + word.len(), 0);
    let len = map_ascii_word(word, fold, &mut out[start..]);
    out.truncate(start + len);
}

/// The hash of an ASCII word mapped as [`map_ascii_word`] does; short words (most) are mapped
/// on the stack.
#[inline]
fn hash_ascii_word(word: &[u8], fold: bool, spill: &mut Vec<u8>) -> u64 {
    let mut buffer = [0u8; 32];
    if word.len() <= buffer.len() {
        let len = map_ascii_word(word, fold, &mut buffer);
        hash_bytes(&buffer[..len])
    } else {
        spill.clear();
        push_ascii_word(word, fold, spill);
        hash_bytes(spill)
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
            let mut hashes = Vec::new();
            push_word_hashes(normalized, config.ocr_fold, &mut hashes);
            word_ngrams(&hashes, n, out);
        }
        Unit::Char => {
            let mut joined = String::new();
            let ascii = normalized.is_ascii();
            push_joined_words(words(normalized), ascii, config.ocr_fold, &mut joined);
            char_ngrams(&joined, n, out);
        }
    }
}

/// The shingle hashes of `normalize(text)`, appended to `out`: equal to [`shingles_into`] of
/// the normalized text, but an ASCII text is split into words as it is and only the words are
/// normalized (normalizing the whole text first took as long as shingling it).
pub fn text_shingles_into(text: &str, config: &ShingleConfig, out: &mut Vec<u64>) {
    match crate::normalize::ascii_joined(text) {
        Some(joined) if config.unit == Unit::Word => {
            let hashes = ascii_word_hashes(&joined, true, config.ocr_fold);
            word_ngrams(&hashes, config.ngram.max(1), out);
        }
        Some(joined) => {
            let mut words = String::new();
            let ascii_words = AsciiWords::new(&joined, true);
            push_joined_words(ascii_words, true, config.ocr_fold, &mut words);
            char_ngrams(&words, config.ngram.max(1), out);
        }
        None => {
            let joined = crate::normalize::join_hyphenated_line_breaks(text);
            if lines_start_plainly(&joined) {
                shingles_by_line(&joined, config, out);
            } else {
                shingles_into(&crate::normalize::normalize(text), config, out);
            }
        }
    }
}

/// Whether each line of `text` opens, past whitespace and invisible characters, with a
/// character that cannot attach to what comes before it: ASCII, a typographic quote or dash,
/// or a letter or digit that is not a combining mark (a blank line qualifies too). Then the
/// words of the text are the words of its lines, each line normalized alone: no word crosses
/// a line break and normalizing works within a line (a property test holds the two equal).
/// A combining mark or a format character opening a line would attach to the space before
/// it in the whole normalized text, so those texts take the whole-text path.
fn lines_start_plainly(text: &str) -> bool {
    text.split('\n').all(|line| {
        line.is_ascii()
            || line
                .chars()
                .find(|&c| !c.is_whitespace() && !crate::normalize::is_invisible(c))
                .is_none_or(|c| {
                    c.is_ascii()
                        || crate::normalize::ascii_equivalent(c).is_some()
                        || (c.is_alphanumeric()
                            && !unicode_normalization::char::is_combining_mark(c))
                })
    })
}

/// The shingles of a text whose lines start plainly ([`lines_start_plainly`]), hyphenated
/// breaks joined: most such texts are ASCII but for a line or two (a name with an accent, a
/// pound sign), and only those lines take the slower Unicode path.
fn shingles_by_line(text: &str, config: &ShingleConfig, out: &mut Vec<u64>) {
    let fold = config.ocr_fold;
    let mut hashes = Vec::new();
    let mut joined = String::new();
    for line in text.split('\n') {
        // A line holds no break, so `ascii_joined` joins nothing here.
        match (crate::normalize::ascii_joined(line), config.unit) {
            (Some(ascii), Unit::Word) => hashes.extend(ascii_word_hashes(&ascii, true, fold)),
            (Some(ascii), Unit::Char) => {
                push_joined_words(AsciiWords::new(&ascii, true), true, fold, &mut joined)
            }
            (None, Unit::Word) => {
                push_word_hashes(&crate::normalize::normalize(line), fold, &mut hashes)
            }
            (None, Unit::Char) => {
                let normalized = crate::normalize::normalize(line);
                let ascii = normalized.is_ascii();
                push_joined_words(words(&normalized), ascii, fold, &mut joined);
            }
        }
    }
    match config.unit {
        Unit::Word => word_ngrams(&hashes, config.ngram.max(1), out),
        Unit::Char => char_ngrams(&joined, config.ngram.max(1), out),
    }
}

/// Append the hash of each word of a normalized text, folded to its OCR skeleton when `fold`
/// is set (an ASCII text's words by [`ascii_word_hashes`]).
fn push_word_hashes(normalized: &str, fold: bool, out: &mut Vec<u64>) {
    if normalized.is_ascii() {
        out.extend(ascii_word_hashes(normalized, false, fold));
        return;
    }
    let mut skeleton = String::new();
    out.extend(normalized.unicode_words().map(|word| {
        if fold {
            skeleton.clear();
            push_ocr_skeleton(word, &mut skeleton);
            hash_bytes(skeleton.as_bytes())
        } else {
            hash_bytes(word.as_bytes())
        }
    }));
}

/// Append `words` to `joined` without separators, as character shingles read them: OCR-folded
/// when `fold` is set; `ascii` words may still need lowercasing (see [`push_ascii_word`]),
/// others are normalized already.
fn push_joined_words<'a>(
    words: impl Iterator<Item = &'a str>,
    ascii: bool,
    fold: bool,
    joined: &mut String,
) {
    if ascii {
        let mut bytes = std::mem::take(joined).into_bytes();
        for w in words {
            push_ascii_word(w.as_bytes(), fold, &mut bytes);
        }
        // Only ASCII bytes were appended to a string.
        *joined = String::from_utf8(bytes).unwrap_or_default();
    } else {
        for w in words {
            if fold {
                push_ocr_skeleton(w, joined);
            } else {
                joined.push_str(w);
            }
        }
    }
}

/// Character n-gram shingles of the joined words of a text (fewer characters than n: one
/// shingle of them all; none of an empty text).
fn char_ngrams(joined: &str, n: usize, out: &mut Vec<u64>) {
    if joined.is_empty() {
        return;
    }
    if joined.is_ascii() {
        // One byte a character: the windows are byte windows.
        if joined.len() < n {
            out.push(hash_bytes(joined.as_bytes()));
        } else {
            out.extend(joined.as_bytes().windows(n).map(hash_bytes));
        }
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

/// Ring size of character-shingle offsets: longer than the longest n-gram (32).
const RING: usize = 33;

/// The distinct hashes of `hashes` in first-occurrence order, for uses that read them as a set
/// in any order (signatures, document frequencies): an open-addressed table in place of the
/// sort of [`to_set`], which took twice as long. The table is the thread's own, kept between
/// calls: clearing it where it is warm in the cache costs less than a fresh zeroed one.
pub fn distinct(hashes: &[u64]) -> Vec<u64> {
    thread_local! {
        static TABLE: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    TABLE.with_borrow_mut(|table| {
        let slots = (hashes.len() * 2).next_power_of_two().max(16);
        table.clear();
        table.resize(slots, 0);
        let out = distinct_in(hashes, table);
        // An enormous document's table is not kept.
        if table.len() > KEPT_TABLE_SLOTS {
            *table = Vec::new();
        }
        out
    })
}

/// Slots of the largest table [`distinct`] keeps for the next call (512 KB).
const KEPT_TABLE_SLOTS: usize = 1 << 16;

/// [`distinct`] with `table` (all zeros, a power of two at least twice as long as `hashes`).
fn distinct_in(hashes: &[u64], table: &mut [u64]) -> Vec<u64> {
    let mask = table.len() - 1;
    // 0 marks an empty slot; the hash 0 itself is tracked apart.
    let mut zero = false;
    let mut out = Vec::with_capacity(hashes.len());
    for &h in hashes {
        if h == 0 {
            if !zero {
                zero = true;
                out.push(0);
            }
            continue;
        }
        let mut i = h as usize & mask;
        loop {
            match table[i] {
                0 => {
                    table[i] = h;
                    out.push(h);
                    break;
                }
                t if t == h => break,
                _ => i = (i + 1) & mask,
            }
        }
    }
    out
}

/// Sort and deduplicate shingle hashes into a set.
pub fn to_set(mut hashes: Vec<u64>) -> Vec<u64> {
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_bytes_equal_the_tables() {
        for b in 0..=255u8 {
            assert_eq!(mapped_byte::<true>(b), FOLD[b as usize], "{b}");
            assert_eq!(mapped_byte::<false>(b), LOWER[b as usize], "{b}");
        }
    }

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

    proptest::proptest! {
        #[test]
        fn ascii_words_equal_unicode_words(text in "[ab1 2._:',;\"\\-\n\r!|]{0,200}") {
            let fast: Vec<&str> = words(&text).collect();
            let reference: Vec<&str> = text.unicode_words().collect();
            proptest::prop_assert_eq!(fast, reference);
        }

        #[test]
        fn ascii_word_mapping_equals_lowercase_then_skeleton(word in "[a-zA-Z0-9_.'`rnclvRNCLVI15!|]{0,70}") {
            let lowered = word.to_ascii_lowercase().replace('`', "'");
            let mut skeleton = String::new();
            push_ocr_skeleton(&lowered, &mut skeleton);
            let mut mapped = Vec::new();
            push_ascii_word(word.as_bytes(), true, &mut mapped);
            proptest::prop_assert_eq!(&mapped, skeleton.as_bytes());
            mapped.clear();
            push_ascii_word(word.as_bytes(), false, &mut mapped);
            proptest::prop_assert_eq!(&mapped, lowered.as_bytes());
        }

        #[test]
        fn text_shingles_equal_shingles_of_the_normalized_text(
            text in "[aBrnCLvV1i5_ .,:;'`\"\\-\n\t!|\u{2019}\u{2013}\u{00A0}\u{00AD}\u{2026}é]{0,200}",
            word in proptest::bool::ANY,
            ngram in 1usize..8,
            ocr_fold in proptest::bool::ANY,
        ) {
            let config = ShingleConfig { unit: if word { Unit::Word } else { Unit::Char }, ngram, ocr_fold };
            let mut fused = Vec::new();
            text_shingles_into(&text, &config, &mut fused);
            let reference = shingles(&crate::normalize::normalize(&text), &config);
            proptest::prop_assert_eq!(&fused, &reference);
            proptest::prop_assert_eq!(
                count_words(&text, 1000),
                words(&crate::normalize::normalize(&text)).count()
            );
        }

        #[test]
        fn line_by_line_shingles_equal_shingles_of_the_normalized_text(
            lines in proptest::collection::vec(
                "[ \t\u{200B}\u{3000}]{0,2}[aB1 .'\\-£é\u{0301}\u{200E}\u{00B4}\u{00A8}\u{FF21}н\u{200D}\u{3000}\u{00AD}\u{2019}\u{201C}\u{0663}の\u{093F}\u{0915}\u{1100}\u{1161}\u{1F1E6}אก]{0,30}",
                0..8,
            ),
            word in proptest::bool::ANY,
            ngram in 1usize..6,
            ocr_fold in proptest::bool::ANY,
        ) {
            let text = lines.join("\n");
            let config = ShingleConfig { unit: if word { Unit::Word } else { Unit::Char }, ngram, ocr_fold };
            let mut fused = Vec::new();
            text_shingles_into(&text, &config, &mut fused);
            let reference = shingles(&crate::normalize::normalize(&text), &config);
            proptest::prop_assert_eq!(&fused, &reference);
        }
    }

    #[test]
    fn ascii_words_run_across_blocks() {
        // Words and joins at every offset around the 64-byte block boundaries.
        for pad in 0..140 {
            for word in ["ab.cd", "1,2", "__x_", "a'b", "x__y", "a.", "_", "abc"] {
                let text = format!(
                    "{}{word} {word}{}{word}",
                    " ".repeat(pad),
                    "q".repeat(pad % 70)
                );
                let fast: Vec<&str> = words(&text).collect();
                let reference: Vec<&str> = text.unicode_words().collect();
                assert_eq!(fast, reference, "{text:?}");
            }
        }
    }

    #[test]
    fn folded_pairs_are_found_across_blocks() {
        // Each word hashed alone (1-grams), with its pairs at every offset around the 64-byte
        // block boundaries and straddling them.
        let config = ShingleConfig {
            unit: Unit::Word,
            ngram: 1,
            ocr_fold: true,
        };
        for pad in 0..140 {
            for word in [
                "rn",
                "Cl",
                "vVv",
                "ci",
                "modern",
                "x1rn5",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaarnaaaaaaaaaaaaaaaaaaaaaaacl",
            ] {
                let text = format!("{}{word} {word}{}", "q".repeat(pad), "v".repeat(pad % 3));
                let mut fast = Vec::new();
                text_shingles_into(&text, &config, &mut fast);
                let reference = shingles(&crate::normalize::normalize(&text), &config);
                assert_eq!(fast, reference, "{text:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn distinct_is_the_set_in_first_occurrence_order(
            hashes in proptest::collection::vec(proptest::prop_oneof![0u64..4, proptest::num::u64::ANY], 0..300)
        ) {
            let got = distinct(&hashes);
            let mut seen = std::collections::HashSet::new();
            let expected: Vec<u64> = hashes.iter().copied().filter(|h| seen.insert(*h)).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn ascii_words_keep_the_unicode_joins() {
        for text in [
            "e.g. a:b don't 3,000.50 1;2 a.1 1.a __ _x_ x__y a..b 'a' 1'000 a_.b",
            "rock'n'roll u.s.a. 9:30 v1.2.3 __init__",
        ] {
            let fast: Vec<&str> = words(text).collect();
            let reference: Vec<&str> = text.unicode_words().collect();
            assert_eq!(fast, reference, "{text:?}");
        }
    }

    #[test]
    fn ocr_skeleton_folds_confusions() {
        assert_eq!(ocr_skeleton("modern"), ocr_skeleton("rnodern"));
        assert_eq!(ocr_skeleton("deal"), ocr_skeleton("cleal"));
        assert_eq!(ocr_skeleton("oil"), ocr_skeleton("0i1"));
        assert_eq!(ocr_skeleton("plain"), "plain".replace('i', "l"));
    }
}
