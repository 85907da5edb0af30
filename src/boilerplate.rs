//! Boilerplate lines: site furniture in scraped plain text, removed line by line with a reason.
//!
//! Two kinds of evidence:
//! - within a page: every line gets features (word count, sentence punctuation, share of
//!   capitalized or numeric tokens, prompt phrases, dates, repetition within the page) and a
//!   score for "article here". Long sentence lines score for it; template lines, dates,
//!   prompts and lists of names against it; other short lines (table cells, list items,
//!   counters, repeated labels) cost almost nothing, so the article's tables and lists do not
//!   split it. Lists of records (short paragraphs alone between headline-like lines or
//!   furniture: teasers, short comments) count nothing. The densest run of that score (a
//!   maximum-sum segment) is the article; it ends before a run of dated post headers (a
//!   comment thread). Inside it the classifier is lenient, so headlines, subheads, list items,
//!   tables and captions of the article stay; outside it only the headline stays. Structure
//!   carries most of the weight, so it works for languages without a word list; a small
//!   multilingual list of prompt phrases is one signal among several.
//! - across pages of one site: a line (digits, case and spacing normalized) seen on several
//!   pages of the same site is template. Pages whose site is unknown get no cross-page rule:
//!   repetition across different sites is how wire copy looks, not furniture. A page with
//!   enough template lines is framed by its site, and its other short lines count slightly
//!   for the article: an article that is a table with no prose is found between the frame.
//!
//! Pass 1 ([`TemplateCounts::observe`]) keeps only 64-bit line hashes and counts, never text.
//! Both passes are linear in the input; the result depends only on the input (deterministic).

use crate::doc::Doc;
use ahash::{AHashMap, AHashSet};
use aho_corasick::AhoCorasick;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::LazyLock;

/// Why a line was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Seen on several pages of the same site.
    Template,
    /// Repeated within the page.
    RepeatedInPage,
    /// A share, subscribe, cookie, login, copyright or similar prompt.
    Prompt,
    /// A widget: temperature, date, time, counter, "3 min read".
    Widget,
    /// A list of names or links without sentence structure (menus, drop-downs, tag lists).
    NameList,
    /// A short line without sentence punctuation outside the article.
    ShortLine,
    /// A longer line outside the article's dense run of prose (teasers, comments, footers).
    OutsideArticle,
}

impl Reason {
    /// True for reasons read from the line itself (template, prompt, list of names, repeat in
    /// the page). Matching ignores only these: the page-shape guesses (short line, outside the
    /// article, widget) also catch wire-copy table rows such as "Shr 69 cts vs 56 cts", and
    /// dropping those made near-duplicate detection worse on the benchmark.
    pub fn is_line_evidence(&self) -> bool {
        matches!(
            self,
            Reason::Template | Reason::Prompt | Reason::NameList | Reason::RepeatedInPage
        )
    }

    /// All reasons, in the order summaries list them.
    pub const ALL: [Reason; 7] = [
        Reason::Template,
        Reason::RepeatedInPage,
        Reason::Prompt,
        Reason::Widget,
        Reason::NameList,
        Reason::ShortLine,
        Reason::OutsideArticle,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Template => "template",
            Reason::RepeatedInPage => "repeated_in_page",
            Reason::Prompt => "prompt",
            Reason::Widget => "widget",
            Reason::NameList => "name_list",
            Reason::ShortLine => "short_line",
            Reason::OutsideArticle => "outside_article",
        }
    }
}

/// One removed line: 1-based line number in the input text, the line, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemovedLine {
    pub line: usize,
    pub text: String,
    pub reason: Reason,
}

/// The cleaned text (kept lines joined by `\n`) and what was removed.
#[derive(Clone, Debug, Default)]
pub struct Cleaned {
    pub text: String,
    pub removed: Vec<RemovedLine>,
}

/// Settings of the classifier.
#[derive(Clone, Debug, Serialize)]
pub struct CleanConfig {
    /// A line seen on at least this many pages of one site is template.
    pub min_template_pages: u32,
    /// A line with at least this many words and sentence punctuation is prose.
    pub prose_words: usize,
    /// Outside the article, a line needs at least this many words (and sentence punctuation)
    /// to be kept.
    pub outside_keep_words: usize,
    /// Density score of a date, time or temperature line: negative enough to split an article
    /// from a comment section whose posts are separated by such lines.
    pub widget_penalty: f64,
    /// Density score of a short line without sentence punctuation on a page without a site
    /// template: small, so a table or a list between paragraphs stays in the article.
    pub short_penalty: f64,
    /// Density score of a template line: the site frame around the article.
    pub template_penalty: f64,
    /// A page with at least this many template lines is framed by its site: its other short
    /// lines are page-specific and score slightly positive, so an article made of a table or a
    /// list with little prose is still found between header and footer.
    pub framed_min_template_lines: usize,
    /// A run of at least this many lines with one punctuation skeleton (dates and venues,
    /// "Team (Group A): 3rd") right after the article's last paragraph continues the article.
    pub attached_list_lines: usize,
    /// At least this many date or time lines of one punctuation skeleton, close together and
    /// each followed by text, head records: posts of a comment thread or a dated list. The
    /// article ends before the first of them (0: off).
    pub dated_records: usize,
    /// A paragraph shorter than this, alone between furniture and repeated as a list (see
    /// `discount_records`), is a teaser or a short comment.
    pub record_max_words: usize,
    /// Share of its density score that such a record keeps (0: it counts neither for nor
    /// against the article).
    pub record_weight: f64,
}

impl Default for CleanConfig {
    fn default() -> Self {
        CleanConfig {
            min_template_pages: 2,
            prose_words: 15,
            outside_keep_words: 1000,
            widget_penalty: 3.0,
            short_penalty: 0.05,
            template_penalty: 1.5,
            framed_min_template_lines: 5,
            attached_list_lines: 5,
            dated_records: 3,
            record_max_words: 40,
            record_weight: 0.0,
        }
    }
}

/// Pass 1: how many pages of each site each line hash was seen on.
#[derive(Clone, Debug, Default)]
pub struct TemplateCounts {
    pages: AHashMap<u64, u32>,
}

/// Hash of a line with digits, case and spacing normalized, so "112 comments" and
/// "7 Comments" are one template line (a run of digits becomes one `0`).
fn normalized_hash(line: &str) -> u64 {
    // Every line of every page is hashed (twice with a known site): one buffer per thread, not
    // one allocation per line.
    NORMALIZED.with(|buffer| {
        let mut norm = buffer.borrow_mut();
        normalize_line(line, &mut norm);
        crate::shingle::hash_bytes(&norm)
    })
}

/// What [`normalize_line`] keeps of a trimmed line without [`Line::odd_case`], read from its
/// features: its runs of non-whitespace ([`Line::spaced`], 0 for CJK text either way), its
/// words (letters and digits stay letters and digits), and its first and last bytes as they
/// are normalized (a digit becomes `0`, ASCII letters lowercase, a character outside ASCII
/// lowercases to one outside ASCII). Two such lines with one normalized line have one key, so
/// a line whose key no other line of the page has is repeated nowhere on it: its hash is not
/// needed to tell. (Lines of different keys could share a hash only by a 64-bit collision.)
fn shape_key(line: &Line, text: &str) -> u64 {
    let class = |b: Option<&u8>| match b {
        Some(b) if !b.is_ascii() => 0x80,
        Some(b) if b.is_ascii_digit() => u64::from(b'0'),
        Some(b) => u64::from(b.to_ascii_lowercase()),
        None => 0,
    };
    let bytes = text.as_bytes();
    (line.spaced as u64)
        ^ (line.words as u64) << 24
        ^ class(bytes.first()) << 48
        ^ class(bytes.last()) << 56
}

thread_local! {
    static NORMALIZED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whitespace as `char::is_whitespace` sees it, for ASCII bytes.
const fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

/// Classes of bytes for [`Line::scan_ascii`]: one table look-up instead of a chain of range
/// tests per byte.
const ALNUM: u8 = 1;
const UPPER: u8 = 2;
const LOWER: u8 = 4;
const SPACE: u8 = 8;
static ASCII_CLASS: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_digit() {
            ALNUM
        } else if c.is_ascii_uppercase() {
            ALNUM | UPPER
        } else if c.is_ascii_lowercase() {
            ALNUM | LOWER
        } else if is_ascii_space(c) {
            SPACE
        } else {
            0
        };
        b += 1;
    }
    table
};

/// More classes of characters outside ASCII, for [`Line::scan_mixed`] (with [`ALNUM`],
/// [`UPPER`], [`LOWER`] and [`SPACE`]; case only for letters and digits).
const ALPHA: u16 = 16;
const CJK: u16 = 32;
const SEPARATOR: u16 = 64;
const PUNCT: u16 = 128;
const DEGREE: u16 = 256;
const ODD_CASE: u16 = 512;

/// The classes of a character as [`Line::scan_chars`] asks for them, one by one.
fn classify(c: char) -> u16 {
    let mut class = 0;
    if c.is_alphanumeric() {
        class |= u16::from(ALNUM);
        if c.is_alphabetic() {
            class |= ALPHA;
        }
        if is_cjk(c) {
            class |= CJK;
        }
        if c.is_uppercase() {
            class |= u16::from(UPPER);
        } else if c.is_lowercase() {
            class |= u16::from(LOWER);
        }
    } else {
        class |= match c {
            '|' | '•' | '»' | '›' | '·' | '◦' | '▪' => SEPARATOR,
            '°' => DEGREE,
            ',' | ';' | ':' | '،' | '、' | '，' => PUNCT,
            c if is_sentence_end(c) => PUNCT,
            _ => 0,
        };
    }
    if c.is_whitespace() {
        class |= u16::from(SPACE);
    }
    if matches!(c, '\u{130}' | '\u{212A}') {
        class |= ODD_CASE;
    }
    class
}

/// [`classify`] of the characters below U+0800 (Latin, Greek, Cyrillic, Hebrew, Arabic: two
/// bytes in UTF-8) and of General Punctuation (U+2000 to U+206F: quotes, dashes, spaces),
/// looked up instead of asked of the Unicode tables.
static CHAR_CLASSES: LazyLock<Vec<u16>> = LazyLock::new(|| {
    (0..0x800)
        .chain(0x2000..0x2070)
        .map(|u| char::from_u32(u).map_or(0, classify))
        .collect()
});

/// The classes of the character `code` ([`classify`]), from `table` ([`CHAR_CLASSES`]) when
/// it has them.
#[inline(always)]
fn char_class(table: &[u16], code: u32) -> u16 {
    let at = if code < 0x800 {
        code
    } else if (0x2000..0x2070).contains(&code) {
        code - 0x2000 + 0x800
    } else {
        return char::from_u32(code).map_or(0, classify);
    };
    table.get(at as usize).copied().unwrap_or(0)
}

/// The character starting at byte `i` of `bytes` (valid UTF-8, not ASCII there): its code
/// point and its length in bytes.
#[inline(always)]
fn decode_utf8(bytes: &[u8], i: usize) -> (u32, usize) {
    let at = |k: usize| u32::from(bytes.get(i + k).copied().unwrap_or(0) & 0x3F);
    let lead = u32::from(bytes[i]);
    if lead < 0xE0 {
        ((lead & 0x1F) << 6 | at(1), 2)
    } else if lead < 0xF0 {
        ((lead & 0x0F) << 12 | at(1) << 6 | at(2), 3)
    } else {
        ((lead & 0x07) << 18 | at(1) << 12 | at(2) << 6 | at(3), 4)
    }
}

