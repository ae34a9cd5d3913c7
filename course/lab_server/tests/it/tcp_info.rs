//! Every answered PMU connection is recorded with the kernel's count of the
//! data segments the server sent (`TCP_INFO`), for the lab's questions on
//! segmentation.

#![cfg(target_os = "linux")]

use lab_server::{Config, LabServer, Service};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn each_message_a_fifth_of_a_second_apart_is_a_segment_of_its_own() {
    let mut config = Config::ephemeral();
    config.udp_port = None;
    config.ws_port = None;
    config.messages = 3;
    let lab = LabServer::start(config).unwrap();
    let mut stream = TcpStream::connect(lab.tcp_addrs()[0]).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"CMD_short:0.2").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert_eq!(answer.len(), 3 * 18);
    drop(stream);
    // The server records the connection once the client has closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    let record = loop {
        if let Some(record) = lab.connections().pop() {
            break record;
        }
        assert!(Instant::now() < deadline, "no record within 5 s");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(record.service, Service::TcpPmu);
    assert_eq!(record.command, "CMD_short:0.2");
    let counts = record.counts.expect("TCP_INFO on Linux");
    // Nagle's algorithm never holds a message back: the previous one was
    // acknowledged long before.
    assert_eq!(counts.data_segs_out, 3);
    // The payload, and one for the FIN's place in the sequence space.
    assert_eq!(counts.bytes_acked, 54 + 1);
}
