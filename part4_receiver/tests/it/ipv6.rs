//! IPv6 groups (beyond the lab): two receivers and a sender on `ff02::…`
//! with `IPV6_JOIN_GROUP` and `IPV6_MULTICAST_IF` by interface name.
//!
//! Linux does not deliver IPv6 multicast over `lo` (no multicast route
//! there, and the loopback device skips the local copy), so the test makes
//! a network namespace of its own with a veth pair in it and runs both
//! programs inside (`ip netns exec`), with hop limit 0: nothing can leave
//! the namespace, which is removed afterwards. That needs root and the `ip`
//! command; without them the test says so loudly and skips.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use testkit::mcast::{receiver_in, sender_in};

/// A network namespace with `lo` and a veth pair `v0`–`v1` up; deleted on
/// drop.
struct Netns(String);

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|err| format!("running ip: {err}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    fn new() -> Result<Netns, String> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "part4-v6-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        ip(&["netns", "add", &name])?;
        let ns = Netns(name);
        let n = ns.0.as_str();
        // No duplicate address detection: the link-local addresses are
        // usable at once.
        for conf in ["default", "all"] {
            ip(&[
                "netns",
                "exec",
                n,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{conf}.accept_dad=0"),
            ])?;
        }
        ip(&["-n", n, "link", "set", "lo", "up"])?;
        ip(&[
            "-n", n, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
        ])?;
        ip(&["-n", n, "link", "set", "v0", "up"])?;
        ip(&["-n", n, "link", "set", "v1", "up"])?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let addrs = ip(&["-n", n, "-6", "addr", "show", "dev", "v0"])?;
            if addrs.contains("fe80") && !addrs.contains("tentative") {
                return Ok(ns);
            }
            if Instant::now() > deadline {
                return Err(format!("v0 got no usable link-local address: {addrs}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn prefix(&self) -> [&str; 4] {
        ["ip", "netns", "exec", self.0.as_str()]
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.0]);
    }
}

#[test]
fn two_receivers_get_every_datagram_of_an_ipv6_group() {
    let ns = match Netns::new() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!(
                "\n!!!!! SKIPPED: the IPv6 multicast test needs a network namespace of its own \
                 (root and the ip command): {why} !!!!!\n"
            );
            return;
        }
    };
    let prefix = ns.prefix();
    let args = [
        "--group",
        "ff02::1:5005",
        "--interface",
        "v0",
        "--count",
        "3",
        "--timeout",
        "10",
    ];
    let first = receiver_in(&prefix, &[&args[..], &["--port", "0"]].concat());
    let port = first.port.to_string();
    let second = receiver_in(&prefix, &[&args[..], &["--port", &port]].concat());
    let sent = sender_in(
        &prefix,
        &[
            "--id",
            "123456",
            "--group",
            "ff02::1:5005",
            "--interface",
            "v0",
            "--ttl",
            "0",
            "--port",
            &port,
        ],
        "un\ndeux\ntrois\n".as_bytes(),
    );
    assert!(sent.status.success(), "{}", sent.stderr);
    for (name, rx) in [("first", first), ("second", second)] {
        let run = rx.finish(Duration::from_secs(20));
        assert!(run.status.success(), "{name}: {}", run.stderr);
        assert_eq!(
            run.stdout_text(),
            "[123456] un\n[123456] deux\n[123456] trois\n",
            "{name}"
        );
        assert!(run.stderr.contains("ff02::1:5005"), "{}", run.stderr);
    }
}