/// One byte in each of the 8 lanes of a `u64`.
pub(crate) const fn lanes(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// The high bit of each byte of `x` (all below 0x80) that lies in `lo..=hi`: no sum below
/// carries into the next byte.
pub(crate) fn bytes_in(x: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = x.wrapping_add(lanes(0x80 - lo));
    let above_hi = x.wrapping_add(lanes(0x7F - hi));
    at_least_lo & !above_hi & lanes(0x80)
}

/// The end of the run of ASCII letters and digits in `bytes` from `i`: 8 bytes at a time, then
/// byte by byte near the end of the line.
#[inline(always)]
fn alnum_run_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(block) = bytes.get(i..i + 8) {
        let x = u64::from_le_bytes(block.try_into().expect("8 bytes"));
        // ORing 0x20 folds case, and moves no other ASCII byte into a..z.
        let alnum = bytes_in(x | lanes(0x20), b'a', b'z') | bytes_in(x, b'0', b'9');
        let ends = !alnum & lanes(0x80);
        if ends != 0 {
            return i + (ends.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while bytes.get(i).is_some_and(u8::is_ascii_alphanumeric) {
        i += 1;
    }
    i
}

/// The normalized line behind [`normalized_hash`]: its words (runs of non-whitespace) joined by
/// one space, each run of ASCII digits as one `0`, everything else lowercased.
///
/// Most of a line, even of one with a few curly quotes or accents, needs only ASCII lowercasing:
/// the bytes up to the next digit, whitespace other than a single space, space after
/// whitespace, or byte outside ASCII are lowercased and copied 16 at a time, and that byte or
/// character (with the rest of its run of digits) is decided alone. The space after a word is
/// written when it is read, and removed at the end of the line.
fn normalize_line(line: &str, norm: &mut Vec<u8>) {
    let bytes = line.as_bytes();
    // Written in place. A run of spaces or digits becomes at most one byte, and lowercasing
    // lengthens a character by half at most (İ: 2 bytes, i and a dot: 3), so the result so far
    // is never longer than half again the line read so far: 16 bytes written at `n` fit in
    // that much room where 16 bytes were read.
    norm.clear();
    norm.resize(bytes.len() + bytes.len() / 2, 0);
    let mut n = 0;
    let mut i = 0;
    while i < bytes.len() {
        // The 16 bytes from `i` and the 16 before each of them (the first byte is decided
        // alone: nothing is before it).
        let window = i.checked_sub(1).and_then(|from| bytes.get(from..i + 16));
        if let Some(window) = window {
            let block: &[u8; 16] = window[1..].try_into().expect("16 bytes");
            let before: &[u8; 16] = window[..16].try_into().expect("16 bytes");
            let lowered = block.map(|b| b | (u8::from(b.wrapping_sub(b'A') < 26) << 5));
            // Past the first stop the bytes are overwritten later (or cut at the end).
            norm[n..n + 16].copy_from_slice(&lowered);
            let stops = normalize_stops(block, before);
            if stops == 0 {
                n += 16;
                i += 16;
                continue;
            }
            let copied = (stops.trailing_zeros() / 8) as usize;
            n += copied;
            i += copied;
        }
        // A stop, the first byte, or one of the last 15.
        let b = bytes[i];
        if !b.is_ascii() {
            let c = line[i..]
                .chars()
                .next()
                .expect("a character starts at a stop");
            i += c.len_utf8();
            if c.is_whitespace() {
                if n > 0 && norm[n - 1] != b' ' {
                    norm[n] = b' ';
                    n += 1;
                }
            } else {
                for l in c.to_lowercase() {
                    n += l.encode_utf8(&mut norm[n..]).len();
                }
            }
            continue;
        }
        i += 1;
        if is_ascii_space(b) {
            if n > 0 && norm[n - 1] != b' ' {
                norm[n] = b' ';
                n += 1;
            }
        } else if b.is_ascii_digit() {
            norm[n] = b'0';
            n += 1;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        } else {
            norm[n] = b.to_ascii_lowercase();
            n += 1;
        }
    }
    if n > 0 && norm[n - 1] == b' ' {
        n -= 1;
    }
    norm.truncate(n);
}

/// The bytes of `block` that [`normalize_line`] cannot copy lowercased, as the lowest bit of
/// each byte of a `u128` (little-endian): digits, whitespace but a space, a space after
/// whitespace or after a character outside ASCII (`before` holds the byte before each), and
/// bytes outside ASCII. Written lane by lane so that the compiler does all 16 at once.
#[inline(always)]
fn normalize_stops(block: &[u8; 16], before: &[u8; 16]) -> u128 {
    let mut stops = [0u8; 16];
    for k in 0..16 {
        let (b, p) = (block[k], before[k]);
        let control = |c: u8| c.wrapping_sub(b'\t') <= b'\r' - b'\t';
        // `|`, not `||`: no branches, so the lanes go together.
        let stop = (b.wrapping_sub(b'0') <= 9)
            | control(b)
            | (b >= 0x80)
            | ((b == b' ') & ((p == b' ') | control(p) | (p >= 0x80)));
        stops[k] = u8::from(stop);
    }
    u128::from_le_bytes(stops)
}

/// Whether a line has at least one letter (any script).
fn has_letter(line: &str) -> bool {
    line.chars().any(char::is_alphabetic)
}

fn site_key(site: &str, line_hash: u64) -> u64 {
    crate::shingle::combine(&[crate::shingle::hash_bytes(site.as_bytes()), line_hash])
}

impl TemplateCounts {
    /// Pass 1 over a corpus: every page's lines counted under its site, in parallel.
    pub fn from_docs(docs: &[Doc]) -> TemplateCounts {
        docs.par_iter()
            .fold(TemplateCounts::new, |mut t, d| {
                t.observe(d.site.as_deref(), &d.text);
                t
            })
            .reduce(TemplateCounts::new, |mut a, b| {
                a.merge(b);
                a
            })
    }

    pub fn new() -> Self {
        Self::default()
    }

    /// Count the distinct lines of one page of `site`. Lines without a letter (table cells,
    /// counters, rules, invisible characters) are no evidence of a template: after digit
    /// normalization every number would be one line.
    pub fn observe(&mut self, site: Option<&str>, text: &str) {
        let Some(site) = site else { return };
        for k in TemplateCounts::page_keys(site, text) {
            *self.pages.entry(k).or_insert(0) += 1;
        }
    }

    /// The keys [`TemplateCounts::observe`] counts for one page of `site`: its distinct lines
    /// with a letter, under the site; sorted. An index keeps them to take a replaced page back.
    pub fn page_keys(site: &str, text: &str) -> Vec<u64> {
        let mut keys: Vec<u64> = lines(text)
            .filter(|l| has_letter(l))
            .map(|l| site_key(site, normalized_hash(l)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Add the counts of another pass (for parallel counting).
    pub fn merge(&mut self, other: TemplateCounts) {
        if self.pages.len() < other.pages.len() {
            let mine = std::mem::replace(&mut self.pages, other.pages);
            for (k, v) in mine {
                *self.pages.entry(k).or_insert(0) += v;
            }
            return;
        }
        for (k, v) in other.pages {
            *self.pages.entry(k).or_insert(0) += v;
        }
    }

    /// Every (site line key, pages) count, for storing the counts elsewhere.
    pub fn entries(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.pages.iter().map(|(k, n)| (*k, *n))
    }

    /// Add `pages` to the count of a site line key taken from [`TemplateCounts::entries`].
    pub fn add_entry(&mut self, key: u64, pages: u32) {
        let n = self.pages.entry(key).or_insert(0);
        *n = n.saturating_add(pages);
    }

    fn pages_with(&self, site: &str, line_hash: u64) -> u32 {
        self.pages
            .get(&site_key(site, line_hash))
            .copied()
            .unwrap_or(0)
    }
}

/// What the classifier knows about one non-empty line.
#[derive(Clone, Debug, Default, PartialEq)]
struct Line {
    /// Word tokens (runs of letters and digits); CJK text counts one word per two characters.
    words: usize,
    /// Runs of non-space characters, or 0 for text with CJK characters (written without
    /// spaces). Far fewer of them than words is a URL or markup, not a sentence.
    spaced: usize,
    /// Tokens that are all digits.
    numeric: usize,
    /// Tokens starting with an uppercase letter.
    capitalized: usize,
    /// Tokens starting with a lowercase letter.
    lowercase: usize,
    /// Ends with sentence punctuation (after closing quotes and brackets).
    ends_sentence: bool,
    /// Starts with a lowercase letter: the continuation of a wrapped sentence.
    starts_lowercase: bool,
    /// Starts with a dash: the attribution under a quote or an embedded post
    /// ("— Ann Lee (@annlee) May 3, 2019"), part of the article even when it holds a date.
    attribution: bool,
    /// Has a sentence boundary or clause punctuation inside.
    inner_punct: usize,
    /// Separators typical of menus and breadcrumbs: `|`, `•`, `»`, `›`, `/` between words.
    separators: usize,
    /// A degree sign (temperature widgets).
    degree: bool,
    /// A clock time (`9:24`) or a year (`2019`): dates and timestamps.
    date_like: bool,
    /// A prompt phrase was found: strong (unambiguous) or weak (single common word).
    prompt: Prompt,
    repeated: bool,
    /// Has a letter (lines without one are never template).
    has_letter: bool,
    /// Has a character whose lowercase is not one character of the same kind (İ lowercases to
    /// `i` and a combining dot, the Kelvin sign to ASCII `k`): its normalized line may have
    /// other words or ends than it, so [`shape_key`] says nothing about it.
    odd_case: bool,
    /// Pages of the same site holding this line (0 when the site is unknown).
    template_pages: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Prompt {
    #[default]
    None,
    Weak,
    Strong,
}

fn is_year(token: &str) -> bool {
    token.len() == 4 && (token.starts_with("19") || token.starts_with("20"))
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '”' | '’' | '»' | '«' | ')' | ']' | '“' | '*' | ' '
    )
}

fn is_sentence_end(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | '…' | '。' | '！' | '？' | '؟' | '।' | '։' | '۔'
    )
}

impl Line {
    /// The features of a line.
    fn new(text: &str) -> Line {
        let mut line = Line::default();
        // All bytes ORed, which the compiler vectorizes whole (`is_ascii` ends byte by byte).
        let ascii = text.bytes().fold(0, |or, b| or | b) < 0x80;
        // ASCII lines find their prompt phrases in the same pass as the other counts.
        let (cjk_chars, phrases) = if ascii {
            (0, line.scan_ascii(text))
        } else {
            line.scan_mixed(text)
        };
        // CJK scripts do not separate words by spaces: a run of characters is one token.
        line.words += cjk_chars / 2;
        if cjk_chars > 0 {
            line.spaced = 0;
        }
        line.ends_sentence = text
            .trim_end_matches(is_closing)
            .chars()
            .next_back()
            .is_some_and(is_sentence_end);
        line.starts_lowercase = text.chars().next().is_some_and(char::is_lowercase);
        line.attribution = text.starts_with(['—', '–', '―']);
        line.prompt = if ascii {
            prompt_of(phrases, false, line.words)
        } else if line.words > 15 && !line.odd_case {
            // A line this long is asked only for notices (ASCII phrases) and, up to 40 words,
            // for substring prompts (see `prompt_of`), and neither needs its lowercase: every
            // character but those of `odd_case` lowercases to one of its kind, so ASCII words
            // are ASCII words in both and match the same phrases without ASCII case, and no
            // character but itself lowercases to one of a substring prompt.
            let substring = line.words <= 40 && has_substring_prompt(text);
            prompt_of(phrases & IN_NOTICE, substring, line.words)
        } else {
            prompt_kind_unicode(text, line.words)
        };
        line
    }

    /// The counts read character by character; returns the number of CJK characters. The
    /// definition that [`Line::scan_mixed`] and [`Line::scan_ascii`] follow faster.
    #[cfg(test)]
    fn scan_chars(&mut self, text: &str) -> usize {
        let line = self;
        let mut in_word = false;
        let mut word_all_digits = true;
        let mut cjk_chars = 0usize;
        let mut prev: char = ' ';
        let mut word_start = 0;
        for (at, c) in text.char_indices() {
            line.odd_case |= matches!(c, '\u{130}' | '\u{212A}');
            if !c.is_whitespace() && prev.is_whitespace() {
                line.spaced += 1;
            }
            if c == ':' && prev.is_ascii_digit() {
                line.date_like |= text[at + 1..].starts_with(|d: char| d.is_ascii_digit());
            }
            if c.is_alphanumeric() {
                line.has_letter |= c.is_alphabetic();
                if is_cjk(c) {
                    cjk_chars += 1;
                }
                if !in_word {
                    in_word = true;
                    word_start = at;
                    line.words += 1;
                    word_all_digits = true;
                    if c.is_uppercase() {
                        line.capitalized += 1;
                    } else if c.is_lowercase() {
                        line.lowercase += 1;
                    }
                }
                if !c.is_ascii_digit() {
                    word_all_digits = false;
                }
            } else {
                if in_word && word_all_digits {
                    line.numeric += 1;
                    line.date_like |= is_year(&text[word_start..at]);
                }
                in_word = false;
                match c {
                    '|' | '•' | '»' | '›' | '·' | '◦' | '▪' => line.separators += 1,
                    '/' if prev == ' ' => line.separators += 1,
                    '°' => line.degree = true,
                    ',' | ';' | ':' | '،' | '、' | '，' => line.inner_punct += 1,
                    c if is_sentence_end(c) => line.inner_punct += 1,
                    _ => {}
                }
            }
            prev = c;
        }
        if in_word && word_all_digits {
            line.numeric += 1;
            line.date_like |= is_year(&text[word_start..]);
        }
        cjk_chars
    }

    /// [`Line::scan_chars`] for any text: runs of ASCII letters and digits 8 bytes at a time
    /// and other ASCII bytes by [`ASCII_CLASS`], as in [`Line::scan_ascii`], and characters
    /// outside ASCII by [`char_class`]. Returns the number of CJK characters and the phrase
    /// lists ([`phrase_lists`]) with a phrase at a word of ASCII letters and digits, matched in
    /// the line as it is (see [`Line::new`] for when that is the line's lowercase match).
    fn scan_mixed(&mut self, text: &str) -> (usize, u8) {
        let phrases = &*PHRASES;
        let classes = &*CHAR_CLASSES;
        let bytes = text.as_bytes();
        let mut lists = 0;
        let mut cjk_chars = 0;
        // The previous character: whitespace, and its byte when it is ASCII (0x80 when not).
        let mut prev_space = true;
        let mut prev = b' ';
        let mut in_word = false;
        let mut word_start = 0;
        let mut word_all_digits = true;
        let mut word_ascii = true;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() {
                let class = ASCII_CLASS[usize::from(b)];
                if class & ALNUM != 0 {
                    if prev_space {
                        self.spaced += 1;
                    }
                    if !in_word {
                        in_word = true;
                        word_start = i;
                        word_all_digits = true;
                        word_ascii = true;
                        self.words += 1;
                        self.capitalized += usize::from(class & UPPER != 0);
                        self.lowercase += usize::from(class & LOWER != 0);
                    }
                    let end = alnum_run_end(bytes, i + 1);
                    if bytes[i..end].iter().any(u8::is_ascii_alphabetic) {
                        self.has_letter = true;
                        word_all_digits = false;
                    }
                    prev_space = false;
                    prev = bytes[end - 1];
                    i = end;
                    continue;
                }
                if in_word {
                    in_word = false;
                    self.end_word(text, word_start, i, word_all_digits);
                    if word_ascii {
                        lists |= phrases.at_word(text, word_start, i - word_start);
                    }
                }
                if class & SPACE == 0 {
                    if prev_space {
                        self.spaced += 1;
                    }
                    self.ascii_mark(bytes, i, prev);
                }
                prev_space = class & SPACE != 0;
                prev = b;
                i += 1;
                continue;
            }
            let (code, len) = decode_utf8(bytes, i);
            let class = char_class(classes, code);
            if class & u16::from(SPACE) == 0 && prev_space {
                self.spaced += 1;
            }
            if class & u16::from(ALNUM) != 0 {
                self.has_letter |= class & ALPHA != 0;
                cjk_chars += usize::from(class & CJK != 0);
                if !in_word {
                    in_word = true;
                    word_start = i;
                    self.words += 1;
                    self.capitalized += usize::from(class & u16::from(UPPER) != 0);
                    self.lowercase += usize::from(class & u16::from(LOWER) != 0);
                }
                word_all_digits = false;
                word_ascii = false;
            } else {
                if in_word {
                    in_word = false;
                    self.end_word(text, word_start, i, word_all_digits);
                    if word_ascii {
                        lists |= phrases.at_word(text, word_start, i - word_start);
                    }
                }
                self.separators += usize::from(class & SEPARATOR != 0);
                self.inner_punct += usize::from(class & PUNCT != 0);
                self.degree |= class & DEGREE != 0;
            }
            self.odd_case |= class & ODD_CASE != 0;
            prev_space = class & u16::from(SPACE) != 0;
            prev = 0x80;
            i += len;
        }
        if in_word {
            self.end_word(text, word_start, bytes.len(), word_all_digits);
            if word_ascii {
                lists |= phrases.at_word(text, word_start, bytes.len() - word_start);
            }
        }
        (cjk_chars, lists)
    }

    /// An ASCII byte `bytes[i]` that is neither a word byte nor whitespace, for the ASCII scans:
    /// separators, inner punctuation and the colon of a time. `prev` is the byte before (a
    /// space at the line start, 0x80 after a character outside ASCII).
    #[inline(always)]
    fn ascii_mark(&mut self, bytes: &[u8], i: usize, prev: u8) {
        let mark = bytes[i];
        if mark == b':' && prev.is_ascii_digit() {
            self.date_like |= bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        }
        match mark {
            b'|' => self.separators += 1,
            b'/' if prev == b' ' => self.separators += 1,
            b',' | b';' | b':' | b'.' | b'!' | b'?' => self.inner_punct += 1,
            _ => {}
        }
    }

    /// The end of the word `text[start..end]` for [`Line::scan_mixed`]: a number, maybe a year.
    #[inline(always)]
    fn end_word(&mut self, text: &str, start: usize, end: usize, all_digits: bool) {
        if all_digits {
            self.numeric += 1;
            self.date_like |= is_year(&text[start..end]);
        }
    }

    /// [`Line::scan_chars`] for ASCII text, byte by byte (most lines of news text): the same
    /// counts without decoding characters or asking the Unicode tables. Returns the phrase
    /// lists ([`phrase_lists`]) with a phrase in the line, found at the word starts.
    fn scan_ascii(&mut self, text: &str) -> u8 {
        let phrases = &*PHRASES;
        let mut lists = 0;
        let bytes = text.as_bytes();
        let class_of = |b: u8| ASCII_CLASS[usize::from(b)];
        let mut i = 0;
        // Whether the previous byte is whitespace (the line start counts as a space).
        let mut prev_space = true;
        while i < bytes.len() {
            let c = bytes[i];
            let class = class_of(c);
            if class & ALNUM != 0 {
                // A whole word at once: a run of letters and digits.
                self.spaced += usize::from(prev_space);
                self.words += 1;
                self.capitalized += usize::from(class & UPPER != 0);
                self.lowercase += usize::from(class & LOWER != 0);
                let start = i;
                i = alnum_run_end(bytes, i + 1);
                let word = &bytes[start..i];
                // A word that starts with a letter has one; one that starts with a digit is
                // most often a number.
                if class & (UPPER | LOWER) != 0 || word.iter().any(u8::is_ascii_alphabetic) {
                    self.has_letter = true;
                    lists |= phrases.at_word(text, start, word.len());
                } else {
                    self.numeric += 1;
                    self.date_like |= is_year(&text[start..i]);
                }
                // Most words end at one space, which does nothing but precede the next.
                prev_space = bytes.get(i) == Some(&b' ');
                i += usize::from(prev_space);
                continue;
            }
            if class & SPACE == 0 {
                self.spaced += usize::from(prev_space);
                // The byte before (a space before the line).
                let prev = i.checked_sub(1).map_or(b' ', |p| bytes[p]);
                self.ascii_mark(bytes, i, prev);
            }
            prev_space = class & SPACE != 0;
            i += 1;
        }
        lists
    }

    fn has_sentence_punct(&self) -> bool {
        self.ends_sentence || self.inner_punct >= 2
    }

    /// A long line with sentence structure: the stuff articles are made of. A URL or a line
    /// of markup splits into many words but has few spaces: not a sentence.
    fn is_prose(&self, config: &CleanConfig) -> bool {
        self.words >= config.prose_words
            && self.has_sentence_punct()
            && !self.looks_like_list()
            && !self.is_code()
    }

    /// A URL or markup: fewer than half as many space-separated runs as words.
    fn is_code(&self) -> bool {
        self.spaced > 0 && self.spaced * 2 < self.words
    }

    /// Many capitalized or separated tokens and no sentence punctuation: a menu, a tag list,
    /// a drop-down of provinces.
    fn looks_like_list(&self) -> bool {
        if self.ends_sentence {
            return false;
        }
        let cased = self.capitalized + self.lowercase;
        let many_caps = self.words >= 8
            && cased > 0
            && self.capitalized * 10 >= cased * 8
            && self.inner_punct * 8 <= self.words;
        let many_separators = self.separators >= 2 && self.words <= self.separators * 4 + 4;
        many_caps || many_separators
    }

    /// A date, a clock time or a temperature: furniture even inside the article, and a
    /// strong break between an article and the comments below it.
    fn is_dated(&self) -> bool {
        self.date_like || self.degree
    }

    /// Dates, times, temperatures, counters: short lines made mostly of numbers. The date
    /// under a quote (an attribution) is the quote's, not a widget.
    fn is_widget(&self) -> bool {
        if self.attribution {
            return false;
        }
        if self.degree && self.words <= 5 {
            return true;
        }
        // A dated line may be longer: "PUBLISHED: 10:48, Tue, Nov 19, 2019 | UPDATED: ...".
        let max_words = if self.date_like { 24 } else { 12 };
        self.numeric > 0
            && self.words <= max_words
            && !self.ends_sentence
            && (self.numeric * 10 >= self.words * 3 || self.words <= 2)
    }
}

/// Prompt phrases. Strong ones are furniture in any short line; weak ones are common words
/// that are furniture only outside the article. Lowercase; matched on whole words.
const STRONG_PROMPTS: &[&str] = &[
    // English
    "advertisement",
    "all rights reserved",
    "click here",
    "cookie",
    "cookies",
    "follow us",
    "log in",
    "log out",
    "newsletter",
    "read more",
    "read also",
    "see also",
    "share this",
    "sign in",
    "sign up",
    "skip to",
    "subscribe",
    "privacy policy",
    "terms of use",
    "terms of service",
    "recommend it",
    "related articles",
    "related stories",
    "more stories",
    "you may also like",
    "most popular",
    "most read",
    "leave a comment",
    "post comment",
    "comments",
    "getty images",
    // Italian
    "pubblicità",
    "leggi anche",
    "iscriviti",
    "condividi",
    "tutti i diritti riservati",
    // Portuguese / Spanish
    "publicidade",
    "publicidad",
    "leia mais",
    "leia também",
    "lee también",
    "assine",
    "compartilhe",
    "compartir",
    "todos os direitos reservados",
    "todos los derechos reservados",
    "suscríbete",
    // French / German
    "publicité",
    "lire aussi",
    "tous droits réservés",
    "partager",
    "anzeige",
    "werbung",
    "alle rechte vorbehalten",
    "teilen",
    // Turkish / Russian
    "paylaş",
    "abone ol",
    "tüm hakları saklıdır",
    "поделиться",
    "подписаться",
    "реклама",
    // Korean (no case, often unspaced: matched as substrings below)
];

const WEAK_PROMPTS: &[&str] = &[
    "share",
    "tweet",
    "email",
    "print",
    "menu",
    "search",
    "home",
    "login",
    "comment",
    "related",
    "facebook",
    "twitter",
    "whatsapp",
    "linkedin",
    "pinterest",
    "reddit",
    "instagram",
    "youtube",
    "contact",
    "about us",
    "sitemap",
    "rss",
    "photo",
    "video",
    "loading",
    "close",
    "back to top",
];

/// Korean and other unspaced scripts: matched as substrings.
const SUBSTRING_PROMPTS: &[&str] = &[
    "©",
    "무단전재",
    "무단 전재",
    "재배포",
    "저작권",
    "구독",
    "댓글",
    "로그인",
    "공유하기",
    "기사제보",
    "광고",
];

/// Cookie banners and legal notices, which are long prose but never article text.
const NOTICES: &[&str] = &[
    "cookie",
    "cookies",
    "all rights reserved",
    "privacy policy",
    "terms of use",
];

/// Bits of the phrase lists a line holds a phrase of (see [`phrase_lists`]).
const IN_STRONG: u8 = 1;
const IN_WEAK: u8 = 2;
const IN_NOTICE: u8 = 4;

/// The word-matched phrase lists, indexed by their first word. A phrase is lowercase words
/// (letters) joined by single spaces, so an occurrence at word boundaries starts at a word of
/// the line exactly as long as the phrase's first word: a line is searched with a few table
/// look-ups per word, not a scan of every byte.
struct PhraseIndex {
    /// Bit `word_key(w)` is set for the first word `w` of every phrase: a word of a line whose
    /// bit is clear starts no phrase. About 80 bits of 4096 are set, so nearly every word is
    /// rejected by one well-predicted test (a cheaper test that passed a third of the words
    /// cost more time in mispredicted branches than it saved).
    first_words: [u64; 64],
    /// The phrases sorted by the key of their first word: (key, first word's length, phrase,
    /// lists holding it).
    phrases: Vec<(usize, usize, &'static str, u8)>,
    /// Where the phrases of each key start in `phrases` (one more entry than keys).
    key_starts: Vec<u8>,
}

/// A 12-bit key of a word (`len` ≥ 1 bytes from `start`) from its length and its first,
/// second and last bytes, ORed with 0x20 to fold ASCII case.
#[inline(always)]
fn word_key(bytes: &[u8], start: usize, len: usize) -> usize {
    let second = start + usize::from(len > 1);
    let folded = |b: u8| u32::from(b | 0x20);
    let x = folded(bytes[start])
        | folded(bytes[second]) << 8
        | folded(bytes[start + len - 1]) << 16
        | (len as u32) << 24;
    (x.wrapping_mul(0x9E37_79B1) >> 20) as usize
}

impl PhraseIndex {
    fn new() -> PhraseIndex {
        let mut index = PhraseIndex {
            first_words: [0; 64],
            phrases: Vec::new(),
            key_starts: Vec::new(),
        };
        for (list, bit) in [
            (STRONG_PROMPTS, IN_STRONG),
            (WEAK_PROMPTS, IN_WEAK),
            (NOTICES, IN_NOTICE),
        ] {
            for &phrase in list {
                let len = phrase
                    .find(|c: char| !c.is_alphanumeric())
                    .unwrap_or(phrase.len());
                let key = word_key(phrase.as_bytes(), 0, len);
                index.first_words[key >> 6] |= 1 << (key & 63);
                match index.phrases.iter_mut().find(|e| e.2 == phrase) {
                    Some(e) => e.3 |= bit,
                    None => index.phrases.push((key, len, phrase, bit)),
                }
            }
        }
        index.phrases.sort_unstable();
        index.key_starts = (0..=4096)
            .map(|key| {
                let at = index.phrases.partition_point(|e| e.0 < key);
                u8::try_from(at).expect("fewer than 256 phrases")
            })
            .collect();
        index
    }

    /// The lists with a phrase at the word `text[start..start + len]` (a maximal run of letters
    /// and digits), matched without ASCII case. `text` is lowercase or ASCII.
    #[inline(always)]
    fn at_word(&self, text: &str, start: usize, len: usize) -> u8 {
        let bytes = text.as_bytes();
        let key = word_key(bytes, start, len);
        if self.first_words[key >> 6] >> (key & 63) & 1 == 0 {
            return 0;
        }
        self.phrases_at(text, start, len, key)
    }

    /// [`PhraseIndex::at_word`] past the filter: the phrases of that key compared.
    #[inline(never)]
    fn phrases_at(&self, text: &str, start: usize, len: usize, key: usize) -> u8 {
        let bytes = text.as_bytes();
        let of_key = usize::from(self.key_starts[key])..usize::from(self.key_starts[key + 1]);
        let mut lists = 0;
        for &(_, first_len, phrase, bits) in &self.phrases[of_key] {
            let end = start + phrase.len();
            if first_len == len
                && bytes
                    .get(start..end)
                    .is_some_and(|b| b.eq_ignore_ascii_case(phrase.as_bytes()))
                && text
                    .get(end..)
                    .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphanumeric()))
            {
                lists |= bits;
            }
        }
        lists
    }
}

static PHRASES: LazyLock<PhraseIndex> = LazyLock::new(PhraseIndex::new);

/// The phrase lists ([`IN_STRONG`], [`IN_WEAK`], [`IN_NOTICE`]) with a phrase in `lower` (a
/// lowercased line) as whole words.
fn phrase_lists(lower: &str) -> u8 {
    let phrases = &*PHRASES;
    let mut lists = 0;
    let mut word_start: Option<usize> = None;
    for (at, c) in lower.char_indices() {
        if c.is_alphanumeric() {
            word_start.get_or_insert(at);
        } else if let Some(start) = word_start.take() {
            lists |= phrases.at_word(lower, start, at - start);
        }
    }
    if let Some(start) = word_start {
        lists |= phrases.at_word(lower, start, lower.len() - start);
    }
    lists
}

/// The substring prompts compiled once into one automaton.
static SUBSTRING: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(SUBSTRING_PROMPTS)
        .ok()
});

fn has_substring_prompt(lower: &str) -> bool {
    match &*SUBSTRING {
        Some(ac) => ac.is_match(lower),
        None => SUBSTRING_PROMPTS.iter().any(|p| lower.contains(p)),
    }
}

/// The prompt of a line that is not ASCII.
fn prompt_kind_unicode(text: &str, words: usize) -> Prompt {
    let lower = text.to_lowercase();
    // Every substring prompt has a byte outside ASCII: an ASCII line holds none. Long lines are
    // not asked (see `prompt_of`).
    let substring = words <= 40 && has_substring_prompt(&lower);
    prompt_of(phrase_lists(&lower), substring, words)
}

/// The prompt of a line of `words` words holding phrases of `lists` (and a substring prompt).
fn prompt_of(lists: u8, substring: bool, words: usize) -> Prompt {
    let notice = || {
        if lists & IN_NOTICE != 0 {
            Prompt::Strong
        } else {
            Prompt::None
        }
    };
    // Long lines are judged by structure; only legal and cookie notices are checked there.
    if words > 40 {
        return notice();
    }
    if substring || (words <= 15 && lists & IN_STRONG != 0) {
        return Prompt::Strong;
    }
    if words > 15 {
        return notice();
    }
    if words <= 6 && lists & IN_WEAK != 0 {
        return Prompt::Weak;
    }
    Prompt::None
}

/// Evidence from the line itself that it is furniture, whatever its place on the page.
fn hard_reason(line: &Line, source: SiteSource, config: &CleanConfig) -> Option<Reason> {
    let prose = line.is_prose(config);
    // Prose shared by two pages of a site may be one story published twice, which
    // near-duplicate detection must still see; on three or more pages it is template (a
    // site-wide teaser, disclaimer or comment block). When the site is only the folder, the
    // same holds for a headline: two reprints of one story in one folder share it.
    let headline = source == SiteSource::Folder && title_like(line) && !line.ends_sentence;
    let needed = if prose || headline {
        config.min_template_pages.max(2) + 1
    } else {
        config.min_template_pages
    };
    if line.template_pages >= needed {
        return Some(Reason::Template);
    }
    if line.prompt == Prompt::Strong && (!prose || line.words <= 15) {
        return Some(Reason::Prompt);
    }
    if line.is_widget() {
        return Some(Reason::Widget);
    }
    if line.looks_like_list() && (line.words >= 8 || line.separators >= 2) {
        return Some(Reason::NameList);
    }
    if line.repeated && !prose {
        return Some(Reason::RepeatedInPage);
    }
    None
}

/// Inside the article only clear furniture goes: table cells with numbers, Title Case
/// subheads and repeated list labels stay.
fn furniture_inside(reason: Reason, line: &Line, copies_outside: u32) -> bool {
    match reason {
        Reason::Widget => line.is_dated(),
        Reason::NameList => line.words >= 20 || line.separators >= 2,
        Reason::RepeatedInPage => copies_outside > 0,
        _ => true,
    }
}

/// How much a line says "article here" (positive) or "furniture here" (negative).
///
/// Evidence against the article is strong only where it is reliable: the site template, a
/// date or temperature, a prompt, a list of names. Other short lines (table cells, list
/// items, counters, lines repeated within the page) cost little, so the article's tables and
/// lists do not split it; on a page framed by its site template they even count slightly for
/// it, since the site's own furniture is already marked there.
fn density_score(line: &Line, hard: Option<Reason>, framed: bool, config: &CleanConfig) -> f64 {
    if hard == Some(Reason::Template) {
        return -config.template_penalty;
    }
    if line.is_prose(config) && line.prompt != Prompt::Strong {
        // Long prose weighs more, capped so one huge line cannot bridge a whole footer.
        return 1.0 + (line.words.min(60) as f64) / 20.0;
    }
    match hard {
        Some(Reason::Widget) if line.is_dated() => return -config.widget_penalty,
        Some(Reason::Prompt | Reason::NameList) => return -1.0,
        _ => {}
    }
    match line.prompt {
        Prompt::Weak => return -0.5,
        // Cookie and legal notices long enough to be prose.
        Prompt::Strong => return -1.0,
        Prompt::None => {}
    }
    // A URL or markup counts as a short line, however many words it splits into.
    if line.words >= config.prose_words && !line.is_code() {
        return 0.2;
    }
    if line.words >= 5 && line.has_sentence_punct() && !line.is_code() {
        return 0.1;
    }
    if framed {
        FRAMED_SHORT
    } else {
        -config.short_penalty
    }
}

/// Density score of a short line on a page framed by its site template.
const FRAMED_SHORT: f64 = 0.05;

/// On a framed page the short lines right after the site header (byline, kicker, the page's
/// own links) score slightly for the article, so the densest run starts with them. When the
/// run holds a paragraph, it starts at its first line that is more than such a short line, as
/// on other pages; the headline search above it then sees those lines.
fn skip_framed_lead(scores: &[f64], prose: &[bool], region: (usize, usize)) -> (usize, usize) {
    let (mut a, b) = region;
    if !(a..=b).any(|k| prose[k]) {
        return region;
    }
    while a < b && (scores[a] - FRAMED_SHORT).abs() < 1e-9 {
        a += 1;
    }
    (a, b)
}

/// Could this line be the headline just above the article?
fn title_like(line: &Line) -> bool {
    (4..=30).contains(&line.words)
        && line.prompt == Prompt::None
        && line.numeric * 4 < line.words
        && !line.looks_like_list()
        && !line.is_code()
}

/// The maximum-sum run of scores (Kadane); `None` when no run is positive.
fn densest_run(scores: &[f64]) -> Option<(usize, usize)> {
    let mut best: Option<(f64, usize, usize)> = None;
    let mut sum = 0.0;
    let mut start = 0;
    for (i, &s) in scores.iter().enumerate() {
        if sum <= 0.0 {
            sum = 0.0;
            start = i;
        }
        sum += s;
        if sum > 0.0 && best.is_none_or(|(b, _, _)| sum > b) {
            best = Some((sum, start, i));
        }
    }
    best.map(|(_, a, b)| (a, b))
}

/// The punctuation skeleton of a line: its distinct characters that are neither letters,
/// digits nor spaces, sorted.
fn punctuation_skeleton(text: &str) -> Vec<char> {
    let mut p: Vec<char> = text
        .chars()
        .filter(|c| !c.is_alphanumeric() && !c.is_whitespace())
        .collect();
    p.sort_unstable();
    p.dedup();
    p
}

/// Extend the article over a list attached to its end: after the last paragraph (and at most
/// one heading line), a run of short lines that all carry the punctuation skeleton of the
/// first item ("June 9 – Tampa, FL @ Arena", "France (Group H): 10th appearance"). Menus and
/// headline lists have no common skeleton; list items of one article do.
fn attach_list(
    raw: &[&str],
    index: &[usize],
    lines: &[Line],
    hard: &[Option<Reason>],
    region: (usize, usize),
    config: &CleanConfig,
) -> (usize, usize) {
    let (a, b) = region;
    if config.attached_list_lines == 0 {
        return region;
    }
    let soft = |k: usize| {
        let l = &lines[k];
        let hard_ok = match hard[k] {
            None | Some(Reason::RepeatedInPage) => true,
            Some(Reason::Widget) => !l.is_dated(),
            Some(Reason::NameList) => l.separators < 2 && l.words < 20,
            _ => false,
        };
        hard_ok && l.prompt == Prompt::None && !l.is_prose(config)
    };
    let start = b + 1;
    for head in 0..2 {
        let first = start + head;
        if first >= lines.len() || !soft(first) || (head == 1 && !soft(start)) {
            continue;
        }
        let skeleton = punctuation_skeleton(raw[index[first]].trim());
        if skeleton.is_empty() {
            continue;
        }
        let mut k = first;
        while k < lines.len() && soft(k) && {
            let s = punctuation_skeleton(raw[index[k]].trim());
            skeleton.iter().all(|c| s.contains(c))
        } {
            k += 1;
        }
        if k - first >= config.attached_list_lines {
            return (a, k - 1);
        }
    }
    region
}

/// Teaser and comment records lie at most this many lines apart.
const RECORD_GAP: usize = 6;

/// Teasers of other stories and short comments: a short paragraph with no paragraph next to
/// it, followed by a headline-like line, by furniture or by the end of the page, at least
/// twice within
/// [`RECORD_GAP`] lines. Such paragraphs are the records of a list (headline and summary,
/// name and post), not a run of an article's paragraphs, so they score only `record_weight`
/// of their density (nothing, by default): a list of them no longer pulls the article's edge
/// across the furniture in between. Inside the article they still stay, bridged by its
/// paragraphs. A list counts as records only when the page's other paragraphs weigh at least
/// as much as it does: an article made of short sections under subheads keeps its weight.
fn discount_records(lines: &[Line], prose: &[bool], scores: &mut [f64], config: &CleanConfig) {
    let n = lines.len();
    // The end of the page counts as furniture: nothing of the article follows.
    let furniture_after = |k: usize| {
        k >= n
            || !prose[k]
                && (scores[k] <= -0.5
                    || ((4..=20).contains(&lines[k].words) && !lines[k].ends_sentence))
    };
    let records: Vec<usize> = (0..n)
        .filter(|&j| {
            prose[j]
                && lines[j].words < config.record_max_words
                && (j == 0 || !prose[j - 1])
                && (j + 1 >= n || !prose[j + 1])
                && furniture_after(j + 1)
        })
        .collect();
    // Lists: records at most RECORD_GAP lines apart, two or more.
    let mut lists: Vec<&[usize]> = Vec::new();
    let mut start = 0;
    while start < records.len() {
        let mut end = start + 1;
        while end < records.len() && records[end] - records[end - 1] <= RECORD_GAP {
            end += 1;
        }
        if end - start >= 2 {
            lists.push(&records[start..end]);
        }
        start = end;
    }
    let weight = |js: &[usize]| js.iter().map(|&j| scores[j]).sum::<f64>();
    let in_lists: f64 = lists.iter().map(|l| weight(l)).sum();
    let all: f64 = (0..n).filter(|&j| prose[j]).map(|j| scores[j]).sum();
    let others = all - in_lists;
    let discounted: Vec<usize> = lists
        .iter()
        .filter(|l| others >= weight(l))
        .flat_map(|l| l.iter().copied())
        .collect();
    for j in discounted {
        scores[j] *= config.record_weight;
    }
}

/// Dated record headers hold at most this many lines between them (a post or a teaser).
const DATED_RECORD_GAP: usize = 12;

/// Runs of dated record headers, by first line: date or time lines (widgets) that share one
/// punctuation skeleton ("Ann on May 3, 2019 at 9:14 am said:", "2 days ago at 07:52 am"),
/// each at most [`DATED_RECORD_GAP`] lines after the previous one with at least one line of
/// text between, at least `min` of them. Such a run heads the posts of a comment thread or the
/// items of a dated list, never the paragraphs of one article.
fn dated_record_runs(
    raw: &[&str],
    index: &[usize],
    lines: &[Line],
    hard: &[Option<Reason>],
    min: usize,
) -> Vec<Vec<usize>> {
    if min == 0 {
        return Vec::new();
    }
    let mut by_skeleton: Vec<(Vec<char>, Vec<usize>)> = Vec::new();
    for (j, line) in lines.iter().enumerate() {
        let header = match hard[j] {
            Some(Reason::Widget) => true,
            // Digit normalization makes a site's dated headers ("May 3, 2019 at 9:14 am") one
            // line seen on every page with comments: template, yet still headers of posts.
            Some(Reason::Template) => line.is_widget(),
            _ => false,
        };
        if !header || !line.is_dated() {
            continue;
        }
        let skeleton = punctuation_skeleton(raw[index[j]].trim());
        match by_skeleton.iter_mut().find(|(s, _)| *s == skeleton) {
            Some((_, members)) => members.push(j),
            None => by_skeleton.push((skeleton, vec![j])),
        }
    }
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for (_, members) in by_skeleton {
        let mut run: Vec<usize> = Vec::new();
        for j in members {
            if let Some(&last) = run.last() {
                if j - last > DATED_RECORD_GAP || j - last < 2 {
                    if run.len() >= min {
                        runs.push(std::mem::take(&mut run));
                    }
                    run.clear();
                }
            }
            run.push(j);
        }
        if run.len() >= min {
            runs.push(run);
        }
    }
    runs.sort_unstable_by_key(|r| r[0]);
    runs
}

/// End the article before a comment thread or a dated list (see [`dated_record_runs`]).
/// When the densest run starts after the first record, it is a post, not the article: the
/// article is then the densest run before the records, if it has a paragraph. Records count
/// only when most of them hold a paragraph (posts); a dated list of headlines around a short
/// article does not. Between the article and the first record there must be furniture (a
/// prompt such as "12 comments", a template or a list of links) and the article keeps at
/// least two paragraphs: a live report whose timestamps follow its lede directly stays whole.
fn end_before_dated_records(
    runs: &[Vec<usize>],
    scores: &[f64],
    prose: &[bool],
    region: (usize, usize),
) -> (usize, usize) {
    let (a, b) = region;
    let paragraphs = |from: usize, to: usize| (from..=to).filter(|&k| prose[k]).count();
    for run in runs {
        let (first, last) = (run[0], run[run.len() - 1]);
        let posts = run
            .windows(2)
            .filter(|w| paragraphs(w[0] + 1, w[1] - 1) > 0)
            .count();
        if posts * 2 < run.len() - 1 {
            continue;
        }
        let break_before = |end: usize| scores[end + 1..first].iter().any(|&x| x <= -0.5);
        if first < a && a <= last {
            if let Some(before) = densest_run(&scores[..first]) {
                if paragraphs(before.0, before.1) > 0 && break_before(before.1) {
                    return before;
                }
            }
        } else if a < first && first <= b {
            let mut end = first - 1;
            while end > a && !prose[end] {
                end -= 1;
            }
            if paragraphs(a, end) >= 2 && break_before(end) {
                return (a, end);
            }
        }
    }
    region
}

/// Hashes of the runs of four consecutive words (letters and digits) of a line.
fn word_grams(text: &str) -> Vec<u64> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(4)
        .map(|w| crate::shingle::hash_bytes(w.join(" ").as_bytes()))
        .collect()
}

