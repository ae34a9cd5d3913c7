//! Bad command lines exit 2 and runtime failures exit 1, each with one `part3_reset: error:` line.

use crate::util::run;

#[test]
fn unknown_host_names_the_host() {
    let out = run(&[
        "--host",
        "no-such-host.invalid",
        "--max-tries",
        "1",
        "--timeout",
        "0.1",
    ]);
    out.expect_code(1);
    assert!(out.stdout.is_empty());
    let stderr = out.stderr.trim_end();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("part3_reset: error: "), "{stderr}");
    assert!(stderr.contains("no-such-host.invalid"), "{stderr}");
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["--runs", "0"][..],
        &["--reset", "4294967296"],
        &["--reset", "-1"],
        &["--reset", "twenty"],
        &["--timeout", "soon"],
        &["--timeout", "-1"],
        &["--timeout", "0"],
        &["--max-tries", "0"],
        &["--port", "70000"],
        &["--port", "0"],
        &["-4", "-6"],
        &["--no-such-flag"],
        &["extra-argument"],
    ] {
        let out = run(args);
        assert_eq!(out.code(), Some(2), "{args:?}: {out:#?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:#?}");
        let stderr = out.stderr.trim_end();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("part3_reset: error: "),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn help_and_version_succeed() {
    let help = run(&["--help"]);
    help.expect_code(0);
    for flag in [
        "--host",
        "--port",
        "--reset",
        "--timeout",
        "--max-tries",
        "--runs",
        "-4",
        "-6",
    ] {
        assert!(
            help.stdout_text().contains(flag),
            "{flag} in {}",
            help.stdout_text()
        );
    }
    let version = run(&["-V"]);
    version.expect_code(0);
    assert!(
        version.stdout_text().starts_with("part3_reset "),
        "{}",
        version.stdout_text()
    );
}
