//! cbc_msg's frames (`cbc_msg::frame`): the length prefix and body a
//! server reads from a peer, and the authenticated decryption.

use cbc_msg::cbc;
use cbc_msg::frame::{self, IV_LEN, LEN_PREFIX, ReadError};
use cbc_msg::{Keys, Rejected};

/// The keys of the harness (genuine frames in the corpus are sealed with
/// them: [`genuine_frames`]).
pub fn keys() -> Keys {
    Keys::from_bytes([0x42; 32], [0x24; 32])
}

/// Properties:
/// - `parse` (a buffer) and `read_body` (a stream) agree on every input:
///   the same body, the same refusal of a bad length, and a cut frame is
///   "not yet" for one and `Truncated` for the other;
/// - a body that opens is a frame `seal` makes for that text and IV, so
///   nothing unauthenticated is ever decrypted (with the fuzzer's keys a
///   forgery is out of reach; the corpus holds genuine frames);
/// - sealing the input as a text opens to the same text, and any one
///   flipped bit of the frame body is rejected;
/// - CBC decryption and unpadding of any bytes fail cleanly (never a
///   panic), and what decrypts re-encrypts to the same bytes.
pub fn cbc_frame(data: &[u8]) {
    let keys = keys();
    let parsed = frame::parse(data);
    let read = frame::read_body(&mut &data[..]);
    match (&parsed, &read) {
        (Err(err), Err(ReadError::Length(read_err))) => assert_eq!(err, read_err),
        (Ok(None), Ok(None)) => assert!(data.is_empty()),
        (Ok(None), Err(ReadError::Truncated { got, expected })) => {
            assert!(!data.is_empty() && got < expected && *got == data.len())
        }
        (Ok(Some((body, used))), Ok(Some(read_body))) => {
            assert_eq!(body, read_body);
            assert_eq!(*used, LEN_PREFIX + body.len());
            assert!(frame::check_length(body.len() as u32).is_ok());
            if let Ok(text) = frame::open(&keys, body) {
                let iv: [u8; IV_LEN] = body[..IV_LEN].try_into().unwrap();
                let sealed = frame::seal_with_iv(&keys, &iv, &text).unwrap();
                assert_eq!(
                    sealed,
                    &data[..*used],
                    "an authentic frame is what seal makes"
                );
            }
        }
        (parsed, read) => panic!("parse {parsed:?} but read_body {read:?} on {data:?}"),
    }
    // Arbitrary bytes as a body: authentication refuses them.
    if let Ok(text) = frame::open(&keys, data) {
        let iv: [u8; IV_LEN] = data[..IV_LEN].try_into().unwrap();
        let sealed = frame::seal_with_iv(&keys, &iv, &text).unwrap();
        assert_eq!(&sealed[LEN_PREFIX..], data);
    }

    // The input as a text: round trip, and every bit of the body counts.
    let mut iv = [0u8; IV_LEN];
    for (slot, b) in iv.iter_mut().zip(data.iter().rev()) {
        *slot = *b;
    }
    let sealed = frame::seal_with_iv(&keys, &iv, data).expect("a fuzz input fits a frame");
    let (body, used) = frame::parse(&sealed).unwrap().expect("a whole frame");
    assert_eq!(used, sealed.len());
    assert_eq!(frame::open(&keys, body).as_deref(), Ok(data));
    let bit = data
        .iter()
        .fold(data.len(), |acc, &b| acc.wrapping_mul(31) ^ usize::from(b))
        % (body.len() * 8);
    let mut forged = body.to_vec();
    forged[bit / 8] ^= 1 << (bit % 8);
    assert_eq!(
        frame::open(&keys, &forged),
        Err(Rejected),
        "bit {bit} flipped"
    );

    // CBC on its own: any ciphertext, any IV.
    let cipher = keys.cipher();
    if let Ok(text) = cbc::decrypt(&cipher, &iv, data) {
        assert_eq!(cbc::encrypt(&cipher, &iv, &text), data);
    }
    let _ = cbc::unpad(data);
}

/// Frames sealed with the harness's keys, to seed the corpus with inputs
/// that authenticate (a fuzzer cannot forge one): one per text, then two
/// in a row.
pub fn genuine_frames() -> Vec<Vec<u8>> {
    let keys = keys();
    let texts: [&[u8]; 5] = [
        b"",
        b"hello",
        b"exactly 16 bytes",
        "caf\u{e9} \u{2713}".as_bytes(),
        &[0xff; 40],
    ];
    let mut frames: Vec<Vec<u8>> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| frame::seal_with_iv(&keys, &[i as u8; IV_LEN], text).unwrap())
        .collect();
    let two = [frames[1].clone(), frames[2].clone()].concat();
    frames.push(two);
    frames
}