/// Where a page's site comes from. A site field or a URL's host names the site; a folder
/// only suggests one: it may hold reprints of one story, or pages of several sites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteSource {
    /// From a site field or the host of a URL field.
    Declared,
    /// The folder a text file sits in.
    Folder,
}

impl SiteSource {
    /// The source of a document's site: whole-file documents (no line number) got theirs from
    /// their folder, JSONL records from a field.
    pub fn of(doc: &Doc) -> SiteSource {
        if doc.origin.line.is_none() {
            SiteSource::Folder
        } else {
            SiteSource::Declared
        }
    }
}

/// Classify every line of `text`; keep the article, remove furniture with a reason.
/// The site, when given, is a declared one ([`SiteSource::Declared`]).
///
/// Blank lines are neither reported nor classified; runs of them collapse to one.
pub fn clean(
    text: &str,
    site: Option<&str>,
    templates: Option<&TemplateCounts>,
    config: &CleanConfig,
) -> Cleaned {
    clean_page(text, site, SiteSource::Declared, templates, config)
}

/// [`clean`] with the source of the site.
pub fn clean_page(
    text: &str,
    site: Option<&str>,
    source: SiteSource,
    templates: Option<&TemplateCounts>,
    config: &CleanConfig,
) -> Cleaned {
    let page = decide(text, site, source, templates, config);
    let mut out = Cleaned::default();
    let mut kept: Vec<&str> = Vec::with_capacity(page.raw.len());
    let mut next = 0; // position in `index`
    for (i, l) in page.raw.iter().enumerate() {
        if next < page.index.len() && page.index[next] == i {
            match page.decision[next] {
                Some(reason) => out.removed.push(RemovedLine {
                    line: i + 1,
                    text: (*l).to_owned(),
                    reason,
                }),
                None => kept.push(l),
            }
            next += 1;
        } else if kept.last().is_some_and(|k| !k.trim().is_empty()) {
            kept.push("");
        }
    }
    while kept.last().is_some_and(|k| k.trim().is_empty()) {
        kept.pop();
    }
    out.text = kept.join("\n");
    out
}

