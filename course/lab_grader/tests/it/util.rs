//! Helpers for lab_grader's tests: the grader run with a time limit, the
//! workspace's own binaries built once, and stand-in executables written
//! as small scripts into a test's own folder.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use lab_grader::grade::TempDir;
pub use testkit::Output;

pub const GRADER: &str = env!("CARGO_BIN_EXE_lab_grader");

pub use testkit::workspace_bins;

/// Writes an executable script `name` into `dir`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs the grader with `args`; fails the test past `limit`.
pub fn grade(args: &[&str], limit: Duration) -> Output {
    testkit::run_within(GRADER, args, limit)
}

/// The table row of the case whose name contains `case`.
pub fn row<'a>(out: &'a Output, case: &str) -> &'a str {
    let text = std::str::from_utf8(&out.stdout).expect("UTF-8 table");
    let start = text
        .find(case)
        .unwrap_or_else(|| panic!("no row {case:?} in:\n{text}"));
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    &text[line_start..line_end]
}

/// Fails the test unless the row of `case` says `verdict` (PASS, FAIL,
/// SKIP) and, for a failure, contains `why`.
pub fn expect_row(out: &Output, case: &str, verdict: &str, why: &str) {
    let line = row(out, case);
    // No case name holds these words: the first one is the row's result.
    let shown = line
        .split_whitespace()
        .find(|w| ["PASS", "FAIL", "SKIP"].contains(w));
    assert!(
        shown == Some(verdict),
        "{case:?} should be {verdict}: {line}\n{}",
        out.stdout_text()
    );
    assert!(line.contains(why), "{why:?} in {line}");
}
