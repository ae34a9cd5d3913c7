//! What a user can get wrong: one error line on stderr, exit 2 for the
//! command line, 1 for the rest; a bad key file says to run keygen.

use crate::util::{Scratch, cbc_msg};
use std::net::TcpListener;

/// Runs the client and the server (port 0 on loopback) with `key`.
fn both_with_key(key: &str) -> [crate::util::Run; 2] {
    [
        cbc_msg(
            &[
                "client",
                "127.0.0.1",
                "9",
                "--key-file",
                key,
                "--message",
                "x",
            ],
            b"",
        ),
        cbc_msg(
            &["server", "0", "--bind", "127.0.0.1", "--key-file", key],
            b"",
        ),
    ]
}

#[test]
fn a_missing_key_file() {
    let dir = Scratch::new();
    let path = dir.path("missing.key");
    for run in both_with_key(path.to_str().unwrap()) {
        run.assert_error(
            1,
            &[
                "missing.key",
                "No such file or directory",
                "cbc_msg keygen --out",
            ],
        );
    }
}

#[test]
fn key_files_that_are_not_keys() {
    let dir = Scratch::new();
    for (name, contents, why) in [
        (
            "empty",
            &b""[..],
            "it holds 0 characters, not the 128 hex digits",
        ),
        ("short", b"0123abcd\n", "it holds 8 characters"),
        ("long", &[b'a'; 130][..], "it holds 130 characters"),
        (
            "nothex",
            &[b'g'; 128][..],
            "character 1 ('g') is not a hex digit",
        ),
        ("binary", b"\xff\xfe\x00", "it is not text"),
    ] {
        let path = dir.path(name);
        std::fs::write(&path, contents).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        for run in both_with_key(path.to_str().unwrap()) {
            run.assert_error(1, &[name, "is not a key", why, "cbc_msg keygen"]);
        }
    }
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new();
    let (key, _) = dir.key_file("open.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The warning, then the run goes on (to a port where nobody listens).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = cbc_msg(
        &[
            "client",
            "127.0.0.1",
            &port.to_string(),
            "--key-file",
            key.to_str().unwrap(),
            "--message",
            "x",
        ],
        b"",
    );
    assert!(
        run.stderr.starts_with("cbc_msg: warning: key file '") && run.stderr.contains("mode 0644"),
        "{run:?}"
    );
    run.assert_error(1, &["Connection refused"]);
}

#[test]
fn a_refused_connection_exits_1() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = cbc_msg(
        &[
            "client",
            "localhost",
            &port.to_string(),
            "--key-file",
            key.to_str().unwrap(),
            "--message",
            "x",
        ],
        b"",
    );
    run.assert_error(
        1,
        &[
            "connecting to localhost port",
            "[::1]:",
            "127.0.0.1:",
            "Connection refused",
        ],
    );
}

#[test]
fn a_message_over_the_cap_exits_2_before_connecting() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    // Nobody listens: the size is checked first, so the error is the size.
    let mut line = vec![b'x'; cbc_msg::frame::MAX_TEXT + 1];
    line.push(b'\n');
    let run = cbc_msg(
        &[
            "client",
            "127.0.0.1",
            "9",
            "--key-file",
            key.to_str().unwrap(),
        ],
        &line,
    );
    run.assert_error(2, &["longer than the 1048527 bytes one message holds"]);
    // Through --message (under the kernel's 128 KiB limit on one argument,
    // so the library's check is what is tested here).
    let err = cbc_msg::client::send(
        &cbc_msg::client::Options {
            host: "127.0.0.1".into(),
            port: 9,
            timeout: std::time::Duration::from_secs(1),
        },
        &cbc_msg::Keys::generate().unwrap(),
        &"y".repeat(cbc_msg::frame::MAX_TEXT + 1),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}")
            .contains("the message is 1048528 bytes; one message holds at most 1048527"),
        "{err:#}"
    );
    assert!(err.chain().any(|c| c.is::<common::cli::UsageError>()));
}

#[test]
fn no_line_on_stdin_exits_2() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let run = cbc_msg(
        &[
            "client",
            "127.0.0.1",
            "9",
            "--key-file",
            key.to_str().unwrap(),
        ],
        b"",
    );
    run.assert_error(2, &["no message", "--message"]);
}

#[test]
fn command_line_mistakes_exit_2() {
    for args in [
        &[][..],
        &["client", "127.0.0.1", "5000"],
        &["client", "127.0.0.1", "0", "--key-file", "k"],
        &["server", "5000"],
        &["server", "70000", "--key-file", "k"],
        &["server", "5000", "--key-file", "k", "--bind", "localhost"],
        &["server", "5000", "--key-file", "k", "--timeout", "-1"],
        &[
            "server",
            "5000",
            "--key-file",
            "k",
            "--max-connections",
            "0",
        ],
        &["encrypt"],
    ] {
        let run = cbc_msg(args, b"");
        assert_eq!(run.status.code(), Some(2), "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
    }
}

#[test]
fn help_and_version() {
    let run = cbc_msg(&["--help"], b"");
    assert!(run.status.success());
    for word in ["keygen", "server", "client"] {
        assert!(run.stdout.contains(word), "{run:?}");
    }
    let run = cbc_msg(&["--version"], b"");
    assert!(run.status.success());
    assert!(run.stdout.starts_with("cbc_msg "), "{run:?}");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let run = cbc_msg(
        &[
            "server",
            &port,
            "--bind",
            "127.0.0.1",
            "--key-file",
            key.to_str().unwrap(),
        ],
        b"",
    );
    run.assert_error(
        1,
        &[
            "listening on 127.0.0.1:",
            "Address already in use",
            "pick another PORT",
        ],
    );
}
