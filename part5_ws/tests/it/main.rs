//! part5_ws's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod errors;
mod faults;
mod interop;
mod lab_server;
mod util;
