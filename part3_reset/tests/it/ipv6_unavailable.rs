//! On a host without IPv6, the IPv6 half is skipped with one warning and the client goes on over IPv4; with nothing left to send on, it fails.
//!
//! The host without IPv6 is a private network namespace (`unshare -n`)
//! with only its loopback up and IPv6 disabled; the test is skipped where
//! namespaces cannot be made (no privilege, no `unshare` or `ip`).

use crate::util::{BIN, Finished, run_program};
use std::process::Command;
use std::time::Duration;

/// The shell run inside the namespace: loopback up, IPv6 off, then
/// `exec` the client so that killing the child kills the client.
const SETUP: &str = "ip link set lo up && \
     echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && \
     echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6 && \
     exec \"$0\" \"$@\"";

/// `part3_reset ARGS...` in a namespace without IPv6, or `None` where no
/// such namespace can be made.
fn without_ipv6(args: &[&str]) -> Option<Finished> {
    for unshare in [&["-n"][..], &["-rn"]] {
        let probe = Command::new("unshare")
            .args(unshare)
            .args(["sh", "-c", SETUP, "true"])
            .output();
        if !probe.is_ok_and(|out| out.status.success()) {
            continue;
        }
        let mut full: Vec<&str> = unshare.to_vec();
        full.extend(["sh", "-c", SETUP, BIN]);
        full.extend(args);
        return Some(run_program("unshare", &full, Duration::from_secs(20)));
    }
    eprintln!("skipped: cannot make a network namespace without IPv6 here");
    None
}

#[test]
fn ipv6_is_skipped_with_one_warning() {
    let Some(out) = without_ipv6(&[
        "--host",
        "localhost",
        "--port",
        "9",
        "--max-tries",
        "3",
        "--timeout",
        "0.1",
        "--runs",
        "2",
    ]) else {
        return;
    };
    // Nobody listens on 127.0.0.1:9 in the namespace: the client fails,
    // but only after trying IPv4 three times.
    out.expect_code(1);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("part3_reset: warning: "))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning for the whole program: {out:#?}"
    );
    assert!(warnings[0].contains("[::1]:9"), "{out:#?}");
    assert!(out.stderr.contains("after 3 attempts"), "{out:#?}");
}

#[test]
fn no_family_left_is_an_error() {
    let Some(out) = without_ipv6(&[
        "--host",
        "localhost",
        "--port",
        "9",
        "-6",
        "--timeout",
        "0.1",
    ]) else {
        return;
    };
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("part3_reset: error: cannot send to any address of localhost"),
        "{out:#?}"
    );
}
