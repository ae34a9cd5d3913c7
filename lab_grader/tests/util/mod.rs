//! Helpers for lab_grader's tests: the grader run with a time limit, the
//! workspace's own binaries built once, and stand-in executables written
//! as small scripts into a test's own folder.

#![allow(dead_code, unused_imports)] // each test file uses its own subset

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

pub use lab_grader::grade::TempDir;
pub use testkit::Output;

pub const GRADER: &str = env!("CARGO_BIN_EXE_lab_grader");

/// The folder cargo builds this package's binaries into, where the
/// workspace's other binaries are too (`target/debug`).
pub fn target_dir() -> PathBuf {
    Path::new(GRADER)
        .parent()
        .expect("the grader has a folder")
        .to_path_buf()
}

/// The workspace's binaries, built once per test binary: `cargo test -p
/// lab_grader` builds only this package's, and the real parts are other
/// packages. Cargo releases its build lock before it runs the tests, so
/// the nested build only waits for another cargo, never for itself.
pub fn workspace_bins() -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let dir = target_dir();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let mut args = vec!["build", "--workspace", "--bins", "--quiet"];
        if dir.ends_with("release") {
            args.push("--release");
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut child = std::process::Command::new(&cargo);
        child.args(&args).current_dir(root);
        // Fifteen minutes: a fresh clone builds rustls and friends first.
        let out = testkit::finish(
            testkit::Guard(
                child
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("running {cargo}: {e}"))?,
            ),
            std::time::Instant::now(),
            Duration::from_secs(900),
        );
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("cargo {}: {}", args.join(" "), out.stderr))
        }
    });
    if let Err(why) = built {
        panic!("building the workspace's binaries: {why}");
    }
    dir
}

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
