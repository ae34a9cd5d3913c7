//! The lab's question 6: with the defaults (server --bufsize 16, client
//! --bufsize 8), Code D's 41-byte message takes 3 recv() calls on the
//! server and 6 on the client, the handout's exact lines.

use crate::util::{HANDOUT_MESSAGE, listening, run};

#[test]
fn defaults_give_three_server_recvs_and_six_client_recvs() {
    let (server, addr) = listening("tcp-server --bind 127.0.0.1 --port 0 --once");
    // `localhost` is ::1 first, where nothing listens: the client must go on
    // to 127.0.0.1.
    let port = addr.port().to_string();
    let client = run(&["tcp-client", "--close", "--port", &port]);
    assert!(client.status.success(), "client: {client:?}");
    assert_eq!(client.stdout[0], format!("sending: {HANDOUT_MESSAGE}"));
    assert_eq!(
        client.stdout[1..],
        [
            "received: O Romeo,",
            "received:  Romeo! ",
            "received: wherefor",
            "received: e art th",
            "received: ou Romeo",
            "received: ?",
        ],
        "client: {client:?}"
    );
    assert_eq!(client.count("received: "), 6);

    let server = server.finish();
    assert!(server.status.success(), "server: {server:?}");
    assert_eq!(server.count("received: "), 3, "server: {server:?}");
    assert_eq!(
        server.stdout[..3],
        [
            "received: O Romeo, Romeo! ",
            "received: wherefore art th",
            "received: ou Romeo?",
        ]
    );
    assert_eq!(server.stdout.len(), 4, "server: {server:?}");
    assert!(
        server.stdout[3].starts_with("No more data from ('127.0.0.1', "),
        "server: {server:?}"
    );
}

#[test]
fn the_buffer_sizes_not_the_sender_decide_the_count() {
    let (server, addr) = listening("tcp-server --bind 127.0.0.1 --port 0 --once --bufsize 42");
    let port = addr.port().to_string();
    let client = run(&[
        "tcp-client",
        "--close",
        "--host",
        "127.0.0.1",
        "--bufsize",
        "1",
        "--port",
        &port,
    ]);
    assert!(client.status.success(), "client: {client:?}");
    assert_eq!(client.count("received: "), HANDOUT_MESSAGE.len());
    let server = server.finish();
    assert_eq!(server.stdout[0], format!("received: {HANDOUT_MESSAGE}"));
    assert_eq!(server.count("received: "), 1, "server: {server:?}");
}
