//! `cbc_msg keygen`: 128 hex digits and a newline from the OS's random
//! source, to stdout or to a new file of mode 0600.

use crate::util::{Scratch, cbc_msg};
use cbc_msg::Keys;

fn assert_key_text(text: &str) {
    assert_eq!(text.len(), 129, "{text:?}");
    assert!(text.ends_with('\n'), "{text:?}");
    assert!(
        text[..128]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{text:?}"
    );
    Keys::parse(text).unwrap();
}

#[test]
fn to_stdout() {
    let a = cbc_msg(&["keygen"], b"");
    assert!(a.status.success(), "{a:?}");
    assert_key_text(&a.stdout);
    assert!(a.stderr.is_empty(), "{a:?}");
    let b = cbc_msg(&["keygen"], b"");
    assert_ne!(a.stdout, b.stdout, "two keys from the OS's random source");
    // The AES half and the HMAC half are independent.
    assert_ne!(a.stdout[..64], a.stdout[64..128]);
}

#[test]
fn to_a_file_readable_by_its_owner_only() {
    let dir = Scratch::new();
    let path = dir.path("k.hex");
    let run = cbc_msg(&["keygen", "--out", path.to_str().unwrap()], b"");
    assert!(run.status.success(), "{run:?}");
    assert!(run.stdout.is_empty(), "the key is not echoed: {run:?}");
    assert!(run.stderr.contains("wrote a new key to"), "{run:?}");
    assert_key_text(&std::fs::read_to_string(&path).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
}

#[test]
fn an_existing_file_is_kept_unless_forced() {
    let dir = Scratch::new();
    let path = dir.path("k.hex");
    let p = path.to_str().unwrap();
    assert!(cbc_msg(&["keygen", "--out", p], b"").status.success());
    let before = std::fs::read_to_string(&path).unwrap();

    let run = cbc_msg(&["keygen", "--out", p], b"");
    run.assert_error(1, &["k.hex", "the file exists", "--force"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);

    let run = cbc_msg(&["keygen", "--out", p, "--force"], b"");
    assert!(run.status.success(), "{run:?}");
    let after = std::fs::read_to_string(&path).unwrap();
    assert_key_text(&after);
    assert_ne!(after, before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    // No temporary file left behind.
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
}

#[test]
fn force_without_out_is_a_usage_error() {
    let run = cbc_msg(&["keygen", "--force"], b"");
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(run.stdout.is_empty());
}

#[test]
fn a_directory_that_does_not_exist_is_a_clear_error() {
    let dir = Scratch::new();
    let path = dir.path("no/such/dir/k.hex");
    let run = cbc_msg(&["keygen", "--out", path.to_str().unwrap()], b"");
    run.assert_error(1, &["writing key file", "No such file or directory"]);
}
