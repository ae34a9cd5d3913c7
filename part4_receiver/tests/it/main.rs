//! part4_receiver's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod ipv6;
mod receiver;
mod tv_channel;
