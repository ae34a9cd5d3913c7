//! What two parts of the lab share, and only that.
//!
//! - [`addr`]: dual-stack address resolution (every A and AAAA record, the
//!   v4-mapped form for an IPv6 socket toward an IPv4-only host);
//! - [`command`]: the PMU `Command` codec (`CMD_short:<d>`, `CMD_floodme`);
//! - [`reset`]: the UDP `RESET:<n>` / `OFFSET=X` codec of Part 3;
//! - [`splitter`]: the streaming PMU splitter that re-cuts a TCP byte stream
//!   into `This is PMU data <i>` messages;
//! - [`output`]: how a PMU client prints and flushes what it receives;
//! - [`cli`]: the conventions every binary follows for arguments, errors and
//!   exit codes (SPEC.md, "Conventions for every binary").

pub mod addr;
pub mod cli;
pub mod command;
pub mod output;
pub mod reset;
pub mod splitter;

pub use addr::{Family, resolve};
pub use command::Command;
pub use reset::{Offset, Reset};
pub use splitter::PmuSplitter;