/// The removed lines of [`clean`] (1-based line numbers, ascending) and why, without copying
/// any text: what dedup needs of a page.
pub fn removed_lines(
    text: &str,
    site: Option<&str>,
    templates: Option<&TemplateCounts>,
    config: &CleanConfig,
) -> Vec<(usize, Reason)> {
    let page = decide(text, site, SiteSource::Declared, templates, config);
    page.index
        .iter()
        .zip(&page.decision)
        .filter_map(|(&i, reason)| reason.map(|r| (i + 1, r)))
        .collect()
}

/// The lines of `text` as `text.lines()` gives them, found with `memchr` (the standard
/// library's search, which `lines()` uses, is several times slower on lines of prose): a line
/// ends at `\n`, and then also without one `\r` before it.
pub(crate) fn lines(text: &str) -> Lines<'_> {
    Lines {
        text,
        start: 0,
        breaks: memchr::memchr_iter(b'\n', text.as_bytes()),
    }
}

/// The iterator of [`lines`].
pub(crate) struct Lines<'t> {
    text: &'t str,
    /// Where the next line starts.
    start: usize,
    breaks: memchr::Memchr<'t>,
}

impl<'t> Iterator for Lines<'t> {
    type Item = &'t str;

    #[inline]
    fn next(&mut self) -> Option<&'t str> {
        let text = self.text;
        match self.breaks.next() {
            Some(end) => {
                let line = &text[self.start..end];
                self.start = end + 1;
                Some(line.strip_suffix('\r').unwrap_or(line))
            }
            // The last line, unless a line break ends the text.
            None if self.start < text.len() => {
                let line = &text[self.start..];
                self.start = text.len();
                Some(line)
            }
            None => None,
        }
    }
}

