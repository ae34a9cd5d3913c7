//! `Command` parsing as a PMU server does it (`parse_request` on what has
//! arrived, `is_partial_request` to decide whether to keep reading).

use common::Command;
use common::command::MAX_INTERVAL;

/// Properties:
/// - a parsed request is the client's wire form of that command, followed
///   by white space only, and the wire form parses back to it;
/// - a request is never both complete and partial;
/// - a partial request can still be completed into a command (otherwise a
///   server would wait for its read time-out instead of answering
///   `Wrong command.` at once);
/// - every prefix of a command is partial or a command itself (otherwise a
///   command that arrives in pieces would be refused).
pub fn command(data: &[u8]) {
    let parsed = Command::parse_request(data);
    let partial = Command::is_partial_request(data);
    if let Ok(cmd) = &parsed {
        let text = std::str::from_utf8(data).expect("a command is UTF-8");
        let wire = cmd.to_wire();
        assert_eq!(wire, text.trim_end().as_bytes(), "{cmd:?} from {data:?}");
        assert_eq!(Command::parse_request(&wire).as_ref(), Ok(cmd));
        if let Command::Short { interval, .. } = cmd {
            assert!(*interval <= MAX_INTERVAL, "{cmd:?}");
        }
        assert!(!partial, "complete and partial: {data:?}");
        for k in 0..wire.len() {
            let prefix = &wire[..k];
            assert!(
                Command::is_partial_request(prefix) || Command::parse_request(prefix).is_ok(),
                "the prefix {:?} of {cmd} is neither partial nor a command",
                String::from_utf8_lossy(prefix)
            );
        }
    }
    if partial {
        let text = std::str::from_utf8(data).expect("a partial command is UTF-8");
        let completions = [
            "CMD_floodme".strip_prefix(text).map(str::to_string),
            "CMD_short:"
                .strip_prefix(text)
                .map(|rest| format!("{rest}0")),
            Some("0".to_string()),
        ];
        assert!(
            completions.into_iter().flatten().any(|rest| {
                let whole = format!("{text}{rest}");
                Command::parse_request(whole.as_bytes()).is_ok()
            }),
            "{text:?} is partial, but nothing completes it into a command"
        );
    }
}
