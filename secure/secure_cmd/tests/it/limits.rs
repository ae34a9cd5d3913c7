//! A command that runs too long or writes too much is killed, with its
//! process group, and answered `ERR`; the connection goes on.

use crate::util::{Answer, Pki, Raw, Server, ok, process_running};
use std::time::{Duration, Instant};

#[test]
fn a_command_past_its_time_out_is_killed_with_its_children() {
    let pki = Pki::new("timeout");
    let server = Server::start(
        &pki,
        &[
            "--allow",
            "sleep",
            "--allow",
            "timeout",
            // `timeout` runs another program: allowed only with the risk
            // accepted.
            "--allow-risky-commands",
            "--command-timeout",
            "0.5",
        ],
    );
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    // A duration no other test uses, to find the processes by name.
    let nap = format!("29.{}", std::process::id());
    let started = Instant::now();
    assert_eq!(
        raw.run(&format!("sleep {nap}")),
        Answer::Err("timed out after 0.5 s; killed".into())
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(!process_running(&["sleep", &nap]));
    // `timeout` starts `sleep` as its child: killing `timeout` alone would
    // leave that `sleep` running for 29 s. The whole group goes.
    assert_eq!(
        raw.run(&format!("timeout 60 sleep {nap}")),
        Answer::Err("timed out after 0.5 s; killed".into())
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while process_running(&["sleep", &nap]) {
        assert!(Instant::now() < deadline, "the grandchild sleep still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(raw.run("sleep 0.1"), ok(""));
    server.wait_for_log(&format!(
        "command \"sleep {nap}\": ERR timed out after 0.5 s; killed"
    ));
}

#[test]
fn output_over_the_cap_is_refused() {
    let pki = Pki::new("cap");
    let server = Server::start(
        &pki,
        &["--allow", "yes", "--allow", "head", "--output-cap", "1000"],
    );
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    assert_eq!(
        raw.run("yes"),
        Answer::Err("more than 1000 bytes of output; killed".into())
    );
    // Up to the cap is fine.
    assert_eq!(
        raw.run("head -c 1000 /dev/zero"),
        Answer::Ok {
            status: 0,
            output: vec![0; 1000]
        }
    );
    assert!(matches!(raw.run("head -c 1001 /dev/zero"), Answer::Err(_)));
    assert_eq!(raw.run("echo after"), ok("after\n"));
}

#[test]
fn the_default_cap_passes_a_large_output_intact() {
    let pki = Pki::new("large");
    let server = Server::start(&pki, &["--allow", "head"]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    match raw.run("head -c 1048576 /dev/urandom") {
        Answer::Ok { status: 0, output } => assert_eq!(output.len(), 1 << 20),
        other => panic!("{other:?}"),
    }
    // The real client prints it byte for byte.
    let out = crate::util::client(&pki, &server, &["head -c 1048576 /dev/zero"]);
    out.expect_code(0);
    assert!(out.stdout.len() == 1 << 20 && out.stdout.iter().all(|&b| b == 0));
}

#[test]
fn a_program_missing_from_the_command_path_is_refused_at_start_up() {
    let pki = Pki::new("missing");
    crate::util::refused_start(&pki, &["--allow", "no-such-program-secure-cmd"])
        .expect_code(2)
        .expect_one_line_error(
            "secure_cmd",
            "--allow no-such-program-secure-cmd: no executable no-such-program-secure-cmd in \
         /usr/local/bin:/usr/bin:/bin",
        );
}
