//! The committed fuzz corpus (`fuzz/corpus/<target>/`) replays through the
//! same harness functions as the libFuzzer targets, on stable, so that
//! `cargo test` keeps every input the fuzzers found or were seeded with
//! (and every fixed crash) passing without a nightly toolchain.

use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn replay(target: &str, harness: fn(&[u8])) -> usize {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| harness(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails the harness (replay with `cargo +nightly fuzz run --fuzz-dir fuzz \
             {target} {}`)",
            path.display(),
            path.display()
        );
    }
    files.len()
}

#[test]
fn every_target_has_a_corpus_that_replays() {
    for (target, harness) in fuzz_harness::TARGETS {
        let n = replay(target, *harness);
        assert!(n >= 5, "{target}: only {n} corpus files");
    }
}

#[test]
fn every_target_has_a_libfuzzer_target() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    for (target, _) in fuzz_harness::TARGETS {
        let path = dir.join(format!("{target}.rs"));
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        assert!(
            source.contains(&format!("fuzz_harness::{target}(")),
            "{} must call fuzz_harness::{target}",
            path.display()
        );
    }
}

/// Writes the genuine cbc_msg frames into the corpus (run by hand after
/// changing the harness's keys:
/// `cargo test -p fuzz_harness -- --ignored seed_genuine_cbc_frames`).
#[test]
#[ignore]
fn seed_genuine_cbc_frames() {
    let dir = corpus_dir("cbc_frame");
    for (i, frame) in fuzz_harness::genuine_frames().iter().enumerate() {
        std::fs::write(dir.join(format!("genuine-{i}")), frame).unwrap();
    }
}

#[test]
fn genuine_frames_open() {
    for frame in fuzz_harness::genuine_frames() {
        fuzz_harness::cbc_frame(&frame);
    }
}
