//! Text normalization for matching.
//!
//! Two documents that a reader sees as the same text must normalize to the same string:
//! Unicode NFKC (fullwidth forms, ligatures, NBSP), case folded, curly and straight quotes
//! and every dash unified, zero-width characters, BOMs and soft hyphens removed, Cyrillic
//! and Greek look-alikes of Latin letters folded, words hyphenated across a line break
//! joined, and whitespace collapsed to single spaces.
//!
//! Guarantee: `normalize(normalize(x)) == normalize(x)` (a property test holds it).
//! The output is for matching only; offsets into the original text are kept by callers
//! that need them (see `passages`).

use unicode_normalization::UnicodeNormalization;

/// Normalize a whole text for matching (see the module docs for what is unified).
pub fn normalize(text: &str) -> String {
    let joined = join_hyphenated_line_breaks(text);
    if joined.is_ascii() {
        return normalize_ascii(&joined);
    }
    match ascii_equivalent_text(&joined) {
        Some(ascii) => normalize_ascii(&ascii),
        None => normalize_unicode(&joined),
    }
}

/// The text with its words hyphenated across line breaks joined, as ASCII that normalizes to
/// the same string: an ASCII text as it is, or a text whose only other characters are
/// typographic quotes, dashes, spaces, the ellipsis and invisible ones, with those replaced
/// by what normalizing makes of them (most English news); None for any other text. On the
/// result, [`normalize`] only lowercases, folds the backtick to an apostrophe and collapses
/// whitespace, none of which moves a word boundary apart from the backtick: callers can find
/// the words first and normalize just them (see `shingle::text_shingles_into`). Do not join
/// hyphenated breaks again on the result: a dash that became a hyphen does not join.
pub fn ascii_joined(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    let joined = join_hyphenated_line_breaks(text);
    if joined.is_ascii() {
        return Some(joined);
    }
    ascii_equivalent_text(&joined).map(std::borrow::Cow::Owned)
}

/// `text` with each non-ASCII character replaced by its [`ascii_equivalent`]; None when one has
/// none.
fn ascii_equivalent_text(text: &str) -> Option<String> {
    let mut ascii = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            ascii.push_str(ascii_equivalent(c)?);
        }
    }
    Some(ascii)
}

/// What [`normalize_unicode`] makes of a character common in otherwise ASCII text, whatever
/// surrounds it (a property test holds the two equal).
pub(crate) fn ascii_equivalent(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => "\"",
        '\u{2010}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => "-",
        '\u{00A0}' | '\u{2009}' | '\u{202F}' => " ",
        '\u{2026}' => "...",
        '\u{00AD}' | '\u{200B}' | '\u{FEFF}' => "",
        _ => return None,
    })
}

