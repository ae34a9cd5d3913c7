//! The workspace's own executables pass every case, Part 1 included.

// The shared helpers (util) make executables with Unix modes: Unix only.
#![cfg(unix)]

mod util;

use std::time::Duration;
use util::{GRADER, grade, workspace_bins};

#[test]
fn every_case_passes_on_our_binaries() {
    let bins = workspace_bins();
    let out = grade(
        &["--bin-dir", bins.to_str().unwrap()],
        Duration::from_secs(300),
    );
    let table = out.stdout_text();
    assert_eq!(out.code(), Some(0), "{table}\n{}", out.stderr);
    assert!(
        !table.contains("FAIL") && !table.contains("SKIP"),
        "{table}"
    );
    let score = table.lines().last().unwrap();
    assert!(
        score.starts_with("score: ") && score.contains("(100.0%)"),
        "{score}"
    );
    for part in 1..=6 {
        assert!(score.contains(&format!("part {part} ")), "{score}");
    }
    assert!(GRADER.ends_with("lab_grader"));
}
