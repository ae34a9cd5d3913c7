//! A late reply to the previous run is not counted for the next one.

use crate::util::{Peer, parse_ack, run};
use std::net::SocketAddr;

#[test]
fn late_reply_to_previous_run_is_not_counted() {
    // Request 1 (run 1): dropped. Request 2 (run 1): answered with 1.
    // Request 3 (run 2's first): dropped, but run 1's address gets a late
    // answer 2, which a client that reused run 1's socket would take.
    // Request 4 (run 2): answered with 3.
    let mut run1_client: Option<SocketAddr> = None;
    let mut requests = 0;
    let peer = Peer::start(move |socket, _request, client| {
        requests += 1;
        let run1 = *run1_client.get_or_insert(client);
        let reply = match requests {
            1 => return,
            2 => (&b"OFFSET=1"[..], client),
            3 => (&b"OFFSET=2"[..], run1),
            _ => (&b"OFFSET=3"[..], client),
        };
        socket.send_to(reply.0, reply.1).unwrap();
    });
    let out = run(&[
        "--host",
        "localhost",
        "--port",
        &peer.port(),
        "--timeout",
        "0.3",
        "--runs",
        "2",
    ]);
    out.expect_code(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{out:#?}");
    let (run1, run2) = (parse_ack(&lines[0]), parse_ack(&lines[1]));
    assert_eq!((run1.value, run1.attempts), (1, 2), "{out:#?}");
    assert_eq!(
        (run2.value, run2.attempts),
        (3, 2),
        "run 1's late answer was taken for run 2: {out:#?}"
    );
    assert_eq!(
        lines[2],
        "runs: 2, attempts: 4, mean attempts per ack: 2.00, estimated loss probability: 0.500"
    );
}