/// [`lines`] collected into a vector of the right size (counting the breaks first costs less
/// than growing the vector).
fn split_lines(text: &str) -> Vec<&str> {
    let mut all = Vec::with_capacity(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1);
    all.extend(lines(text));
    all
}

/// The normalized hashes of a page's lines (`texts`, trimmed, with their [`shape_key`]s) and
/// whether each is repeated on the page (another line has its hash). Unless `all`, only lines
/// whose shape key another line shares are hashed (see `shape_key`): the others keep 0 and are
/// not repeated. `all` is needed for the site's template counts, and when a line has
/// [`Line::odd_case`].
fn page_hashes(texts: &[&str], keys: &[u64], all: bool) -> (Vec<u64>, Vec<bool>) {
    let shared: Vec<bool> = if all {
        vec![true; keys.len()]
    } else {
        let mut shapes: AHashMap<u64, u32> = AHashMap::with_capacity(keys.len());
        for &k in keys {
            *shapes.entry(k).or_insert(0) += 1;
        }
        keys.iter()
            .map(|k| shapes.get(k).is_some_and(|&n| n >= 2))
            .collect()
    };
    let mut hashes: Vec<u64> = vec![0; keys.len()];
    let hashed = shared.iter().filter(|&&s| s).count();
    if hashed == 0 {
        return (hashes, shared);
    }
    let mut in_page: AHashMap<u64, u32> = AHashMap::with_capacity(hashed);
    for ((h, text), &hashed) in hashes.iter_mut().zip(texts).zip(&shared) {
        if hashed {
            *h = normalized_hash(text);
            *in_page.entry(*h).or_insert(0) += 1;
        }
    }
    let repeated = hashes
        .iter()
        .zip(&shared)
        .map(|(h, &hashed)| hashed && in_page.get(h).is_some_and(|&n| n >= 2))
        .collect();
    (hashes, repeated)
}

/// A page's lines and the classifier's decision for each non-empty one.
struct Decided<'t> {
    raw: Vec<&'t str>,
    /// Indices (into `raw`) of the non-empty lines.
    index: Vec<usize>,
    /// Per non-empty line: removed, and why, or kept.
    decision: Vec<Option<Reason>>,
}

fn decide<'t>(
    text: &'t str,
    site: Option<&str>,
    source: SiteSource,
    templates: Option<&TemplateCounts>,
    config: &CleanConfig,
) -> Decided<'t> {
    let raw = split_lines(text);
    // Indices of non-empty lines and their features.
    let mut index: Vec<usize> = Vec::with_capacity(raw.len());
    let mut lines: Vec<Line> = Vec::with_capacity(raw.len());
    let mut keys: Vec<u64> = Vec::with_capacity(raw.len());
    let mut trimmed: Vec<&str> = Vec::with_capacity(raw.len());
    let mut odd_case = false;
    for (i, l) in raw.iter().enumerate() {
        let t = l.trim();
        if t.is_empty() {
            continue;
        }
        let line = Line::new(t);
        keys.push(shape_key(&line, t));
        odd_case |= line.odd_case;
        trimmed.push(t);
        index.push(i);
        lines.push(line);
    }
    let site_templates = site.zip(templates);
    let all = site_templates.is_some() || odd_case;
    let (hashes, repeated) = page_hashes(&trimmed, &keys, all);
    for (line, r) in lines.iter_mut().zip(repeated) {
        line.repeated = r;
    }
    if let Some((site, t)) = site_templates {
        for (line, &h) in lines.iter_mut().zip(&hashes) {
            if line.has_letter {
                line.template_pages = t.pages_with(site, h);
            }
        }
    }

    let hard: Vec<Option<Reason>> = lines
        .iter()
        .map(|l| hard_reason(l, source, config))
        .collect();
    let template_lines = hard
        .iter()
        .filter(|h| **h == Some(Reason::Template))
        .count();
    let framed = template_lines >= config.framed_min_template_lines.max(1);
    let mut scores: Vec<f64> = lines
        .iter()
        .zip(&hard)
        .map(|(l, h)| density_score(l, *h, framed, config))
        .collect();
    // Hard-wrapped text (a paragraph broken mid-sentence, as in OCR or e-mail) is prose even
    // though each piece is short: a line is a piece when the sentence runs on into the next.
    for j in 0..lines.len().saturating_sub(1) {
        if hard[j].is_none()
            && hard[j + 1].is_none()
            && !lines[j].ends_sentence
            && lines[j + 1].starts_lowercase
        {
            scores[j] = scores[j].max(0.3);
            scores[j + 1] = scores[j + 1].max(0.3);
        }
    }
    // Lines that score as paragraphs (the long-prose branch of `density_score`).
    let prose: Vec<bool> = lines
        .iter()
        .zip(&hard)
        .map(|(l, h)| {
            *h != Some(Reason::Template) && l.is_prose(config) && l.prompt != Prompt::Strong
        })
        .collect();
    discount_records(&lines, &prose, &mut scores, config);
    let dated_runs = dated_record_runs(&raw, &index, &lines, &hard, config.dated_records);
    let region = densest_run(&scores)
        .map(|r| end_before_dated_records(&dated_runs, &scores, &prose, r))
        .map(|r| {
            if framed {
                skip_framed_lead(&scores, &prose, r)
            } else {
                r
            }
        })
        .map(|r| attach_list(&raw, &index, &lines, &hard, r, config));

    // The headline usually stands a few lines above the body (byline and date between); of
    // the headline-like lines there, the longest is the headline, not the byline. A paragraph
    // there (a standfirst, a caption) is not a headline, however long.
    let mut title: Option<usize> = None;
    if let Some((start, _)) = region {
        for j in (start.saturating_sub(4)..start).rev() {
            if hard[j].is_none()
                && title_like(&lines[j])
                && !prose[j]
                && title.is_none_or(|t| lines[j].words > lines[t].words)
            {
                title = Some(j);
            }
        }
    }

    // Copies of each line outside the article: a repeated line inside the article is furniture
    // only when it also stands outside (a headline echoed in the navigation), not when the
    // article repeats it (table headers, list labels).
    let mut outside_count: AHashMap<u64, u32> = AHashMap::new();
    for (j, &h) in hashes.iter().enumerate() {
        if !region.is_some_and(|(a, b)| (a..=b).contains(&j)) && lines[j].repeated {
            *outside_count.entry(h).or_insert(0) += 1;
        }
    }
    // A line repeated nowhere has no copies outside (and may have no hash).
    let copies_outside = |j: usize| {
        if lines[j].repeated {
            outside_count.get(&hashes[j]).copied().unwrap_or(0)
        } else {
            0
        }
    };

    // Word 4-grams of the article, built only when a line long enough to be kept outside it
    // exists: such a line may be the whole article again in one block (a schema.org
    // `articleBody` or a `<noscript>` copy), which the scrape dumps next to the article.
    let article_grams: Option<AHashSet<u64>> = region.and_then(|(a, b)| {
        let long_outside = (0..lines.len())
            .any(|j| !(a..=b).contains(&j) && lines[j].words >= config.outside_keep_words);
        long_outside.then(|| {
            let mut grams = AHashSet::new();
            for &i in &index[a..=b] {
                grams.extend(word_grams(raw[i]));
            }
            grams
        })
    });
    let copies_article = |j: usize| {
        article_grams.as_ref().is_some_and(|grams| {
            let own = word_grams(raw[index[j]]);
            let shared = own.iter().filter(|g| grams.contains(g)).count();
            !own.is_empty() && shared * 2 >= own.len()
        })
    };

    let mut decision: Vec<Option<Reason>> = Vec::with_capacity(lines.len());
    for (j, line) in lines.iter().enumerate() {
        let inside = region.is_some_and(|(a, b)| (a..=b).contains(&j));
        let reason = if inside {
            // A paragraph printed twice in a row is an echo (a gallery's thumbnail and full
            // caption, a pull quote), not two paragraphs; the first copy stays.
            let echo = prose[j] && j > 0 && raw[index[j]].trim() == raw[index[j - 1]].trim();
            match hard[j].filter(|r| furniture_inside(*r, line, copies_outside(j))) {
                Some(r) => Some(r),
                None if echo => Some(Reason::RepeatedInPage),
                // "Share", "Print", "Video", "Related" between paragraphs.
                None if line.prompt == Prompt::Weak && line.words <= 4 && !line.ends_sentence => {
                    Some(Reason::Prompt)
                }
                None => None,
            }
        } else if let Some(r) = hard[j] {
            Some(r)
        } else if title == Some(j) {
            None
        } else if line.words >= config.outside_keep_words && line.has_sentence_punct() {
            // A copy of the article is a repeat, however long.
            copies_article(j).then_some(Reason::RepeatedInPage)
        } else if line.prompt == Prompt::Weak {
            Some(Reason::Prompt)
        } else if line.words < config.prose_words {
            Some(Reason::ShortLine)
        } else {
            Some(Reason::OutsideArticle)
        };
        decision.push(reason);
    }
    Decided {
        raw,
        index,
        decision,
    }
}

impl Cleaned {
    /// The removed lines that matching ignores: those whose reason is line evidence
    /// ([`Reason::is_line_evidence`]).
    pub fn ignored_lines(&self) -> impl Iterator<Item = &RemovedLine> {
        self.removed.iter().filter(|r| r.reason.is_line_evidence())
    }
}

