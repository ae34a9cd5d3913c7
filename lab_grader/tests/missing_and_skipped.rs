//! Missing executables fail their part's cases, unselected parts are
//! skipped, and bad command lines are one-line usage errors.

// The fake executables are shell scripts: Unix only.
#![cfg(unix)]

mod util;

use std::time::Duration;
use util::{TempDir, expect_row, grade};

#[test]
fn missing_executables_fail_and_unselected_parts_are_skipped() {
    let dir = TempDir::new().unwrap();
    let out = grade(
        &[
            "--bin-dir",
            dir.path().to_str().unwrap(),
            "--part",
            "3",
            "--part",
            "6",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), Some(1));
    expect_row(
        &out,
        "part3: IPv4-only server",
        "FAIL",
        "missing part3_reset in",
    );
    expect_row(&out, "part6: course grader", "FAIL", "missing part6_pmu in");
    expect_row(&out, "part2: all 21 cases", "SKIP", "not selected (--part)");
    expect_row(&out, "part1: all 2 cases", "SKIP", "not selected");
    assert!(
        out.stdout_text()
            .contains("score: 0/11 cases passed (0.0%)")
    );
}

#[test]
fn part1_is_skipped_when_absent_unless_asked_for() {
    let dir = TempDir::new().unwrap();
    let out = grade(
        &[
            "--bin-dir",
            dir.path().to_str().unwrap(),
            "--case",
            "part1:",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), Some(0), "{}", out.stdout_text());
    expect_row(&out, "part1: all 2 cases", "SKIP", "optional");
    let out = grade(
        &["--bin-dir", dir.path().to_str().unwrap(), "--part", "1"],
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), Some(1));
    expect_row(&out, "part1: TCP echo", "FAIL", "missing part1_echo");
}

#[test]
fn bad_command_lines_are_usage_errors() {
    for args in [
        &["--part", "7"][..],
        &["--time-limit", "0"],
        &["--case", "no such case", "--bin-dir", "/"],
        &["report", "--loss", "1.5"],
    ] {
        grade(args, Duration::from_secs(30))
            .expect_code(2)
            .expect_one_line_error("lab_grader", "");
    }
    grade(&["--bin-dir", "/nonexistent/lab3"], Duration::from_secs(30))
        .expect_code(1)
        .expect_one_line_error("lab_grader", "/nonexistent/lab3");
}
