//! The report's simulated path: built from namespaces of its own, it
//! coalesces `CMD_short:0` and not `CMD_short:1` as the campus network
//! does, has its round trip, and leaves no namespace behind.
//!
//! Needs root (network namespaces); without it every test says why on
//! stderr and passes without checking anything.

use lab_grader::report::path::{self, CLIENT, ONE_WAY, SERVER, SimPath};
use lab_server::{Config, LabServer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Messages per `CMD_short`: few, so that `CMD_short:1` takes seconds.
const MESSAGES: u64 = 6;
const PORT: u16 = 5003;

/// Whether the test can run here; says loudly why not.
fn can_build(test: &str) -> bool {
    match path::unavailable() {
        None => true,
        Some(why) => {
            eprintln!("SKIPPED {test}: {why}");
            false
        }
    }
}

/// `lab_server`'s TCP PMU in the path's server namespace, on a thread that
/// entered it, until the returned sender is dropped.
fn pmu_in(path: &SimPath) -> mpsc::Sender<()> {
    let ns = path.server_ns.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let started = path::in_netns(&ns, move || {
            let config = Config {
                bind: vec![SERVER.into()],
                tcp_port: Some(PORT),
                udp_port: None,
                ws_port: None,
                mcast_port: None,
                messages: MESSAGES,
                first_index: 0,
                log: false,
                ..Config::default()
            };
            match LabServer::start(config) {
                Ok(server) => {
                    let _ = ready_tx.send(Ok(()));
                    let _ = stop_rx.recv();
                    // Stopped (a wake-up connection included) from inside
                    // the namespace, where its listener is.
                    drop(server);
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err.to_string()));
                }
            }
            Ok(())
        });
        started.expect("entering the server namespace");
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("lab_server started in time")
        .expect("lab_server started");
    stop_tx
}

/// Sends `command` from the client namespace and reads the answer to its
/// end; the bytes.
fn pdc(path: &SimPath, command: &'static str) -> Vec<u8> {
    path::in_netns(&path.client_ns, move || {
        let mut stream =
            TcpStream::connect_timeout(&SocketAddr::from((SERVER, PORT)), Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        assert_eq!(stream.local_addr()?.ip(), CLIENT);
        stream.write_all(command.as_bytes())?;
        let mut got = Vec::new();
        stream.read_to_end(&mut got)?;
        Ok(got)
    })
    .expect("a PMU connection across the path")
}

fn wire(n: u64) -> Vec<u8> {
    (0..n)
        .flat_map(|i| format!("This is PMU data {i}").into_bytes())
        .collect()
}

#[test]
fn d0_coalesces_and_d1_does_not_across_the_path() {
    if !can_build("d0_coalesces_and_d1_does_not_across_the_path") {
        return;
    }
    let path = SimPath::build().expect("building the path");
    let _pmu = pmu_in(&path);
    let line = path.line();
    let mut counts = Vec::new();
    for command in ["CMD_short:0", "CMD_short:1"] {
        line.watch(PORT);
        let got = pdc(&path, command);
        assert_eq!(got, wire(MESSAGES), "{command}'s answer");
        let c = line.settled(
            Duration::from_millis(300),
            Instant::now() + Duration::from_secs(3),
        );
        assert_eq!(c.bytes, got.len() as u64, "{command}: payload counted");
        counts.push(c.data);
    }
    eprintln!(
        "across the path: CMD_short:0 in {} segment(s), CMD_short:1 in {}, for {MESSAGES} messages",
        counts[0], counts[1]
    );
    assert!(
        counts[0] < MESSAGES,
        "d = 0 did not coalesce: {} segments for {MESSAGES} messages",
        counts[0]
    );
    assert_eq!(counts[1], MESSAGES, "d = 1: one segment per message");
}

#[test]
fn the_round_trip_is_twice_the_delay_line() {
    if !can_build("the_round_trip_is_twice_the_delay_line") {
        return;
    }
    let path = SimPath::build().expect("building the path");
    let _pmu = pmu_in(&path);
    // A TCP connect takes one round trip (SYN, SYN-ACK); the fastest of a
    // few is the path's, whatever the machine's load adds to the others.
    let fastest = path::in_netns(&path.client_ns, || {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            let stream = TcpStream::connect_timeout(
                &SocketAddr::from((SERVER, PORT)),
                Duration::from_secs(5),
            )?;
            best = best.min(start.elapsed());
            drop(stream);
        }
        Ok(best)
    })
    .expect("connecting across the path");
    assert!(
        fastest >= 2 * ONE_WAY,
        "a connect took {fastest:?}, less than the round trip of {:?}",
        2 * ONE_WAY
    );
    assert_eq!(path.line().delay(), ONE_WAY);
}

#[test]
fn the_namespaces_are_deleted_on_drop_and_on_a_panic() {
    if !can_build("the_namespaces_are_deleted_on_drop_and_on_a_panic") {
        return;
    }
    let path = SimPath::build().expect("building the path");
    let names: Vec<String> = path.namespaces().map(String::from).to_vec();
    for name in &names {
        assert!(path::exists(name), "{name} was not made");
        assert!(name.starts_with(&format!("l3rep-{}-", std::process::id())));
    }
    drop(path);
    for name in &names {
        assert!(!path::exists(name), "{name} is left");
    }

    let (tx, rx) = mpsc::channel();
    let panicked = thread::spawn(move || {
        let path = SimPath::build().expect("building the path");
        tx.send(path.namespaces().map(String::from).to_vec())
            .unwrap();
        panic!("an experiment failed");
    })
    .join();
    assert!(panicked.is_err());
    for name in rx.recv().unwrap() {
        assert!(!path::exists(&name), "{name} is left after a panic");
    }
}

#[test]
fn namespaces_left_by_a_killed_report_are_deleted_by_the_next() {
    if !can_build("namespaces_left_by_a_killed_report_are_deleted_by_the_next") {
        return;
    }
    // A pid above pid_max: no process has it.
    let stale = "l3rep-4194305-0-srv";
    let ip = path::find_ip().unwrap();
    let made = std::process::Command::new(&ip)
        .args(["netns", "add", stale])
        .status()
        .unwrap();
    assert!(made.success() || path::exists(stale));
    let path = SimPath::build().expect("building the path");
    assert!(!path::exists(stale), "{stale} was not deleted");
    drop(path);
}
