//! A frame that is not exactly what the key holder sealed is rejected:
//! any single flipped bit, a wrong key, a cut, a forged padding.

use aes::cipher::KeyInit;
use cbc_msg::frame::{self, LEN_PREFIX, LengthError, ReadError, Rejected, TAG_LEN};
use cbc_msg::{Keys, cbc};
use hmac::Mac;

fn keys() -> Keys {
    Keys::from_bytes([0x11; 32], [0x22; 32])
}

/// What a receiver that has the whole byte string makes of it: the text,
/// or an error of any kind.
fn receive(keys: &Keys, bytes: &[u8]) -> Result<Vec<u8>, String> {
    match frame::parse(bytes) {
        Ok(Some((body, used))) if used == bytes.len() => {
            frame::open(keys, body).map_err(|e| e.to_string())
        }
        Ok(Some(_)) => Err("trailing bytes".into()),
        Ok(None) => Err("truncated".into()),
        Err(err) => Err(err.to_string()),
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    // Two blocks of text: the flips hit the prefix, the IV, both
    // ciphertext blocks (bit flipping in CBC) and the tag.
    let sealed = frame::seal(&keys(), b"pay 100 CHF to Alice, ok").unwrap();
    assert_eq!(sealed.len(), LEN_PREFIX + 16 + 32 + TAG_LEN);
    assert_eq!(
        receive(&keys(), &sealed).unwrap(),
        b"pay 100 CHF to Alice, ok"
    );
    for bit in 0..sealed.len() * 8 {
        let mut bad = sealed.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(
            receive(&keys(), &bad).is_err(),
            "bit {bit} (byte {}) flipped and accepted",
            bit / 8
        );
    }
}

#[test]
fn cbc_alone_would_accept_the_flip() {
    // Why the MAC is there: without it, flipping a bit of the IV flips
    // the same bit of the first block of text, and CBC decrypts it fine.
    let keys = keys();
    let sealed = frame::seal(&keys, b"pay 100 CHF").unwrap();
    let body = &sealed[LEN_PREFIX..];
    let mut iv: [u8; 16] = body[..16].try_into().unwrap();
    let ciphertext = &body[16..body.len() - TAG_LEN];
    iv[4] ^= b'1' ^ b'9';
    let forged = cbc::decrypt(&keys.cipher(), &iv, ciphertext).unwrap();
    assert_eq!(forged, b"pay 900 CHF");
    // ... and the frame with that IV is rejected.
    let mut bad = sealed.clone();
    bad[LEN_PREFIX + 4] ^= b'1' ^ b'9';
    assert_eq!(frame::open(&keys, &bad[LEN_PREFIX..]), Err(Rejected));
}

#[test]
fn a_wrong_key_is_rejected() {
    let sealed = frame::seal(&keys(), b"hello").unwrap();
    let body = &sealed[LEN_PREFIX..];
    let other_mac = Keys::from_bytes([0x11; 32], [0x23; 32]);
    let other_cipher = Keys::from_bytes([0x12; 32], [0x22; 32]);
    let other_both = Keys::generate().unwrap();
    for keys in [other_mac, other_cipher, other_both] {
        assert_eq!(frame::open(&keys, body), Err(Rejected));
    }
}

#[test]
fn authentic_bad_padding_gives_the_same_error() {
    // A frame with a valid tag over a ciphertext whose padding is wrong
    // (only a key holder can make one): the error is the same as for a
    // bad tag, so an attacker can never learn which check failed.
    let keys = keys();
    let iv = [7u8; 16];
    let mut data = [b'a'; 16]; // no padding at all: last byte 'a' = 97
    cbc::encrypt_blocks(&keys.cipher(), &iv, &mut data).unwrap();
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(keys.mac_key()).unwrap();
    mac.update(&iv);
    mac.update(&data);
    let mut body = iv.to_vec();
    body.extend_from_slice(&data);
    body.extend_from_slice(&mac.finalize().into_bytes());
    let bad_padding = frame::open(&keys, &body).unwrap_err();
    let mut forged = body.clone();
    forged[60] ^= 1;
    let bad_tag = frame::open(&keys, &forged).unwrap_err();
    assert_eq!(bad_padding, bad_tag);
    assert_eq!(bad_padding.to_string(), "authentication failed");
}

#[test]
fn every_truncation_is_refused() {
    let sealed = frame::seal(&keys(), b"a message of a few blocks, long enough").unwrap();
    for cut in 0..sealed.len() {
        assert_eq!(frame::parse(&sealed[..cut]), Ok(None), "cut at {cut}");
        match frame::read_body(&mut &sealed[..cut]) {
            Ok(None) if cut == 0 => {}
            Err(ReadError::Truncated { got, expected }) => {
                assert_eq!(got, cut);
                assert_eq!(expected, if cut < 4 { 4 } else { sealed.len() });
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // A body cut short and relabelled with its new length: the tag is
    // then read from the ciphertext, and fails.
    let body = &sealed[LEN_PREFIX..];
    for len in (64..body.len()).step_by(16) {
        assert_eq!(frame::open(&keys(), &body[..len]), Err(Rejected), "{len}");
    }
}

#[test]
fn malformed_lengths_are_refused() {
    for len in [0u32, 1, 47, 48, 63, 65, 79, (1 << 20) - 1] {
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.resize(4 + 100, 0);
        assert_eq!(
            frame::parse(&bytes),
            Err(LengthError::Malformed(len)),
            "{len}"
        );
    }
}
