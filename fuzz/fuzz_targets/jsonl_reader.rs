//! The input reader on arbitrary bytes, through its public API (`input::Reader` over a path):
//! as a `.jsonl` file, as a gzipped `.jsonl.gz` cut at an arbitrary point, and as a `.txt` file
//! in a folder. The first byte picks the mode, the UTF-8 policy and a small size limit.
//!
//! Checks: no panic; a plain `.jsonl` file yields exactly one item per record (per non-blank
//! line, or per line over the limit), in line order, and a read that declines the odd records
//! yields the full read's items of the even ones; a text file yields exactly one item; no
//! document holds a NUL or a lone CR.

#![no_main]

use copydesk::input::{InputConfig, Item, Reader, Utf8Policy};
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::path::{Path, PathBuf};

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("copydesk-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(dir.join("folder"));
    dir
}

fn read_all(path: &Path, config: InputConfig) -> Vec<Item> {
    Reader::new(&[path.to_path_buf()], config).collect()
}

fn check_doc_text(items: &[Item]) {
    for item in items {
        if let Item::Doc(doc) = item {
            assert!(!doc.text.contains('\0'), "NUL left in {:?}", doc.text);
            let bytes = doc.text.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                if b == b'\r' {
                    assert_eq!(bytes.get(i + 1), Some(&b'\n'), "lone CR left");
                }
            }
        }
    }
}

/// Records the reader must yield for a plain JSONL byte string.
fn expected_records(data: &[u8], limit: usize) -> usize {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.ends_with(b"\n") || data.is_empty() {
        lines.pop(); // nothing after the last newline
    }
    lines
        .iter()
        .filter(|l| l.len() > limit || !l.iter().all(u8::is_ascii_whitespace))
        .count()
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let dir = scratch();
    let config = InputConfig {
        invalid_utf8: match control & 3 {
            0 => Utf8Policy::Fail,
            1 => Utf8Policy::Skip,
            _ => Utf8Policy::Replace,
        },
        // Mostly unlimited; sometimes a small limit to exercise the bounded line reader.
        max_doc_bytes: if control & 4 == 0 {
            64 << 20
        } else {
            (control as usize >> 3) * 8
        },
        ..InputConfig::default()
    };
    let limit = config.max_doc_bytes;
    match (control >> 6) & 3 {
        0 | 1 => {
            let path = dir.join("input.jsonl");
            std::fs::write(&path, data).expect("scratch file");
            let items = read_all(&path, config.clone());
            assert_eq!(
                items.len(),
                expected_records(data, limit),
                "one item per record"
            );
            let mut last = 0;
            for item in &items {
                let origin = match item {
                    Item::Doc(d) => &d.origin,
                    Item::Rejected(r) => &r.origin,
                };
                let line = origin.line.expect("JSONL items have a line");
                assert!(line > last, "lines in order");
                last = line;
            }
            check_doc_text(&items);
            let mut reader = Reader::new(&[path.to_path_buf()], config);
            let even: Vec<String> = std::iter::from_fn(|| reader.next_wanted(&mut |r| r % 2 == 0))
                .map(|(_, item)| format!("{item:?}"))
                .collect();
            let expected: Vec<String> = items.iter().step_by(2).map(|i| format!("{i:?}")).collect();
            assert_eq!(even, expected, "a read of some records");
            assert_eq!(reader.records() as usize, items.len());
        }
        2 => {
            // Gzip the bytes, then cut the stream where the fuzzer says.
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(data).expect("gzip");
            let gz = gz.finish().expect("gzip");
            let cut = data
                .first()
                .map_or(gz.len(), |&b| gz.len() * (b as usize + 1) / 256);
            let path = dir.join("input.jsonl.gz");
            std::fs::write(&path, &gz[..cut.min(gz.len())]).expect("scratch file");
            let items = read_all(&path, config);
            assert!(items.len() <= expected_records(data, limit) + 1);
            check_doc_text(&items);
        }
        _ => {
            let folder = dir.join("folder");
            std::fs::write(folder.join("page.txt"), data).expect("scratch file");
            let items = read_all(&folder, config);
            assert_eq!(items.len(), 1, "one item per text file");
            check_doc_text(&items);
        }
    }
});