/// [`normalize_unicode`] of an ASCII text, in a fraction of the time (most text is ASCII):
/// runs between whitespace are copied whole and lowercased in place, and the backtick is
/// folded to an apostrophe as [`fold_char`] does. The ASCII characters
/// `char::is_whitespace` accepts are U+0009..=U+000D and space (`split_ascii_whitespace`
/// leaves out U+000B).
fn normalize_ascii(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let runs = text
        .as_bytes()
        .split(|b| matches!(b, b'\t'..=b'\r' | b' '))
        .filter(|run| !run.is_empty());
    for run in runs {
        if !bytes.is_empty() {
            bytes.push(b' ');
        }
        let start = bytes.len();
        bytes.extend_from_slice(run);
        bytes[start..].make_ascii_lowercase();
    }
    // The one ASCII character `fold_char` changes.
    for b in bytes.iter_mut().filter(|b| **b == b'`') {
        *b = b'\'';
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// NFKC, lowercase, fold look-alikes, then NFKC again: lowercasing and folding can leave a
/// sequence that NFKC composes (a Cyrillic `н` folded to `h` before a combining diaeresis
/// makes `ḧ`), and composing after the fold makes the function idempotent. A text that the
/// quick check finds already normalized (most text) is not normalized again.
fn normalize_unicode(text: &str) -> String {
    let visible: String = text.chars().filter(|c| !is_invisible(*c)).collect();
    let composed = nfkc(visible);
    let lowered: String = composed
        .chars()
        .flat_map(char::to_lowercase)
        .map(fold_char)
        .collect();
    let folded = nfkc(lowered);
    let mut out = String::with_capacity(folded.len());
    let mut pending_space = false;
    for c in folded.chars() {
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// NFKC of `text`, skipping the work when the quick check says it is already normalized.
fn nfkc(text: String) -> String {
    if unicode_normalization::is_nfkc_quick(text.chars())
        == unicode_normalization::IsNormalized::Yes
    {
        text
    } else {
        text.nfkc().collect()
    }
}

/// Characters that carry no text: zero-width spaces and joiners, word joiner, BOM, soft hyphen.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{180E}'
    )
}

/// Fold one lowercase character: quotes, dashes and look-alike letters to one form each.
pub fn fold_char(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{00B4}' | '`' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
        | '\u{00BB}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => '-',
        // Cyrillic look-alikes of Latin letters (lowercase, after case folding).
        'а' => 'a',
        'в' => 'b',
        'е' => 'e',
        'ё' => 'e',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' => 'y',
        'х' => 'x',
        'і' => 'i',
        'ї' => 'i',
        'ј' => 'j',
        'ѕ' => 's',
        'ԁ' => 'd',
        'ӏ' => 'l',
        'һ' => 'h',
        'ԛ' => 'q',
        'ԝ' => 'w',
        // Greek look-alikes.
        'α' => 'a',
        'ο' => 'o',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        _ => c,
    }
}

/// Whether a line of `text` ends in a hyphen or a soft hyphen (`-\n`, `-\r\n` or U+00AD
/// before `\n`): three searches with prepared finders, each one vectorized pass. A search for
/// every line break and a look behind it took three times as long; one for every hyphen and a
/// look after it ran fewer instructions but 2 % more wall on news-200k (each hit stops the
/// vector search).
fn has_hyphenated_line_break(text: &str) -> bool {
    static HYPHENATED_BREAKS: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 3]> =
        std::sync::LazyLock::new(|| {
            [
                memchr::memmem::Finder::new(b"-\n"),
                memchr::memmem::Finder::new(b"-\r\n"),
                memchr::memmem::Finder::new("\u{00AD}\n".as_bytes()),
            ]
        });
    let bytes = text.as_bytes();
    HYPHENATED_BREAKS.iter().any(|f| f.find(bytes).is_some())
}

/// Join a word hyphenated across a line break ("infor-\nmation" becomes "information").
/// A letter, a hyphen at the end of a line and a letter starting the next line count (print
/// set in capitals hyphenates too); a compound broken at its hyphen loses the hyphen, which
/// costs matching less than a word split in two.
pub(crate) fn join_hyphenated_line_breaks(text: &str) -> std::borrow::Cow<'_, str> {
    if !has_hyphenated_line_break(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if (c == '-' || c == '\u{00AD}') && i > 0 && chars[i - 1].is_alphabetic() {
            // Look past trailing spaces, the line break and the next line's indentation.
            let mut j = i + 1;
            while j < chars.len() && (chars[j] == ' ' || chars[j] == '\t' || chars[j] == '\r') {
                j += 1;
            }
            if j < chars.len() && chars[j] == '\n' {
                j += 1;
                while j < chars.len() && (chars[j] == ' ' || chars[j] == '\t') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_alphabetic() {
                    i = j;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let cases = [
            ("Hello   World", "hello world"),
            ("  leading\n\ntrailing  ", "leading trailing"),
            ("“Quoted” ‘text’", "\"quoted\" 'text'"),
            ("en–dash em—dash minus−", "en-dash em-dash minus-"),
            ("ﬁnance ﬂow", "finance flow"),
            ("ＦＵＬＬ１２３", "full123"),
            ("non\u{00A0}breaking", "non breaking"),
            (
                "zero\u{200B}width soft\u{00AD}hyphen",
                "zerowidth softhyphen",
            ),
            ("\u{FEFF}bom", "bom"),
            ("infor-\nmation", "information"),
            ("infor-\r\n   mation", "information"),
            ("Jean-\nPaul", "jeanpaul"),
            ("A-\n", "a-"),
            ("Pаris", "paris"), // Cyrillic а
            ("cafe\u{0301}", "café"),
            ("İstanbul", "i̇stanbul"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "input {input:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn hyphenated_line_breaks_are_found_as_the_substrings_say(text in "[a\\-\r\n\u{00AD}]{0,12}") {
            let want = text.contains("-\n") || text.contains("-\r\n") || text.contains("\u{00AD}\n");
            proptest::prop_assert_eq!(has_hyphenated_line_break(&text), want);
        }

        #[test]
        fn typographic_text_normalizes_as_the_general_path_says(
            text in "[aZ1 .'`\"\\-\n\r\u{2018}\u{2019}\u{201A}\u{201B}\u{201C}\u{201D}\u{201E}\u{00AB}\u{00BB}\u{2010}\u{2013}\u{2014}\u{2212}\u{00A0}\u{2009}\u{202F}\u{2026}\u{00AD}\u{200B}\u{FEFF}]{0,40}"
        ) {
            let ascii = ascii_joined(&text);
            proptest::prop_assert!(ascii.is_some());
            proptest::prop_assert_eq!(
                normalize_ascii(&ascii.unwrap_or_default()),
                normalize_unicode(&join_hyphenated_line_breaks(&text))
            );
        }

        #[test]
        fn ascii_path_equals_the_general_path(text in "[ -~\t\n\x0B\x0C\r]{0,60}") {
            proptest::prop_assert_eq!(normalize_ascii(&text), normalize_unicode(&text));
        }
    }

    #[test]
    fn idempotent_on_known_inputs() {
        for s in [
            "İstanbul °C",
            "ǅ ǆ ß ẞ ﬀ",
            "Ⅻ ㎏ ½",
            "a\u{0301}\u{0301}",
            "ΣΑΣ",
            "н\u{0308}",
            "“\u{0301}",
        ] {
            let once = normalize(s);
            assert_eq!(normalize(&once), once, "input {s:?}");
        }
    }
}
