//! The UDP reset codec of Part 3: `RESET:<n>` (what lab_server's reset
//! service parses) and `OFFSET=X` / `OFFSET:X` (what part3_reset parses).

use common::reset::{Offset, OffsetSep, Reset};

/// Properties: whatever parses re-encodes to something that parses to the
/// same value; a parsed reply keeps the separator it came with; the offset
/// a server may send for a parsed request is an answer to it.
pub fn reset(data: &[u8]) {
    if let Some(offset) = Offset::parse(data) {
        assert_eq!(Offset::parse(&offset.to_wire()), Some(offset), "{data:?}");
        let shown = offset.to_string();
        assert_eq!(
            Offset::parse(shown.as_bytes()),
            Some(Offset {
                value: offset.value,
                sep: OffsetSep::Equals
            })
        );
        let sep = if offset.sep == OffsetSep::Equals {
            b'='
        } else {
            b':'
        };
        assert_eq!(data.get(6), Some(&sep), "{data:?}");
    }
    if let Some(reset) = Reset::parse(data) {
        assert_eq!(Reset::parse(&reset.to_wire()), Some(reset), "{data:?}");
        for value in [0, reset.0 / 2, reset.0] {
            let offset = Offset {
                value,
                sep: OffsetSep::Colon,
            };
            assert!(offset.answers(reset));
        }
        if let Some(next) = reset.0.checked_add(1) {
            let too_big = Offset {
                value: next,
                sep: OffsetSep::Equals,
            };
            assert!(!too_big.answers(reset));
        }
    }
}
