//! Word and character shingling on arbitrary text (raw and normalized): no panic, the same
//! hashes on a second call and through the reused-buffer entry point, a sorted set, and the
//! raw-text entry point equal to shingling the normalized text (the ASCII fast paths).

#![no_main]

use copydesk::normalize::normalize;
use copydesk::shingle::{
    count_words, shingles, shingles_into, text_shingles_into, to_set, words, ShingleConfig, Unit,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let raw = String::from_utf8_lossy(data);
    let normalized = normalize(&raw);
    assert_eq!(
        count_words(&raw, usize::MAX),
        words(&normalized).count(),
        "words counted without normalizing"
    );
    let ngram = (control & 7) as usize; // 0 included: treated as 1
    for unit in [Unit::Word, Unit::Char] {
        for ocr_fold in [false, true] {
            let config = ShingleConfig {
                unit,
                ngram,
                ocr_fold,
            };
            let mut fused = Vec::new();
            text_shingles_into(&raw, &config, &mut fused);
            assert_eq!(fused, shingles(&normalized, &config), "raw text shingled as normalized");
            for text in [raw.as_ref(), normalized.as_str()] {
                let a = shingles(text, &config);
                let b = shingles(text, &config);
                assert_eq!(a, b, "deterministic");
                let mut buf = vec![1, 2, 3];
                shingles_into(text, &config, &mut buf);
                assert_eq!(&buf[3..], &a[..], "shingles_into appends the same hashes");
                let set = to_set(a);
                assert!(set.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
            }
        }
    }
});
