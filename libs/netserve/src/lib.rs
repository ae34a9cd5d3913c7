//! The server side that the workspace's TCP servers share (`lab_server`,
//! `part6_pmu`, `secure_cmd`, `cbc_msg`); clients never link it.
//!
//! - [`accept`]: binding listeners and serving each connection on a thread
//!   of its own under a cap, with one read deadline per request;
//! - [`pmu`]: the PMU protocol's server side over any byte stream (used by
//!   `lab_server` and `part6_pmu`).

#![forbid(unsafe_code)]

pub mod accept;
pub mod pmu;
