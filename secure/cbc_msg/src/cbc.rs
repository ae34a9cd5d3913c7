//! CBC mode (NIST SP 800-38A §6.2) over AES-256, and PKCS#7 padding
//! (RFC 5652 §6.3), written here rather than taken from the `cbc` crate
//! because the assignment asks for the chaining itself. The `aes` crate
//! only gives the block cipher: E_K and D_K on one 16-byte block.
//!
//! ```text
//! encrypt:  C_0 = IV,  C_i = E_K(P_i ⊕ C_{i-1})
//! decrypt:  P_i = D_K(C_i) ⊕ C_{i-1}
//! ```
//!
//! # Why a fresh random IV for every message
//! CBC with a fixed IV is deterministic: the same text under the same key
//! gives the same ciphertext, so an eavesdropper sees when a message is
//! repeated, and, since C_1 = E_K(P_1 ⊕ IV), when two messages merely
//! *start* with the same 16 bytes. A predictable IV is no better: if an
//! attacker who can choose a plaintext knows the next IV in advance, he
//! can choose P_1 = IV_next ⊕ IV_old ⊕ guess and test whether an earlier
//! block was `guess` (the attack on TLS 1.0 known as BEAST). An IV drawn
//! from the OS's random source for every message makes equal texts look
//! unrelated. It need not be secret, so it travels in clear in front of
//! the ciphertext (and under the MAC).
//!
//! # Why PKCS#7 padding
//! CBC works on whole 16-byte blocks but a text has any length. PKCS#7
//! appends n bytes of value n, 1 <= n <= 16, so that the length becomes a
//! multiple of 16. Padding is always added, a whole block of 16s to a text
//! that already fills its blocks, so the last byte always says how much to
//! strip and the padding can never be mistaken for text. It is the
//! padding of TLS 1.0–1.2 CBC suites, CMS and OpenSSL's `enc`.
//!
//! # Why CBC alone is malleable
//! Look at decryption: P_i = D_K(C_i) ⊕ C_{i-1}. Flipping bit j of C_{i-1}
//! (or of the IV, for i = 1) flips exactly bit j of P_i, and garbles only
//! P_{i-1}. Someone who knows or guesses a block of the text (a fixed
//! header, `pay 100 CHF`) can thus rewrite that block as he likes without
//! the key, and CBC decrypts it without complaint. Encryption hides the
//! text; it does not tell whether the ciphertext is the one that was sent.
//! That is the job of the MAC in `frame.rs` (encrypt-then-MAC).
//!
//! # What a padding oracle is
//! A receiver that decrypts first and then answers differently to "bad
//! padding" and to "good padding but bad content" (an error message, a
//! different status, or only a different response time) is an oracle:
//! it tells the attacker, for any C_{i-1}' he sends in front of C_i,
//! whether D_K(C_i) ⊕ C_{i-1}' ends in valid padding. With the bit
//! flipping above he varies the last byte of C_{i-1}' until the padding is
//! valid (then it is most likely 0x01), which reveals the last byte of
//! D_K(C_i); then the next byte, and so on: any block of any message
//! decrypts in at most 256 tries per byte, without the key (Vaudenay 2002;
//! Lucky Thirteen and POODLE against TLS). The cure in this crate is
//! in `frame.rs`: the MAC is checked, in constant time, over the whole
//! ciphertext *before* [`decrypt`] and [`unpad`] ever run, and every
//! failure gives the same error. A forged or altered ciphertext is thrown
//! away without its padding being looked at, so there is no oracle to
//! ask.

use aes::Aes256;
use aes::cipher::{Block, BlockCipherDecrypt, BlockCipherEncrypt};
use std::fmt;

/// The AES block size in bytes (128 bits, whatever the key length).
pub const BLOCK_SIZE: usize = 16;

/// Why CBC decryption or unpadding failed.
///
/// The frame layer turns both into one opaque rejection; the two are kept
/// apart here only so that the unit tests can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CbcError {
    /// The data is empty or not a whole number of 16-byte blocks.
    NotBlockAligned,
    /// The last block does not end in valid PKCS#7 padding.
    BadPadding,
}

impl fmt::Display for CbcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CbcError::NotBlockAligned => "ciphertext is not a whole number of 16-byte blocks",
            CbcError::BadPadding => "bad padding",
        })
    }
}

impl std::error::Error for CbcError {}

/// Encrypts `data` in place in CBC mode; `data` must be whole blocks
/// (padded already, see [`pad`]). An empty `data` is left as it is.
pub fn encrypt_blocks(
    cipher: &Aes256,
    iv: &[u8; BLOCK_SIZE],
    data: &mut [u8],
) -> Result<(), CbcError> {
    if data.len() % BLOCK_SIZE != 0 {
        return Err(CbcError::NotBlockAligned);
    }
    let mut previous = *iv;
    for chunk in data.chunks_exact_mut(BLOCK_SIZE) {
        // C_i = E_K(P_i ⊕ C_{i-1}): chaining makes each block depend on
        // every block before it, and on the IV.
        let mut block = Block::<Aes256>::default();
        for ((b, p), c) in block.iter_mut().zip(chunk.iter()).zip(previous.iter()) {
            *b = p ^ c;
        }
        cipher.encrypt_block(&mut block);
        chunk.copy_from_slice(&block);
        previous.copy_from_slice(&block);
    }
    Ok(())
}

