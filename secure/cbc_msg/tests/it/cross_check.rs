//! The crate's CBC against the RustCrypto `cbc` crate, on random keys,
//! IVs and texts of every length from empty to several blocks.

use aes::Aes256;
use aes::cipher::KeyInit;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use cbc_msg::cbc as ours;
use proptest::prelude::*;

type Encryptor = cbc::Encryptor<Aes256>;
type Decryptor = cbc::Decryptor<Aes256>;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn same_ciphertext_as_the_cbc_crate(
        key in any::<[u8; 32]>(),
        iv in any::<[u8; 16]>(),
        text in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mine = ours::encrypt(&Aes256::new(&key.into()), &iv, &text);
        let theirs = Encryptor::new(&key.into(), &iv.into()).encrypt_padded_vec::<Pkcs7>(&text);
        prop_assert_eq!(&mine, &theirs);
        prop_assert_eq!(mine.len(), (text.len() / 16 + 1) * 16);
        let back = Decryptor::new(&key.into(), &iv.into())
            .decrypt_padded_vec::<Pkcs7>(&mine)
            .unwrap();
        prop_assert_eq!(&back, &text);
        prop_assert_eq!(ours::decrypt(&Aes256::new(&key.into()), &iv, &theirs).unwrap(), text);
    }

    #[test]
    fn same_raw_blocks_as_the_cbc_crate(
        key in any::<[u8; 32]>(),
        iv in any::<[u8; 16]>(),
        blocks in 1usize..8,
        seed in any::<u8>(),
    ) {
        let plain: Vec<u8> = (0..blocks * 16).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
        let mut mine = plain.clone();
        ours::encrypt_blocks(&Aes256::new(&key.into()), &iv, &mut mine).unwrap();
        let mut theirs = plain.clone();
        let mut enc = Encryptor::new(&key.into(), &iv.into());
        for chunk in theirs.chunks_exact_mut(16) {
            let block: &mut [u8; 16] = chunk.try_into().unwrap();
            enc.encrypt_block(block.into());
        }
        prop_assert_eq!(&mine, &theirs);
        ours::decrypt_blocks(&Aes256::new(&key.into()), &iv, &mut mine).unwrap();
        prop_assert_eq!(mine, plain);
    }
}
