//! The common JSONL record read without serde: one object whose values are strings,
//! integers, `true`, `false` or `null`. serde_json unescaped a long text a few bytes at a
//! time and copied it twice; here memchr's vector search finds each quote or backslash and
//! the text is copied once. Anything else (nesting, fractions, escaped keys, a lone
//! surrogate, a control character, any syntax error) is declined, and the caller reads the
//! line with serde_json, which then gives its usual value or error: this reader only ever
//! returns what serde_json would (property tests).

use super::{InputConfig, Record};
use serde_json::Value;

/// The record in `json`, or None when it is not in the simple form (see the module docs).
pub(super) fn record(json: &str, config: &InputConfig) -> Option<Record> {
    let bytes = json.as_bytes();
    let mut record = Record::default();
    let mut i = skip_space(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_space(bytes, i + 1);
    if bytes.get(i) == Some(&b'}') {
        return at_end(bytes, i + 1).then_some(record);
    }
    loop {
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = i + 1 + memchr::memchr2(b'"', b'\\', &bytes[i + 1..])?;
        let key = &json[i + 1..key_end];
        if bytes[key_end] != b'"' || has_control(key.as_bytes()) {
            return None;
        }
        i = skip_space(bytes, key_end + 1);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        i = skip_space(bytes, i + 1);
        let roles = super::roles(config, key);
        let (value, next) = value(json, i, roles.iter().any(|r| *r))?;
        if let Some(value) = value {
            record.set(roles, value);
        }
        i = skip_space(bytes, next);
        match bytes.get(i) {
            Some(b',') => i = skip_space(bytes, i + 1),
            Some(b'}') => return at_end(bytes, i + 1).then_some(record),
            _ => return None,
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// JSON's whitespace (serde_json's too): space, tab, LF, CR.
fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
        i += 1;
    }
    i
}

fn at_end(bytes: &[u8], i: usize) -> bool {
    skip_space(bytes, i) == bytes.len()
}

/// The value starting at `i` (built only when `build`) and the index after it.
fn value(json: &str, i: usize, build: bool) -> Option<(Option<Value>, usize)> {
    let bytes = json.as_bytes();
    let literal = |word: &str, value: Value| {
        bytes[i..]
            .starts_with(word.as_bytes())
            .then(|| (build.then_some(value), i + word.len()))
    };
    match *bytes.get(i)? {
        b'"' if build => SCRATCH.with(|scratch| {
            // Unescaped into a buffer kept for the thread, then copied at its exact length: a
            // string sized by the line, or grown by doubling, held tens of MB more in batches.
            let mut scratch = scratch.borrow_mut();
            scratch.clear();
            let end = string(json, i + 1, Some(&mut scratch))?;
            Some((Some(Value::String(scratch.as_str().to_owned())), end))
        }),
        b'"' => Some((None, string(json, i + 1, None)?)),
        b'n' => literal("null", Value::Null),
        b't' => literal("true", Value::Bool(true)),
        b'f' => literal("false", Value::Bool(false)),
        b'-' | b'0'..=b'9' => {
            let (number, end) = integer(bytes, i)?;
            Some((build.then_some(Value::Number(number)), end))
        }
        _ => None,
    }
}

/// An integer as serde_json reads it: `-?(0|[1-9][0-9]*)` in i64 (negative) or u64 range,
/// not followed by a fraction or an exponent; `-0` is declined.
fn integer(bytes: &[u8], i: usize) -> Option<(serde_json::Number, usize)> {
    let negative = bytes[i] == b'-';
    let start = i + usize::from(negative);
    let digits = bytes[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let end = start + digits;
    let first = *bytes.get(start)?;
    if digits == 0 || (first == b'0' && (digits > 1 || negative)) {
        return None;
    }
    if let Some(b'.' | b'e' | b'E') = bytes.get(end) {
        return None;
    }
    // Only ASCII digits (and a sign) lie in `i..end`.
    let text = std::str::from_utf8(&bytes[i..end]).ok()?;
    let number = if negative {
        serde_json::Number::from(text.parse::<i64>().ok()?)
    } else {
        serde_json::Number::from(text.parse::<u64>().ok()?)
    };
    Some((number, end))
}

/// The string whose body starts at `i`, unescaped into `out` when given; the index after its
/// closing quote.
fn string(json: &str, mut i: usize, mut out: Option<&mut String>) -> Option<usize> {
    let bytes = json.as_bytes();
    loop {
        let span = memchr::memchr2(b'"', b'\\', &bytes[i..])?;
        // serde_json refuses control characters inside a string.
        if has_control(&bytes[i..i + span]) {
            return None;
        }
        if let Some(out) = out.as_deref_mut() {
            // A quote and a backslash are ASCII: the span ends on a character boundary.
            out.push_str(&json[i..i + span]);
        }
        i += span;
        if bytes[i] == b'"' {
            return Some(i + 1);
        }
        let escaped = match *bytes.get(i + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = hex4(bytes.get(i + 2..i + 6)?)?;
                i += 4;
                match unit {
                    0xD800..=0xDBFF => {
                        // A pair: the low half must follow at once (serde_json refuses a lone
                        // half; declined here, so it says so).
                        if bytes.get(i + 2..i + 4)? != b"\\u" {
                            return None;
                        }
                        let low = hex4(bytes.get(i + 4..i + 8)?)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        i += 6;
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(unit)?,
                }
            }
            _ => return None,
        };
        if let Some(out) = out.as_deref_mut() {
            out.push(escaped);
        }
        i += 2;
    }
}

fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, &d| {
        Some(value * 16 + char::from(d).to_digit(16)?)
    })
}

/// Whether `bytes` hold a byte below 0x20; 32 bytes at a time without a branch inside, so the
/// compiler vectorizes it.
fn has_control(bytes: &[u8]) -> bool {
    bytes
        .chunks(32)
        .any(|chunk| chunk.iter().fold(false, |found, &b| found | (b < 0x20)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// JSON text of `s` with every character outside ASCII as `\uXXXX` (pairs for the astral
    /// planes), as Python's `json.dumps` writes it.
    fn ascii_json(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if (c as u32) < 0x20 || !c.is_ascii() => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn serde(json: &str, config: &InputConfig) -> Option<Record> {
        super::super::serde_record(json, config).ok()
    }

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("id".to_string()),
            Just("text".to_string()),
            Just("url".to_string()),
            Just("site".to_string()),
            "[a-z]{1,5}",
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
            any::<String>().prop_map(|s| ascii_json(&s)),
            "[a-z\u{e9}\u{1F600} \"\\\\/\n\t]{0,20}".prop_map(|s| ascii_json(&s)),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            Just("-0".to_string()),
            Just("1.5".to_string()),
            Just("1e3".to_string()),
            Just("[1, \"a\"]".to_string()),
            Just("{\"a\": 1}".to_string()),
            Just("\"\\ud800\"".to_string()),
            Just("\"\\udc00x\"".to_string()),
            Just("\"\\ud83d\\ude00\"".to_string()),
        ]
    }

    /// A record written with arbitrary spacing: `pieces` are (key, value) pairs.
    fn object(pieces: &[(String, String)], space: &str) -> String {
        let fields: Vec<String> = pieces
            .iter()
            .map(|(k, v)| format!("{space}\"{k}\"{space}:{space}{v}{space}"))
            .collect();
        format!("{space}{{{}}}{space}", fields.join(","))
    }

    proptest! {
        #[test]
        fn records_read_as_serde_reads_them(
            pieces in proptest::collection::vec((field(), value()), 0..6),
            space in "[ \t\r\n]{0,2}",
        ) {
            let json = object(&pieces, &space);
            let config = InputConfig::default();
            let fast = record(&json, &config);
            let simple = pieces.iter().all(|(_, v)| {
                let v = v.as_str();
                !matches!(v, "-0" | "1.5" | "1e3" | "[1, \"a\"]" | "{\"a\": 1}" | "\"\\ud800\"" | "\"\\udc00x\"")
                    && !v.bytes().any(|b| b < 0x20)
            });
            if simple {
                // The common form is read here, not declined.
                proptest::prop_assert!(fast.is_some(), "declined {json:?}");
            }
            if let Some(fast) = fast {
                proptest::prop_assert_eq!(Some(fast), serde(&json, &config));
            }
        }

        #[test]
        fn damaged_records_are_declined_or_read_as_serde_reads_them(
            pieces in proptest::collection::vec((field(), value()), 0..4),
            at in any::<proptest::sample::Index>(),
            cut in 0usize..3,
            insert in "[{}\\[\\]\":,\\\\ntu0-9eE. \t-]{0,2}",
        ) {
            let json = object(&pieces, " ");
            let mut boundaries: Vec<usize> = json.char_indices().map(|(i, _)| i).collect();
            boundaries.push(json.len());
            let start = boundaries[at.index(boundaries.len())];
            let end = boundaries
                .iter()
                .copied()
                .find(|&b| b >= start + cut)
                .unwrap_or(json.len());
            let damaged = format!("{}{insert}{}", &json[..start], &json[end..]);
            let config = InputConfig::default();
            if let Some(fast) = record(&damaged, &config) {
                proptest::prop_assert_eq!(Some(fast), serde(&damaged, &config));
            }
        }

        #[test]
        fn json_like_noise_is_declined_or_read_as_serde_reads_it(
            noise in "[{}\\[\\]\":,\\\\ntrufalse0-9eE. -]{0,40}",
        ) {
            let config = InputConfig::default();
            if let Some(fast) = record(&noise, &config) {
                proptest::prop_assert_eq!(Some(fast), serde(&noise, &config));
            }
        }
    }

    #[test]
    fn one_key_can_fill_two_fields_and_the_last_repeat_wins() {
        let config = InputConfig {
            id_field: "text".into(),
            ..InputConfig::default()
        };
        let json = r#"{"text": "a", "text": "b\u00e9\n", "url": 7}"#;
        let fast = record(json, &config);
        assert!(fast.is_some());
        assert_eq!(fast, serde(json, &config));
    }
}
