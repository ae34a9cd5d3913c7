//! Any text sealed under a key opens to the same text under that key.

use cbc_msg::Keys;
use cbc_msg::frame::{self, LEN_PREFIX};
use proptest::prelude::*;

fn keys(seed: [u8; 32]) -> Keys {
    let mut mac = seed;
    mac.reverse();
    mac[0] ^= 0x5a;
    Keys::from_bytes(seed, mac)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_round_trips(seed in any::<[u8; 32]>(), text in ".{0,200}") {
        let keys = keys(seed);
        let sealed = frame::seal(&keys, text.as_bytes()).unwrap();
        // Length prefix, IV, the padded text (1 to 16 bytes more), tag.
        let padded = (text.len() / 16 + 1) * 16;
        prop_assert_eq!(sealed.len(), LEN_PREFIX + 16 + padded + 32);
        let (body, used) = frame::parse(&sealed).unwrap().unwrap();
        prop_assert_eq!(used, sealed.len());
        prop_assert_eq!(frame::open(&keys, body).unwrap(), text.as_bytes());
    }

    #[test]
    fn any_bytes_round_trip_through_a_stream(
        seed in any::<[u8; 32]>(),
        texts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..70), 1..5),
    ) {
        let keys = keys(seed);
        let mut stream = Vec::new();
        for text in &texts {
            stream.extend(frame::seal(&keys, text).unwrap());
        }
        let mut reader = &stream[..];
        for text in &texts {
            let body = frame::read_body(&mut reader).unwrap().unwrap();
            prop_assert_eq!(&frame::open(&keys, &body).unwrap(), text);
        }
        prop_assert!(frame::read_body(&mut reader).unwrap().is_none());
    }

    /// The codec never panics, whatever the bytes: what a fuzz target checks.
    #[test]
    fn arbitrary_bytes_are_refused_not_a_panic(
        seed in any::<[u8; 32]>(),
        junk in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let keys = keys(seed);
        if let Ok(Some((body, _))) = frame::parse(&junk) {
            prop_assert!(frame::open(&keys, body).is_err());
        }
        prop_assert!(frame::open(&keys, &junk).is_err());
        let _ = frame::read_body(&mut &junk[..]);
    }
}

#[test]
fn empty_and_block_sized_texts() {
    let keys = keys([9; 32]);
    for len in [0, 1, 15, 16, 17, 31, 32, 33, 1000] {
        let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
        let sealed = frame::seal(&keys, text.as_bytes()).unwrap();
        let (body, _) = frame::parse(&sealed).unwrap().unwrap();
        assert_eq!(frame::open(&keys, body).unwrap(), text.as_bytes(), "{len}");
    }
}

#[test]
fn the_same_text_twice_looks_different() {
    // A fresh IV for every message: equal texts give unrelated frames.
    let keys = keys([3; 32]);
    let a = frame::seal(&keys, b"attack at dawn").unwrap();
    let b = frame::seal(&keys, b"attack at dawn").unwrap();
    assert_eq!(a.len(), b.len());
    assert_ne!(
        a[LEN_PREFIX..LEN_PREFIX + 16],
        b[LEN_PREFIX..LEN_PREFIX + 16],
        "IV"
    );
    assert_ne!(
        a[LEN_PREFIX + 16..],
        b[LEN_PREFIX + 16..],
        "ciphertext and tag"
    );
}