/// The text matching works on: `text` without the lines of [`Cleaned::ignored_lines`].
pub fn matching_text(text: &str, cleaned: &Cleaned) -> String {
    let drop: std::collections::BTreeSet<usize> = cleaned.ignored_lines().map(|r| r.line).collect();
    text.lines()
        .enumerate()
        .filter(|(i, _)| !drop.contains(&(i + 1)))
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Clean every document of a corpus: template lines are counted over the whole corpus first.
/// `progress` is called once per cleaned document (from any thread).
pub fn clean_docs(
    docs: &[Doc],
    config: &CleanConfig,
    progress: &(dyn Fn() + Sync),
) -> Vec<Cleaned> {
    let templates = TemplateCounts::from_docs(docs);
    docs.par_iter()
        .map(|d| {
            let cleaned = clean_page(
                &d.text,
                d.site.as_deref(),
                SiteSource::of(d),
                Some(&templates),
                config,
            );
            progress();
            cleaned
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARA_EN: &str = "The council voted on Tuesday to expand the bus network, adding six routes that will connect the northern suburbs with the hospital and the university campus.";
    const PARA_EN2: &str = "Officials said the new routes would start in March, and that fares would stay at current levels for at least two years while ridership is measured.";
    const PARA_EN3: &str = "Opposition members argued that the plan was too expensive, but the motion passed with a comfortable majority after a debate that lasted most of the afternoon.";
    const PARA_IT: &str = "Il consiglio comunale ha approvato martedì l'ampliamento della rete degli autobus, con sei nuove linee che collegheranno i quartieri settentrionali all'ospedale.";
    const PARA_PT: &str = "A prefeitura anunciou nesta terça-feira a ampliação da rede de ônibus, com seis novas linhas que vão ligar os bairros do norte ao hospital e à universidade.";
    const PARA_KO: &str = "시의회는 화요일 버스 노선을 확대하는 안을 통과시켰으며, 새로운 여섯 개 노선이 북부 교외 지역과 병원, 대학 캠퍼스를 연결하게 된다고 밝혔다. 관계자들은 요금이 당분간 유지될 것이라고 말했다.";

    fn run(text: &str) -> Cleaned {
        clean(text, None, None, &CleanConfig::default())
    }

    fn reason_of(c: &Cleaned, line: &str) -> Option<Reason> {
        c.removed.iter().find(|r| r.text == line).map(|r| r.reason)
    }

    fn page(before: &[&str], after: &[&str]) -> String {
        let mut lines: Vec<&str> = before.to_vec();
        lines.extend([PARA_EN, PARA_EN2, PARA_EN3]);
        lines.extend(after);
        lines.join("\n")
    }

    #[test]
    fn list_of_names_is_removed() {
        let provinces = "Adana Adıyaman Afyon Ağrı Aksaray Amasya Ankara Antalya Ardahan Artvin Aydın Balıkesir Bartın Batman";
        let c = run(&page(&[provinces], &[]));
        assert_eq!(reason_of(&c, provinces), Some(Reason::NameList));
        let menu = "Home | World | Business | Sport | Culture";
        assert_eq!(
            reason_of(&run(&page(&[menu], &[])), menu),
            Some(Reason::NameList)
        );
    }

    #[test]
    fn widgets_are_removed() {
        for w in [
            "İstanbul °C",
            ", 2023",
            "3 min read",
            "Nov 18, 2019 at 9:24 pm ET",
            "PUBLISHED: 10:48, Tue, Nov 19, 2019 | UPDATED: 11:05, Tue, Nov 19, 2019",
        ] {
            let c = run(&page(&[w], &[]));
            assert_eq!(reason_of(&c, w), Some(Reason::Widget), "{w}");
        }
    }

    #[test]
    fn prompts_in_several_languages_are_removed() {
        for p in [
            "Be the first to recommend it among your friends",
            "Subscribe to our newsletter",
            "Leggi anche",
            "Leia mais",
            "Copyright ⓒ Entermedia.co.kr. 무단전재 및 재배포 금지",
            "© 2019 News Nation. All rights reserved.",
        ] {
            let c = run(&page(&[], &[p]));
            assert_eq!(reason_of(&c, p), Some(Reason::Prompt), "{p}");
        }
        // A prompt inside the article is still furniture.
        let text = [PARA_EN, "Advertisement", PARA_EN2, PARA_EN3].join("\n");
        assert_eq!(
            reason_of(&run(&text), "Advertisement"),
            Some(Reason::Prompt)
        );
    }

    #[test]
    fn repeated_short_lines_go_but_repeated_paragraphs_stay() {
        let head = "Statement of the world Azerbaijanis";
        let text = [head, head, PARA_EN, PARA_EN2, PARA_EN, PARA_EN3].join("\n");
        let c = run(&text);
        assert_eq!(reason_of(&c, head), Some(Reason::RepeatedInPage));
        assert_eq!(c.removed.len(), 2);
        assert_eq!(c.text.matches(PARA_EN).count(), 2);
    }

    #[test]
    fn short_lines_outside_the_article_go() {
        let c = run(&page(
            &["All news", "Sports", "Weather"],
            &["About us", "Careers"],
        ));
        assert_eq!(reason_of(&c, "All news"), Some(Reason::ShortLine));
        assert_eq!(reason_of(&c, "Careers"), Some(Reason::ShortLine));
        assert_eq!(c.text, [PARA_EN, PARA_EN2, PARA_EN3].join("\n"));
    }

    #[test]
    fn headline_subheads_and_list_items_of_the_article_stay() {
        let headline = "Council expands bus network to northern suburbs";
        let text = [
            "Menu",
            headline,
            PARA_EN,
            "What changes for riders",
            PARA_EN2,
            "Six new routes",
            "Fares frozen until 2026",
            PARA_EN3,
        ]
        .join("\n");
        let c = run(&text);
        assert_eq!(reason_of(&c, "Menu"), Some(Reason::Prompt));
        assert_eq!(c.removed.len(), 1, "{:?}", c.removed);
    }

    #[test]
    fn articles_in_other_languages_stay() {
        for para in [PARA_IT, PARA_PT, PARA_KO] {
            let text = [
                "Home",
                "Login",
                para,
                para.replace('.', ";").as_str(),
                "© 2019",
            ]
            .join("\n");
            let c = run(&text);
            assert!(c.text.contains(para), "{para}");
            assert_eq!(c.removed.len(), 3, "{:?}", c.removed);
        }
    }

    #[test]
    fn template_lines_need_a_known_site() {
        let shared = "The Springfield Ledger is an independent newspaper.";
        let pages = [
            [PARA_EN, shared, PARA_EN2].join("\n"),
            [PARA_EN3, shared, PARA_IT].join("\n"),
        ];
        let mut counts = TemplateCounts::new();
        for p in &pages {
            counts.observe(Some("ledger.example"), p);
            counts.observe(None, p);
        }
        let config = CleanConfig::default();
        for p in &pages {
            let with_site = clean(p, Some("ledger.example"), Some(&counts), &config);
            assert_eq!(reason_of(&with_site, shared), Some(Reason::Template));
            let other_site = clean(p, Some("other.example"), Some(&counts), &config);
            assert!(other_site.removed.is_empty());
            let no_site = clean(p, None, Some(&counts), &config);
            assert!(no_site.removed.is_empty());
        }
    }

    #[test]
    fn template_ignores_digits_case_and_spacing() {
        let mut counts = TemplateCounts::new();
        counts.observe(Some("s"), "Join 513 other subscribers");
        counts.observe(Some("s"), "join  72 Other subscribers");
        let line = "JOIN 9 OTHER SUBSCRIBERS";
        let hash = normalized_hash(line);
        assert_eq!(counts.pages_with("s", hash), 2);
        let mut merged = TemplateCounts::new();
        merged.merge(counts.clone());
        merged.merge(counts);
        assert_eq!(merged.pages_with("s", hash), 4);
    }

    #[test]
    fn a_paragraph_printed_twice_in_a_row_is_kept_once() {
        let caption = "The mayor, left, and the head of the transport authority look at the map of the six new bus routes at City Hall on Tuesday.";
        let text = [PARA_EN, caption, caption, PARA_EN2, caption, PARA_EN3].join("\n");
        let c = run(&text);
        assert_eq!(c.removed.len(), 1, "{:?}", c.removed);
        assert_eq!(c.removed[0].line, 3);
        assert_eq!(c.removed[0].reason, Reason::RepeatedInPage);
        assert_eq!(c.text.matches(caption).count(), 2);
    }

    /// The normalization as first written: words from `split_whitespace`, digit runs as `0`,
    /// `char::to_lowercase`. The fast paths must build the same bytes.
    fn normalize_reference(line: &str) -> Vec<u8> {
        let mut norm = String::new();
        for w in line.split_whitespace() {
            if !norm.is_empty() {
                norm.push(' ');
            }
            let mut prev_digit = false;
            for c in w.chars() {
                if c.is_ascii_digit() {
                    if !prev_digit {
                        norm.push('0');
                    }
                    prev_digit = true;
                } else {
                    prev_digit = false;
                    norm.extend(c.to_lowercase());
                }
            }
        }
        norm.into_bytes()
    }

    #[test]
    fn ascii_lines_are_scanned_as_characters_would_be() {
        let lines = [
            "Nov 18, 2019 at 9:24 pm ET",
            "PUBLISHED: 10:48, Tue, Nov 19, 2019 | UPDATED: 11:05",
            "Home | World / Business /Sport",
            "a/b 12:3x 1999 20201 2019",
            "\tTabs\x0band\x0cfeeds  and   spaces ",
            "x:5 5: 5:",
            "ALL CAPS, Mixed case; lower. Done! Why? 42",
            "https://www.example.com/news/local/article/Council-14848175.php",
            "\"Quoted,\" (bracketed) [list] *stars* end.",
            PARA_EN,
        ];
        for text in lines {
            let (mut bytes, mut chars) = (Line::default(), Line::default());
            bytes.scan_ascii(text);
            assert_eq!(chars.scan_chars(text), 0);
            assert_eq!(bytes, chars, "{text:?}");
        }
    }

    /// Count the templates of `pages`, all of one site, and clean the first of them.
    fn clean_first_page(pages: &[String]) -> Cleaned {
        let mut counts = TemplateCounts::new();
        for p in pages {
            counts.observe(Some("ledger.example"), p);
        }
        clean(
            &pages[0],
            Some("ledger.example"),
            Some(&counts),
            &CleanConfig::default(),
        )
    }

    #[test]
    fn removed_lines_are_the_removed_lines_of_clean() {
        let mut removals = 0;
        for page in [
            include_str!("../samples/001_1ea3dea3c7d33062.txt"),
            include_str!("../samples/004_9317b217fb2c2362.txt"),
            include_str!("../samples/005_reprint_truncated_dateline.txt"),
        ] {
            let config = CleanConfig::default();
            let cleaned = clean(page, Some("site"), None, &config);
            let want: Vec<(usize, Reason)> =
                cleaned.removed.iter().map(|r| (r.line, r.reason)).collect();
            assert_eq!(removed_lines(page, Some("site"), None, &config), want);
            removals += want.len();
        }
        assert!(removals >= 5, "the seed pages carry furniture");
    }

    proptest::proptest! {
        #[test]
        fn any_ascii_line_is_scanned_as_characters_would_be(text in "[aZ029 \t|/:,;.!?x1-]{0,40}") {
            let (mut bytes, mut chars) = (Line::default(), Line::default());
            bytes.scan_ascii(&text);
            proptest::prop_assert_eq!(chars.scan_chars(&text), 0);
            proptest::prop_assert_eq!(bytes, chars);
        }

        #[test]
        fn long_ascii_words_are_scanned_as_characters_would_be(
            pieces in proptest::collection::vec(r"[a-zA-Z0-9]{1,20}|[0-9]{1,10}[a-zA-Z]{0,2}|[ \t|/:,;.!?@`{\[-]{1,2}", 0..12),
        ) {
            // Words longer than a block of 8 bytes, letters and digits mixed.
            let text = pieces.concat();
            let (mut bytes, mut chars) = (Line::default(), Line::default());
            bytes.scan_ascii(&text);
            proptest::prop_assert_eq!(chars.scan_chars(&text), 0);
            proptest::prop_assert_eq!(bytes, chars);
        }
    }

    /// Pieces of lines outside ASCII: long ASCII words, digits and clock times, letters of
    /// other scripts (cased or not, CJK, combining marks, 4-byte characters), the separators,
    /// punctuation and whitespace that `scan_chars` counts, İ and the Kelvin sign.
    const MIXED_PIECES: &str = r"[a-zA-Z0-9]{1,12}|[0-9]{1,4}:[0-9]{2}|(19|20)[0-9]{2}|[ \t|/:,;.!?'-]{1,2}|[éÉßẞΣσςЖжİ\u{212a}中日ひカ한글\u{301}\u{345}ǅⅧⅷ①٣𝐀😀]{1,3}|[•»›·◦▪°،、，…。！？؟।։۔“”’—]|[\u{a0}\u{3000}\u{2003}\u{85}\u{2028}]";

    proptest::proptest! {
        #[test]
        fn mixed_lines_are_scanned_as_characters_would_be(
            pieces in proptest::collection::vec(MIXED_PIECES, 0..16),
        ) {
            let text = pieces.concat();
            let (mut mixed, mut chars) = (Line::default(), Line::default());
            let (cjk, _) = mixed.scan_mixed(&text);
            proptest::prop_assert_eq!(cjk, chars.scan_chars(&text));
            proptest::prop_assert_eq!(mixed, chars, "{:?}", text);
        }
    }

    #[test]
    fn every_character_is_scanned_as_characters_would_be() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let text = format!("{c}x{c}9:{c}1 {c}/");
            let (mut mixed, mut chars) = (Line::default(), Line::default());
            let (cjk, _) = mixed.scan_mixed(&text);
            assert_eq!(cjk, chars.scan_chars(&text), "{c:?}");
            assert_eq!(mixed, chars, "{c:?}");
        }
    }

    /// Whether `needle` occurs in `haystack` at word boundaries: the phrase search as first
    /// written, one `find` per phrase.
    fn contains_words(haystack: &str, needle: &str) -> bool {
        let bounded = |start: usize, end: usize| {
            haystack[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
                && haystack[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric())
        };
        let mut from = 0;
        while let Some(pos) = haystack[from..].find(needle) {
            let start = from + pos;
            let end = start + needle.len();
            if bounded(start, end) {
                return true;
            }
            from = start + needle.chars().next().map_or(1, char::len_utf8);
        }
        false
    }

    /// The prompt of a line as first written: every list searched phrase by phrase in the
    /// lowercased line.
    fn prompt_reference(text: &str, words: usize) -> Prompt {
        let lower = text.to_lowercase();
        let any = |list: &[&str]| list.iter().any(|p| contains_words(&lower, p));
        let notice = if any(NOTICES) {
            Prompt::Strong
        } else {
            Prompt::None
        };
        if words > 40 {
            return notice;
        }
        if !text.is_ascii() && SUBSTRING_PROMPTS.iter().any(|p| lower.contains(p)) {
            return Prompt::Strong;
        }
        if words <= 15 && any(STRONG_PROMPTS) {
            return Prompt::Strong;
        }
        if words > 15 {
            return notice;
        }
        if words <= 6 && any(WEAK_PROMPTS) {
            return Prompt::Weak;
        }
        Prompt::None
    }

    #[test]
    fn phrases_are_words_joined_by_single_spaces() {
        // What lets `PhraseIndex` look for them at word starts only.
        for list in [STRONG_PROMPTS, WEAK_PROMPTS, NOTICES] {
            for p in list {
                assert!(
                    p.split(' ')
                        .all(|w| !w.is_empty() && w.chars().all(char::is_alphabetic)),
                    "{p}"
                );
                assert_eq!(*p, p.to_lowercase());
            }
        }
    }

    /// Pieces of lines for the prompt search: phrases, their parts, near misses, separators.
    const PROMPT_PIECES: &[&str] = &[
        "cookie",
        "Cookies",
        "COOKIE",
        "cookiesx",
        "all",
        "rights",
        "reserved",
        "All rights reserved",
        "read",
        "more",
        "read more",
        "Read  more",
        "stories",
        "more stories",
        "comment",
        "comments",
        "Share",
        "share this",
        "sharethis",
        "log in",
        "log",
        "in",
        "you may also like",
        "about us",
        "back to top",
        "terms of use",
        "privacy",
        "policy",
        "leia também",
        "LEIA TAMBÉM",
        "tüm hakları saklıdır",
        "поделиться",
        "ПОДЕЛИТЬСЯ",
        "teilen",
        "pubblicità",
        "© 2019",
        "무단전재",
        "광고",
        "ΣΊΣΥΦΟΣ",
        "é",
        "x",
        "9",
        "2019",
        " ",
        " ",
        " ",
        "  ",
        "\t",
        "-",
        ".",
        ",",
        "'",
        "\u{a0}",
        "_",
    ];

    proptest::proptest! {
        #[test]
        fn long_lines_outside_ascii_have_the_prompt_of_their_lowercase(
            pieces in proptest::collection::vec(proptest::sample::select(PROMPT_PIECES), 0..12),
            fill in proptest::collection::vec(MIXED_PIECES, 0..40),
        ) {
            // Phrases among enough words for the long-line rule, some of them split by
            // characters outside ASCII.
            let mut text = String::new();
            for k in 0..pieces.len().max(fill.len()) {
                if let Some(p) = pieces.get(k) {
                    text.push_str(p);
                    text.push(' ');
                }
                if let Some(f) = fill.get(k) {
                    text.push_str(f);
                    text.push_str(if k % 3 == 0 { "" } else { " " });
                }
            }
            text.push_str(" é");
            let text = text.trim();
            let line = Line::new(text);
            proptest::prop_assert_eq!(
                line.prompt,
                prompt_kind_unicode(text, line.words),
                "{:?}",
                text
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn prompts_are_found_as_the_phrase_by_phrase_search_finds_them(
            pieces in proptest::collection::vec(proptest::sample::select(PROMPT_PIECES), 0..12),
            words in 0usize..50,
        ) {
            let text = pieces.concat();
            let fast = if text.is_ascii() {
                prompt_of(Line::default().scan_ascii(&text), false, words)
            } else {
                prompt_kind_unicode(&text, words)
            };
            proptest::prop_assert_eq!(fast, prompt_reference(&text, words), "{:?}", text);
            // The general path agrees with the ASCII one.
            let lower = text.to_lowercase();
            if text.is_ascii() {
                proptest::prop_assert_eq!(Line::default().scan_ascii(&text), phrase_lists(&lower));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn lines_are_split_as_str_lines_splits_them(text in "[a\r\n é]{0,12}|[ab\r\n]{0,300}") {
            // Long texts too: memchr searches them a vector at a time.
            let want: Vec<&str> = text.lines().collect();
            proptest::prop_assert_eq!(lines(&text).collect::<Vec<_>>(), want.clone());
            proptest::prop_assert_eq!(split_lines(&text), want);
        }
    }

    #[test]
    fn substring_prompts_are_never_ascii() {
        // `prompt_kind` skips them on ASCII lines.
        assert!(SUBSTRING_PROMPTS.iter().all(|p| !p.is_ascii()));
    }

    #[test]
    fn the_normalized_line_is_the_same_on_every_path() {
        let lines = [
            "",
            "   ",
            "Join 513 other subscribers",
            "  join\t72\x0bOther\x0c subscribers \r",
            "a1b22c333 4444",
            "x\x1fy",
            "ÉCOLE 12 Été\u{a0}2019",
            "ΣΊΣΥΦΟΣ 3",
            "İstanbul °C",
            "Copyright ⓒ 2019. 무단전재 및 재배포 금지",
            PARA_EN,
            PARA_KO,
        ];
        let mut norm = Vec::new();
        for line in lines {
            normalize_line(line, &mut norm);
            assert_eq!(norm, normalize_reference(line), "{line:?}");
        }
    }

    /// The ASCII normalization before blocks: one byte at a time, the space before a word
    /// written when the word starts.
    fn normalize_ascii_bytewise(line: &[u8]) -> Vec<u8> {
        let mut norm = Vec::new();
        let mut space = false;
        let mut prev_digit = false;
        for &b in line {
            if is_ascii_space(b) {
                space = !norm.is_empty();
                prev_digit = false;
                continue;
            }
            if space {
                norm.push(b' ');
                space = false;
            }
            if b.is_ascii_digit() {
                if !prev_digit {
                    norm.push(b'0');
                }
                prev_digit = true;
            } else {
                prev_digit = false;
                norm.push(b.to_ascii_lowercase());
            }
        }
        norm
    }

    proptest::proptest! {
        #[test]
        fn ascii_blocks_normalize_as_bytes_do(text in "[aZ@\\[`{09 \t\n\x0b\x0c\r\x1f/.-]{0,40}") {
            let mut norm = Vec::new();
            normalize_line(&text, &mut norm);
            proptest::prop_assert_eq!(&norm, &normalize_ascii_bytewise(text.as_bytes()));
            proptest::prop_assert_eq!(&norm, &normalize_reference(&text));
        }

        #[test]
        fn lines_with_other_characters_normalize_as_words_do(
            pieces in proptest::collection::vec(
                r"[a-zA-Z]{0,20}|[0-9]{1,3}|[ \t]{1,2}|[éÉİΣς\u{212a}Ⱥ©“”—.,]|[\u{a0}\u{3000}\u{2003}\u{85}]",
                0..30,
            ),
        ) {
            // Runs of ASCII long enough for blocks, between characters that lowercase to more
            // bytes or fewer, and whitespace outside ASCII.
            let text = pieces.concat();
            let mut norm = Vec::new();
            normalize_line(&text, &mut norm);
            proptest::prop_assert_eq!(&norm, &normalize_reference(&text));
        }

        #[test]
        fn ascii_words_normalize_as_bytes_do(
            words in proptest::collection::vec("[a-zA-Z]{0,9}|[0-9]{1,3}|[ \t]{1,3}|[.,]", 0..30),
        ) {
            // Long runs of letters and single spaces: the blocks copied whole.
            let text = words.join(" ");
            let mut norm = Vec::new();
            normalize_line(&text, &mut norm);
            proptest::prop_assert_eq!(&norm, &normalize_ascii_bytewise(text.as_bytes()));
        }
    }

    /// Short lines of characters that normalize alike (case, digits, whitespace outside ASCII,
    /// characters whose lowercase is longer or shorter, CJK, İ and the Kelvin sign), so that
    /// lines with one normalized line come up often.
    const SHAPE_PIECES: &str = "[aA19 \t.\u{a0}\u{3000}éÉßẞΣσςȺⱥ中İi\u{307}\u{212a}kK-]{1,5}";

    /// The trimmed non-empty lines of `texts`, with their features and shape keys.
    fn shaped(texts: &[String]) -> Vec<(&str, Line, u64)> {
        texts
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(|t| {
                let line = Line::new(t);
                let key = shape_key(&line, t);
                (t, line, key)
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn lines_normalized_alike_have_one_shape_key(
            texts in proptest::collection::vec(SHAPE_PIECES, 2..12),
        ) {
            let lines = shaped(&texts);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for (t, line, key) in &lines {
                for (u, other, other_key) in &lines {
                    normalize_line(t, &mut a);
                    normalize_line(u, &mut b);
                    if a == b && !line.odd_case && !other.odd_case {
                        proptest::prop_assert_eq!(key, other_key, "{:?} {:?}", t, u);
                    }
                }
            }
        }

        #[test]
        fn lines_are_repeated_as_when_every_line_is_hashed(
            texts in proptest::collection::vec(SHAPE_PIECES, 0..16),
        ) {
            let lines = shaped(&texts);
            let keys: Vec<u64> = lines.iter().map(|l| l.2).collect();
            let odd_case = lines.iter().any(|l| l.1.odd_case);
            let texts: Vec<&str> = lines.iter().map(|l| l.0).collect();
            let (every, every_repeated) = page_hashes(&texts, &keys, true);
            let (some, repeated) = page_hashes(&texts, &keys, odd_case);
            proptest::prop_assert_eq!(&repeated, &every_repeated);
            for j in 0..lines.len() {
                if repeated[j] {
                    proptest::prop_assert_eq!(some[j], every[j]);
                }
            }
        }
    }

    #[test]
    fn odd_case_is_the_characters_whose_lowercase_changes_their_kind() {
        // `shape_key` relies on every other character lowercasing to one character that is a
        // letter, digit, whitespace or ASCII exactly when it is.
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let lower: Vec<char> = c.to_lowercase().collect();
            let same_kind = lower.len() == 1
                && lower[0].is_alphanumeric() == c.is_alphanumeric()
                && lower[0].is_whitespace() == c.is_whitespace()
                && lower[0].is_ascii() == c.is_ascii()
                && lower[0].is_ascii_digit() == c.is_ascii_digit();
            let mut line = Line::default();
            line.scan_chars(&c.to_string());
            assert_eq!(line.odd_case, !same_kind, "{c:?}");
        }
    }

    #[test]
    fn only_themselves_lowercase_to_the_characters_of_substring_prompts() {
        // `Line::new` looks for substring prompts in long lines as they are, not lowercased.
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let lower: String = c.to_lowercase().collect();
            let in_prompt = lower
                .chars()
                .any(|l| SUBSTRING_PROMPTS.iter().any(|p| p.contains(l)));
            assert!(!in_prompt || lower == c.to_string(), "{c:?}");
        }
    }

    #[test]
    fn line_numbers_are_one_based_and_blank_runs_collapse() {
        let text = format!("Menu\n\n\n{PARA_EN}\n\n\n{PARA_EN2}\n");
        let c = run(&text);
        assert_eq!(c.removed[0].line, 1);
        assert_eq!(c.text, format!("{PARA_EN}\n\n{PARA_EN2}"));
        assert!(run("").text.is_empty());
        assert!(run("\n\n").removed.is_empty());
    }

    #[test]
    fn hard_wrapped_paragraphs_stay() {
        let text = [
            "Home",
            PARA_EN,
            "The company said the unit was only about",
            "one pct complete and was scheduled for",
            "commercial service in 1992.",
            PARA_EN2,
        ]
        .join("\n");
        let c = run(&text);
        assert_eq!(c.removed.len(), 1, "{:?}", c.removed);
    }

    #[test]
    fn a_table_between_paragraphs_stays() {
        let mut lines = vec![
            "Home", "Sports", "Weather", PARA_EN, "Pos", "Player", "Plays",
        ];
        let rows = [
            ["DL", "Larry Ogunjobi", "63", "85%"],
            ["DL", "Myles Garrett", "57", "77%"],
            ["LB", "Joe Schobert", "74", "100%"],
            ["CB", "Denzel Ward", "74", "100%"],
            ["CB", "Greedy Williams", "73", "99%"],
        ];
        for row in &rows {
            lines.extend(row);
        }
        lines.extend([PARA_EN2, PARA_EN3, "About us", "Careers"]);
        let c = run(&lines.join("\n"));
        let removed: Vec<&str> = c.removed.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            removed,
            ["Home", "Sports", "Weather", "About us", "Careers"],
            "{:?}",
            c.removed
        );
    }

    #[test]
    fn a_list_attached_to_the_article_stays() {
        let items = [
            "June 9 – West Palm Beach, FL @ Coral Sky Amphitheatre",
            "June 10 – Tampa, FL @ MIDFLORIDA Credit Union Amphitheatre",
            "June 14 – Alpharetta, GA @ Ameris Bank Amphitheatre (Formerly Verizon)",
            "June 17 – Nashville, TN @ Bridgestone Arena",
            "June 19 – Charlotte, NC @ PNC Music Pavilion",
            "June 20 – Raleigh, NC @ Coastal Credit Union Music Park",
        ];
        let mut lines = vec!["Menu", PARA_EN, PARA_EN2, "Tour dates"];
        lines.extend(items);
        lines.extend(["Most popular", "Sign up for our newsletter", "Careers"]);
        let c = run(&lines.join("\n"));
        for item in items {
            assert!(reason_of(&c, item).is_none(), "{item}: {:?}", c.removed);
        }
        assert!(reason_of(&c, "Tour dates").is_none());
        assert_eq!(reason_of(&c, "Careers"), Some(Reason::ShortLine));
        // Headlines of other stories share no punctuation skeleton: they stay outside.
        let teasers = [
            "Council approves new budget",
            "Storm closes schools, roads",
            "Why the bridge is late",
            "Mayor: \"We will rebuild\"",
            "Five things to do this weekend",
        ];
        let mut lines = vec![PARA_EN, PARA_EN2];
        lines.extend(teasers);
        let c = run(&lines.join("\n"));
        for t in teasers {
            assert!(reason_of(&c, t).is_some(), "{t}");
        }
    }

    #[test]
    fn lines_without_letters_are_never_template() {
        let pages = [
            [PARA_EN, "0", "___", "Subscribe to the Ledger", PARA_EN2].join("\n"),
            [PARA_EN3, "0", "___", "Subscribe to the Ledger", PARA_IT].join("\n"),
        ];
        let mut counts = TemplateCounts::new();
        for p in &pages {
            counts.observe(Some("ledger.example"), p);
        }
        assert_eq!(counts.pages_with("ledger.example", normalized_hash("0")), 0);
        assert_eq!(
            counts.pages_with("ledger.example", normalized_hash("Subscribe to the Ledger")),
            2
        );
        let c = clean(
            &pages[0],
            Some("ledger.example"),
            Some(&counts),
            &CleanConfig::default(),
        );
        assert_eq!(reason_of(&c, "0"), None);
        assert_eq!(
            reason_of(&c, "Subscribe to the Ledger"),
            Some(Reason::Template)
        );
    }

    /// The template lines above and below every page of one test site.
    const LEDGER_HEADER: [&str; 6] = [
        "Front page",
        "World",
        "Business",
        "Sport",
        "Culture",
        "Opinion",
    ];
    const LEDGER_FOOTER: [&str; 5] = [
        "About the Ledger",
        "Contact",
        "Jobs",
        "Privacy",
        "© The Ledger",
    ];

    #[test]
    fn an_article_made_of_a_table_is_found_between_the_site_frame() {
        let (header, footer) = (LEDGER_HEADER, LEDGER_FOOTER);
        let names = [
            "Kyle Busch",
            "Martin Truex",
            "Kevin Harvick",
            "Denny Hamlin",
            "Joey Logano",
            "Ryan Blaney",
            "Kyle Larson",
            "Brad Keselowski",
            "Clint Bowyer",
            "Chase Elliott",
            "William Byron",
            "Alex Bowman",
            "Kurt Busch",
            "Aric Almirola",
        ];
        // Different drivers on the two pages; the numbers are no template evidence.
        let standings = |offset: usize| -> Vec<String> {
            (0..7)
                .flat_map(|i| {
                    [
                        format!("{}", i + 1),
                        names[i + offset].to_string(),
                        format!("{}", 5000 - 37 * i),
                    ]
                })
                .collect()
        };
        let page = |title: &str, body: &[String]| {
            let mut l: Vec<String> = header.iter().map(|s| s.to_string()).collect();
            l.push(title.to_string());
            l.extend(body.iter().cloned());
            l.extend(footer.iter().map(|s| s.to_string()));
            l.join("\n")
        };
        let pages = [
            page("Final standings after 36 races:", &standings(0)),
            page("Standings of the junior series:", &standings(7)),
        ];
        let c = clean_first_page(&pages);
        let removed: Vec<&str> = c.removed.iter().map(|r| r.text.as_str()).collect();
        let mut frame: Vec<&str> = header.to_vec();
        frame.extend(footer);
        assert_eq!(removed, frame, "{:?}", c.removed);
    }

    const POSTS: [&str; 4] = [
        "I have been taking the new route to the hospital every morning since it opened, and it is faster than the old one by at least ten minutes.",
        "Six routes sound good on paper, but the buses on the existing lines are already late most of the time, so I would like to see that fixed first.",
        "Does anyone know whether the night buses will also run on the new routes, or is this only for the daytime service during the week?",
        "The university campus really needed this connection. Students have been asking for it for years, and it is good to see the council finally listen.",
    ];

    #[test]
    fn a_comment_thread_after_the_article_goes() {
        let stamps = [
            "Ann on May 3, 2019 at 9:14 am said:",
            "Bo on May 3, 2019 at 10:02 am said:",
            "Cy on May 4, 2019 at 8:40 pm said:",
            "Di on May 5, 2019 at 7:05 am said:",
        ];
        let mut lines = vec!["Menu", PARA_EN, PARA_EN2, PARA_EN3, "4 comments"];
        for (stamp, post) in stamps.iter().zip(POSTS) {
            lines.extend([*stamp, post, post, "Reply"]);
        }
        let c = run(&lines.join("\n"));
        assert_eq!(
            c.text,
            [PARA_EN, PARA_EN2, PARA_EN3].join("\n"),
            "{:?}",
            c.removed
        );
    }

    #[test]
    fn a_comment_thread_whose_dates_are_site_template_goes() {
        // On a site with comments on every page, the post dates are template lines once
        // digits are normalized; they still head the posts of a thread.
        let (header, footer) = (LEDGER_HEADER, LEDGER_FOOTER);
        let page = |article: &[&str], day: usize| {
            let mut lines: Vec<String> = header.iter().map(|s| s.to_string()).collect();
            lines.extend(article.iter().map(|s| s.to_string()));
            lines.push(format!("{} comments", POSTS.len()));
            for (k, post) in POSTS.iter().enumerate() {
                lines.push(format!("May {}, 2019 at {}:14 am", day + k, 9 + k));
                lines.push(post.to_string());
            }
            lines.extend(footer.iter().map(|s| s.to_string()));
            lines.join("\n")
        };
        let article = [PARA_EN, PARA_EN2, PARA_EN3];
        let pages = [page(&article, 3), page(&[PARA_IT, PARA_PT], 12)];
        let c = clean_first_page(&pages);
        assert_eq!(c.text, article.join("\n"), "{:?}", c.removed);
    }

    #[test]
    fn a_live_report_with_timestamps_stays_whole() {
        // Entries (and the lede) of two paragraphs outweigh the timestamps between them;
        // single-paragraph ones do not, with or without the rule for dated records.
        let mut lines = vec!["Live: council votes on the bus network", PARA_EN, PARA_EN3];
        for (stamp, post) in ["09:14", "09:32", "10:05", "10:41"].iter().zip(POSTS) {
            lines.extend([*stamp, post, PARA_EN2]);
        }
        let c = run(&lines.join("\n"));
        for post in POSTS {
            assert!(c.text.contains(post), "{post}: {:?}", c.removed);
        }
        assert!(c.text.contains(PARA_EN) && c.text.contains(PARA_EN3));
        assert!(c.text.starts_with("Live: council votes on the bus network"));
    }

    const TEASERS: [(&str, &str); 4] = [
        (
            "Harbour district gets a new budget",
            "The council approved a budget for the harbour district that doubles the money for repairs to the old quay walls.",
        ),
        (
            "Storm closes schools and roads in the north",
            "Heavy rain flooded several roads on Monday morning, and the schools in three villages stayed closed for the day.",
        ),
        (
            "Why the new bridge is two years late",
            "Engineers found weak ground under the eastern pier, and the design had to be changed before work could go on.",
        ),
        (
            "Five things to do in town this weekend",
            "A food market, two concerts and a late opening of the museum are among the events planned for the weekend.",
        ),
    ];

    #[test]
    fn a_teaser_list_after_the_article_goes() {
        // The article outweighs the list; a page whose paragraphs are all such records keeps
        // them (next test).
        let article = [PARA_EN, PARA_EN2, PARA_EN3, PARA_IT, PARA_PT];
        let mut lines = vec!["Menu"];
        lines.extend(article);
        lines.push("More from the Ledger");
        for (headline, summary) in TEASERS {
            lines.extend([headline, summary]);
        }
        let c = run(&lines.join("\n"));
        assert_eq!(c.text, article.join("\n"), "{:?}", c.removed);
    }

    #[test]
    fn an_article_of_short_sections_under_subheads_stays() {
        let mut lines = vec!["Menu"];
        for (subhead, paragraph) in TEASERS {
            lines.extend([subhead, paragraph]);
        }
        let c = run(&lines.join("\n"));
        assert_eq!(c.removed.len(), 1, "{:?}", c.removed);
        assert_eq!(reason_of(&c, "Menu"), Some(Reason::Prompt));
    }

    #[test]
    fn the_dated_attribution_under_a_quote_stays() {
        let quote = "“We will rebuild the bridge before winter,” the mayor wrote on Tuesday.";
        let signature = "— Ann Lee (@annlee) May 3, 2019";
        let text = [PARA_EN, quote, signature, PARA_EN2, PARA_EN3].join("\n");
        let c = run(&text);
        assert!(c.removed.is_empty(), "{:?}", c.removed);
        // Without the dash it is a dateline: a widget.
        let text = [PARA_EN, quote, &signature[4..], PARA_EN2, PARA_EN3].join("\n");
        assert_eq!(
            reason_of(&run(&text), &signature[4..]),
            Some(Reason::Widget)
        );
    }

    #[test]
    fn a_url_is_not_a_paragraph() {
        let url = "https://www.example.com/news/local/article/Council-expands-the-bus-network-to-the-northern-suburbs-14848175.php";
        let notice = "© The Ledger 2019. All rights reserved.";
        let text = [PARA_EN, PARA_EN2, PARA_EN3, notice, url].join("\n");
        let c = run(&text);
        assert_eq!(
            reason_of(&c, url),
            Some(Reason::OutsideArticle),
            "{:?}",
            c.removed
        );
        assert_eq!(c.text, [PARA_EN, PARA_EN2, PARA_EN3].join("\n"));
        // Nor is a URL above the article its headline.
        let c = run(&[url, PARA_EN, PARA_EN2, PARA_EN3].join("\n"));
        assert_eq!(reason_of(&c, url), Some(Reason::OutsideArticle));
    }

    #[test]
    fn on_a_framed_page_the_byline_goes_and_the_headline_stays() {
        let (header, footer) = (LEDGER_HEADER, LEDGER_FOOTER);
        let page = |byline: &str, headline: &str, body: &[&str]| {
            let mut l: Vec<&str> = header.to_vec();
            l.extend([byline, "City Hall", headline]);
            l.extend(body);
            l.extend(footer);
            l.join("\n")
        };
        let headline = "Council expands bus network to northern suburbs";
        let pages = [
            page("By Ann Lee", headline, &[PARA_EN, PARA_EN2, PARA_EN3]),
            page(
                "By Bo Chen",
                "Harbour district gets a new budget",
                &[PARA_IT, PARA_PT],
            ),
        ];
        let c = clean_first_page(&pages);
        assert_eq!(
            c.text,
            [headline, PARA_EN, PARA_EN2, PARA_EN3].join("\n"),
            "{:?}",
            c.removed
        );
        assert_eq!(reason_of(&c, "By Ann Lee"), Some(Reason::ShortLine));
    }

    #[test]
    fn the_headline_is_not_the_standfirst_above_it() {
        let headline = "Council expands bus network to northern suburbs";
        let standfirst = "Six new routes will connect the suburbs with the hospital, and the fares will not change for two years, officials said.";
        let text = [
            "Menu",
            headline,
            standfirst,
            "May 3, 2019 9:14 am",
            PARA_EN,
            PARA_EN2,
            PARA_EN3,
        ]
        .join("\n");
        let c = run(&text);
        assert!(reason_of(&c, headline).is_none(), "{:?}", c.removed);
        assert_eq!(reason_of(&c, standfirst), Some(Reason::OutsideArticle));
    }

    #[test]
    fn a_copy_of_the_article_in_one_line_goes() {
        // A page that carries its article twice: once as paragraphs, once as one block (a
        // schema.org `articleBody`), after dated metadata. Long lines outside the article
        // are kept only when they are not such a copy.
        let config = CleanConfig {
            outside_keep_words: 40,
            ..CleanConfig::default()
        };
        let copy = [PARA_EN, PARA_EN2, PARA_EN3].join(" ");
        let other = [PARA_IT, PARA_PT].join(" ");
        for (block, reason) in [
            (copy.as_str(), Some(Reason::RepeatedInPage)),
            (other.as_str(), None),
        ] {
            let text = [
                "Menu",
                PARA_EN,
                PARA_EN2,
                PARA_EN3,
                "2019-11-13T23:06:00+01:00",
                "2019-07-02T22:14:45+02:00",
                block,
            ]
            .join("\n");
            let c = clean(&text, None, None, &config);
            assert_eq!(reason_of(&c, block), reason, "{:?}", c.removed);
            assert!(c
                .text
                .starts_with(&[PARA_EN, PARA_EN2, PARA_EN3].join("\n")));
        }
    }

    #[test]
    fn densest_run_finds_the_best_segment() {
        assert_eq!(
            densest_run(&[-1.0, 2.0, -0.5, 2.0, -3.0, 1.0]),
            Some((1, 3))
        );
        assert_eq!(densest_run(&[-1.0, -2.0]), None);
        assert_eq!(densest_run(&[]), None);
    }
}
