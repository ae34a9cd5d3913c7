//! What the client prints: one line per acknowledged reset, and the summary
//! of `--runs`.
//!
//! - **Loss estimate** (the lab's question on how lossy the server is): if
//!   each attempt is dropped independently with probability p, the attempts
//!   a run needs are geometric with mean 1/(1-p), so with A attempts over N
//!   runs p is estimated as 1 - N/A. An attempt counts once, whichever
//!   families it was sent on: the loss is that of the family that answered.

use chrono::{DateTime, Local, SecondsFormat};
use common::Family;
use common::reset::Offset;
use std::fmt;
use std::net::SocketAddr;

/// The server's answer to one run: the offset, who sent it, when, and how
/// many attempts it took.
#[derive(Debug, Clone)]
pub struct Ack {
    pub offset: Offset,
    /// The server's address as a person writes it (never v4-mapped).
    pub from: SocketAddr,
    /// When the reply arrived.
    pub at: DateTime<Local>,
    /// Attempts sent in this run, the answered one included.
    pub attempts: u32,
}

impl fmt::Display for Ack {
    /// `OFFSET=<X> over IPv4|IPv6 from <addr> at <RFC 3339 local time> after
    /// <k> attempt(s)`, with `OFFSET=` whichever separator the server used.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} over {} from {} at {} after {} {}",
            self.offset,
            Family::of(&self.from),
            self.from,
            self.at.to_rfc3339_opts(SecondsFormat::Millis, false),
            self.attempts,
            if self.attempts == 1 {
                "attempt"
            } else {
                "attempts"
            }
        )
    }
}

/// Runs and attempts so far, for the loss estimate of `--runs`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub runs: u64,
    pub attempts: u64,
}

impl Summary {
    pub fn add(&mut self, ack: &Ack) {
        self.runs += 1;
        self.attempts += u64::from(ack.attempts);
    }

    /// Attempts per acknowledged run: 1/(1-p) for a loss probability p.
    pub fn mean_attempts(self) -> f64 {
        if self.runs == 0 {
            return 0.0;
        }
        self.attempts as f64 / self.runs as f64
    }

    /// p = 1 - runs/attempts: each attempt is lost independently with
    /// probability p, so the attempts a run needs are geometric with mean
    /// 1/(1-p).
    pub fn loss(self) -> f64 {
        if self.attempts == 0 {
            return 0.0;
        }
        1.0 - self.runs as f64 / self.attempts as f64
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "runs: {}, attempts: {}, mean attempts per ack: {:.2}, estimated loss probability: {:.3}",
            self.runs,
            self.attempts,
            self.mean_attempts(),
            self.loss()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use common::reset::OffsetSep;

    fn ack(from: &str, attempts: u32) -> Ack {
        Ack {
            offset: Offset {
                value: 7,
                sep: OffsetSep::Colon,
            },
            from: from.parse().unwrap(),
            at: Local.with_ymd_and_hms(2024, 3, 5, 14, 7, 9).unwrap(),
            attempts,
        }
    }

    #[test]
    fn ack_line() {
        let line = ack("127.0.0.1:5004", 1).to_string();
        let at = Local
            .with_ymd_and_hms(2024, 3, 5, 14, 7, 9)
            .unwrap()
            .to_rfc3339_opts(SecondsFormat::Millis, false);
        assert_eq!(
            line,
            format!("OFFSET=7 over IPv4 from 127.0.0.1:5004 at {at} after 1 attempt")
        );
        assert!(at.starts_with("2024-03-05T14:07:09.000"), "{at}");
        let line = ack("[::1]:5004", 3).to_string();
        assert!(line.starts_with("OFFSET=7 over IPv6 from [::1]:5004 at "));
        assert!(line.ends_with(" after 3 attempts"), "{line}");
    }

    #[test]
    fn summary_estimates_geometric_loss() {
        let mut summary = Summary::default();
        for attempts in [1, 3, 2, 2] {
            summary.add(&ack("127.0.0.1:5004", attempts));
        }
        assert_eq!(
            summary.to_string(),
            "runs: 4, attempts: 8, mean attempts per ack: 2.00, estimated loss probability: 0.500"
        );
        let lossless = Summary {
            runs: 3,
            attempts: 3,
        };
        assert_eq!(lossless.loss(), 0.0);
    }
}
