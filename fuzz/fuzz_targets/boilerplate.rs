//! The boilerplate classifier on arbitrary pages: `clean` one page (without and with the
//! cross-page template counts of a small corpus cut from the input), and `matching_text`.
//!
//! Checks: no panic; every removed line is a line of the page, at its line number; the kept
//! lines are the page's other non-blank lines, in order.

#![no_main]

use copydesk::boilerplate::{clean, matching_text, CleanConfig, TemplateCounts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Pages of one site, separated by a form feed.
    let pages: Vec<&str> = text.split('\u{c}').collect();
    let mut templates = TemplateCounts::new();
    for page in &pages {
        templates.observe(Some("site"), page);
    }
    let config = CleanConfig::default();
    for page in &pages {
        for (site, counts) in [(None, None), (Some("site"), Some(&templates))] {
            let cleaned = clean(page, site, counts, &config);
            let raw: Vec<&str> = page.lines().collect();
            let mut removed = vec![false; raw.len()];
            for r in &cleaned.removed {
                assert!(
                    r.line >= 1 && r.line <= raw.len(),
                    "line {} of {}",
                    r.line,
                    raw.len()
                );
                assert_eq!(r.text, raw[r.line - 1], "removed text is the line's text");
                removed[r.line - 1] = true;
            }
            let kept: Vec<&str> = raw
                .iter()
                .zip(&removed)
                .filter(|(l, gone)| !**gone && !l.trim().is_empty())
                .map(|(l, _)| *l)
                .collect();
            // Kept lines are joined with LF: split on LF exactly (not `lines`, which would
            // also eat a CR that ends a kept line).
            let out: Vec<&str> = cleaned
                .text
                .split('\n')
                .filter(|l| !l.trim().is_empty())
                .collect();
            assert_eq!(out, kept, "kept lines are the others, in order");
            let _ = matching_text(page, &cleaned);
        }
    }
});
