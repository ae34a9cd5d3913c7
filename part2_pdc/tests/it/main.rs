//! part2_pdc's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod errors;
mod faults;
mod floodme;
mod short;
mod util;
