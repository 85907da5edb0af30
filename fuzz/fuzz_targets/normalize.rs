//! `normalize` on arbitrary text: no panic, and idempotent.

#![no_main]

use copydesk::normalize::normalize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let once = normalize(&text);
    let twice = normalize(&once);
    assert_eq!(once, twice, "normalize is not idempotent on {text:?}");
    assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
});
