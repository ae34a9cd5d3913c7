//! A reply from another port than the one the request went to is ignored, even when it looks valid.

use crate::util::{Peer, parse_ack, run};
use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

#[test]
fn reply_from_another_port_is_ignored() {
    let forger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer = Peer::start(move |socket, request, client| {
        if request != b"RESET:20" {
            return;
        }
        // First a valid-looking answer from the wrong socket, then the real
        // one from the socket the request went to.
        forger.send_to(b"OFFSET=5", client).unwrap();
        thread::sleep(Duration::from_millis(100));
        socket.send_to(b"OFFSET:7", client).unwrap();
    });
    let out = run(&[
        "--host",
        "localhost",
        "--port",
        &peer.port(),
        "--timeout",
        "2",
    ]);
    out.expect_code(0);
    let ack = parse_ack(&out.lines()[0]);
    assert_eq!(ack.value, 7, "{out:#?}");
    assert_eq!(ack.from, peer.addr());
    assert_eq!(ack.attempts, 1);
}
