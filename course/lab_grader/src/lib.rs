//! `lab_grader`: runs a group's executables against an in-process
//! `lab_server` on loopback, like the course's grader but stricter, and
//! scores them; and measures the answers to the lab's questions for
//! `REPORT.md` ([`report`]).
//!
//! Each part is a module of cases ([`grade::Case`]): a name, the
//! executables it needs, a time limit and a check. The executables are
//! found by [`bins::Executables`] under their built names or their
//! submission names, run by [`proc`] with a deadline on every wait, and
//! talk to `lab_server` or to purpose-built [`peers`] that cut streams,
//! drop requests and forge replies. Nothing leaves the machine: every
//! address is 127.0.0.1 or ::1, every multicast datagram goes through the
//! loopback interface with TTL 0.
//!
//! The executables are called as docs/SPEC.md's command lines say (`--host`,
//! `--port`, `--url`, `--interface`, `serve --listen` …).

pub mod bins;
pub mod checks;
pub mod grade;
pub mod part1;
pub mod part2;
pub mod part3;
pub mod part4;
pub mod part5;
pub mod part6;
pub mod peers;
pub mod proc;
pub mod report;

/// What the cases are built from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Seeds the random cuts of Part 2's streams.
    pub seed: u64,
}

/// Every case of every part, in the lab's order.
pub fn all_cases(settings: &Settings) -> Vec<grade::Case> {
    let mut cases = part1::cases();
    cases.extend(part2::cases(settings));
    cases.extend(part3::cases());
    cases.extend(part4::cases());
    cases.extend(part5::cases());
    cases.extend(part6::cases());
    cases
}
