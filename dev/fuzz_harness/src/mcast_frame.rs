//! The multicast datagram of Part 4 (`common::frame`): what the receiver
//! and the TV channel parse, and how the receiver shows it.

use common::frame::{Frame, ID_LEN, Id, TooShort};

/// Properties: a datagram parses unless it is shorter than the ID, and
/// re-encodes to itself; it is shown as one line that starts with the ID
/// in brackets and carries no control character but the tab (a peer can
/// neither add lines nor drive the terminal); the character count never
/// exceeds the shown line's bytes; an ID parses from a string only when it
/// is exactly six ASCII bytes.
pub fn mcast_frame(data: &[u8]) {
    match Frame::parse(data) {
        Err(TooShort(n)) => assert!(n == data.len() && n < ID_LEN, "{data:?}"),
        Ok(frame) => {
            assert_eq!(frame.to_wire(), data);
            let shown = frame.to_string();
            assert!(shown.starts_with(&format!("[{}] ", frame.id)), "{shown:?}");
            assert!(
                shown.chars().all(|c| c == '\t' || !c.is_control()),
                "a control character is shown raw: {shown:?}"
            );
            let line = frame.line();
            assert!(line.len() <= frame.text.len() && frame.text.len() - line.len() <= 2);
            assert!(frame.chars() <= line.len());
            let id = frame.id.to_string();
            assert!(
                id.chars().all(|c| c.is_ascii_graphic() || c == ' '),
                "{id:?}"
            );
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        match text.parse::<Id>() {
            Ok(id) => assert!(text.len() == ID_LEN && text.is_ascii() && id.0 == data),
            Err(err) => {
                assert!(text.len() != ID_LEN || !text.is_ascii(), "{text:?}");
                assert!(!err.to_string().contains('\n') || text.contains('\n'));
            }
        }
    }
}