/// Decrypts `data` in place in CBC mode; `data` must be whole blocks.
/// The padding is left in place (see [`unpad`]).
pub fn decrypt_blocks(
    cipher: &Aes256,
    iv: &[u8; BLOCK_SIZE],
    data: &mut [u8],
) -> Result<(), CbcError> {
    if data.len() % BLOCK_SIZE != 0 {
        return Err(CbcError::NotBlockAligned);
    }
    let mut previous = *iv;
    for chunk in data.chunks_exact_mut(BLOCK_SIZE) {
        // P_i = D_K(C_i) ⊕ C_{i-1}: C_i is overwritten by P_i, so keep it
        // for the next block first.
        let mut block = Block::<Aes256>::default();
        block.copy_from_slice(chunk);
        let mut this = [0u8; BLOCK_SIZE];
        this.copy_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        for ((p, d), c) in chunk.iter_mut().zip(block.iter()).zip(previous.iter()) {
            *p = d ^ c;
        }
        previous = this;
    }
    Ok(())
}

/// `text` with PKCS#7 padding: 1 to 16 bytes, each the pad's length.
pub fn pad(text: &[u8]) -> Vec<u8> {
    let n = BLOCK_SIZE - text.len() % BLOCK_SIZE;
    let mut padded = Vec::with_capacity(text.len() + n);
    padded.extend_from_slice(text);
    // n is 1..=16, so it fits in a byte.
    padded.resize(text.len() + n, n as u8);
    padded
}

/// `padded` without its PKCS#7 padding.
///
/// Not constant time, and need not be: it only ever runs on a ciphertext
/// whose MAC has been verified, which an attacker without the MAC key
/// cannot produce, so how long it takes or how it fails tells him nothing.
pub fn unpad(padded: &[u8]) -> Result<&[u8], CbcError> {
    if padded.is_empty() || padded.len() % BLOCK_SIZE != 0 {
        return Err(CbcError::NotBlockAligned);
    }
    let n = usize::from(padded[padded.len() - 1]);
    if n == 0 || n > BLOCK_SIZE {
        return Err(CbcError::BadPadding);
    }
    let (text, padding) = padded.split_at(padded.len() - n);
    if padding.iter().any(|&b| usize::from(b) != n) {
        return Err(CbcError::BadPadding);
    }
    Ok(text)
}

/// Pads `text` and encrypts it: the CBC ciphertext, 1 to 16 bytes longer
/// than `text`.
pub fn encrypt(cipher: &Aes256, iv: &[u8; BLOCK_SIZE], text: &[u8]) -> Vec<u8> {
    let mut data = pad(text);
    // Cannot fail: pad() returns whole blocks.
    let _ = encrypt_blocks(cipher, iv, &mut data);
    data
}

/// Decrypts `ciphertext` and strips its padding.
///
/// Call it only on an authenticated ciphertext (see the module's note on
/// padding oracles): its errors say why the padding failed.
pub fn decrypt(
    cipher: &Aes256,
    iv: &[u8; BLOCK_SIZE],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CbcError> {
    if ciphertext.is_empty() {
        return Err(CbcError::NotBlockAligned);
    }
    let mut data = ciphertext.to_vec();
    decrypt_blocks(cipher, iv, &mut data)?;
    let len = unpad(&data)?.len();
    data.truncate(len);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_always_added() {
        assert_eq!(pad(b""), vec![16u8; 16]);
        assert_eq!(pad(b"abc").len(), 16);
        assert_eq!(&pad(b"abc")[3..], &[13u8; 13]);
        let full = [b'x'; 16];
        let padded = pad(&full);
        assert_eq!(padded.len(), 32);
        assert_eq!(&padded[16..], &[16u8; 16]);
        for len in 0..50 {
            let text = vec![7u8; len];
            assert_eq!(unpad(&pad(&text)), Ok(&text[..]), "{len}");
        }
    }

    #[test]
    fn bad_padding_is_refused() {
        let mut block = [b'a'; 16];
        block[15] = 0;
        assert_eq!(unpad(&block), Err(CbcError::BadPadding), "pad byte 0");
        block[15] = 17;
        assert_eq!(unpad(&block), Err(CbcError::BadPadding), "pad byte 17");
        block[14] = 3;
        block[15] = 2;
        assert_eq!(unpad(&block), Err(CbcError::BadPadding), "03 02");
        assert_eq!(unpad(&[]), Err(CbcError::NotBlockAligned));
        assert_eq!(unpad(&[1u8; 15]), Err(CbcError::NotBlockAligned));
    }

    #[test]
    fn unaligned_data_is_refused_not_a_panic() {
        use aes::cipher::KeyInit;
        let cipher = Aes256::new(&[0u8; 32].into());
        let iv = [0u8; 16];
        let mut data = [0u8; 17];
        assert_eq!(
            encrypt_blocks(&cipher, &iv, &mut data),
            Err(CbcError::NotBlockAligned)
        );
        assert_eq!(
            decrypt_blocks(&cipher, &iv, &mut data),
            Err(CbcError::NotBlockAligned)
        );
        assert_eq!(decrypt(&cipher, &iv, &[]), Err(CbcError::NotBlockAligned));
    }
}
