//! The CBC chaining against NIST SP 800-38A, Appendix F.2.5 (CBC-AES256.Encrypt)
//! and F.2.6 (CBC-AES256.Decrypt).

use aes::Aes256;
use aes::cipher::KeyInit;
use cbc_msg::cbc;

const KEY: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const IV: &str = "000102030405060708090a0b0c0d0e0f";

/// (plaintext, ciphertext) of blocks #1 to #4, as printed in F.2.5/F.2.6.
const BLOCKS: [(&str, &str); 4] = [
    (
        "6bc1bee22e409f96e93d7e117393172a",
        "f58c4c04d6e5f1ba779eabfb5f7bfbd6",
    ),
    (
        "ae2d8a571e03ac9c9eb76fac45af8e51",
        "9cfc4e967edb808d679f777bc6702c7d",
    ),
    (
        "30c81c46a35ce411e5fbc1191a0a52ef",
        "39f23369a9d9bacfa530e26304231461",
    ),
    (
        "f69f2445df4f9b17ad2b417be66c3710",
        "b2eb05e2c39be9fcda6c19078c6a9d1b",
    ),
];

fn cipher() -> Aes256 {
    let key: [u8; 32] = hex::decode(KEY).unwrap().try_into().unwrap();
    Aes256::new(&key.into())
}

fn iv() -> [u8; 16] {
    hex::decode(IV).unwrap().try_into().unwrap()
}

/// Blocks #1 to #4 of the plaintext, joined.
fn plaintext() -> Vec<u8> {
    BLOCKS
        .iter()
        .flat_map(|(p, _)| hex::decode(p).unwrap())
        .collect()
}

/// Blocks #1 to #4 of the ciphertext, joined.
fn ciphertext() -> Vec<u8> {
    BLOCKS
        .iter()
        .flat_map(|(_, c)| hex::decode(c).unwrap())
        .collect()
}

#[test]
fn f_2_5_cbc_aes256_encrypt() {
    let mut data = plaintext();
    cbc::encrypt_blocks(&cipher(), &iv(), &mut data).unwrap();
    assert_eq!(hex::encode(&data), hex::encode(ciphertext()));
}

#[test]
fn f_2_6_cbc_aes256_decrypt() {
    let mut data = ciphertext();
    cbc::decrypt_blocks(&cipher(), &iv(), &mut data).unwrap();
    assert_eq!(data, plaintext());
}

#[test]
fn each_block_chains_on_the_previous_ciphertext() {
    // F.2.5 block by block: the "IV" of block i is ciphertext block i-1.
    let mut previous = iv();
    for (i, (plain, expected)) in BLOCKS.iter().enumerate() {
        let mut block = hex::decode(plain).unwrap();
        cbc::encrypt_blocks(&cipher(), &previous, &mut block).unwrap();
        assert_eq!(hex::encode(&block), *expected, "block #{}", i + 1);
        previous = block.try_into().unwrap();
    }
}

#[test]
fn padded_encryption_ends_with_a_whole_padding_block() {
    // 64 bytes of text fill four blocks, so PKCS#7 adds a fifth of 0x10s;
    // the first four ciphertext blocks are NIST's.
    let text = plaintext();
    let sealed = cbc::encrypt(&cipher(), &iv(), &text);
    assert_eq!(sealed.len(), 80);
    assert_eq!(&sealed[..64], &ciphertext()[..]);
    assert_eq!(cbc::decrypt(&cipher(), &iv(), &sealed).unwrap(), text);
}
