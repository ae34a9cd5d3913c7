//! What the kernel counted on a connection, read with `TCP_INFO`
//! (`man 7 tcp`): the lab's questions on how TCP cut the PMU's answer into
//! segments are answered from `tcpi_data_segs_out` on the server's socket,
//! without a packet capture.
//!
//! `TCP_INFO` with these counters is Linux's: on macOS and Windows the
//! server runs the same but records no counts, and `make report` says the
//! segment questions need Linux.

use common::Command;
use std::io;
use std::net::{SocketAddr, TcpStream};
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;

/// How many answered connections [`crate::LabServer::connections`] keeps:
/// a long-running server forgets the oldest.
pub const RECORDS_KEPT: usize = 1024;

/// Which service answered a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The TCP PMU (Part 2).
    TcpPmu,
    /// The WebSocket PMU (Part 5).
    WebSocketPmu,
}

/// One answered connection, recorded just before the server closed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub service: Service,
    /// The client's address (v4-mapped addresses unmapped).
    pub peer: SocketAddr,
    /// The command as the server understood it (`CMD_short:0`,
    /// `CMD_floodme`), or `wrong command`.
    pub command: String,
    /// The kernel's counters; `None` where `TCP_INFO` is not available.
    pub counts: Option<TcpCounts>,
}

/// The counters of `struct tcp_info` the lab's questions need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpCounts {
    /// `tcpi_data_segs_out`: segments sent that carried data,
    /// retransmissions included (RFC 4898's `tcpEStatsPerfDataSegsOut`).
    pub data_segs_out: u32,
    /// `tcpi_segs_out`: every segment sent, pure ACKs and FIN included.
    pub segs_out: u32,
    /// `tcpi_bytes_acked`: bytes of sequence space the peer acknowledged:
    /// the payload, plus one for the FIN once it is acknowledged.
    pub bytes_acked: u64,
    /// `tcpi_snd_mss`: the most payload one segment may carry (about 64 KiB
    /// on loopback, 1448 on Ethernet with TCP timestamps).
    pub snd_mss: u32,
}

/// The record of a connection about to close, after `request`.
pub fn record(
    service: Service,
    peer: SocketAddr,
    request: &[u8],
    stream: &TcpStream,
) -> ConnectionRecord {
    let command = match Command::parse_request(request) {
        Ok(command) => command.to_string(),
        Err(_) => "wrong command".to_string(),
    };
    ConnectionRecord {
        service,
        peer,
        command,
        counts: counts(stream).ok(),
    }
}

/// Reads `TCP_INFO` from a connected socket. Fails with `Unsupported` when
/// the kernel's `struct tcp_info` is too old to hold the counters (before
/// Linux 4.6).
#[cfg(target_os = "linux")]
pub fn counts(stream: &TcpStream) -> io::Result<TcpCounts> {
    // SAFETY: tcp_info is plain old data; all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the pointer and length describe `info`, which outlives the
    // call; the kernel writes at most `len` bytes and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let needed = std::mem::offset_of!(libc::tcp_info, tcpi_data_segs_out) + size_of::<u32>();
    if (len as usize) < needed {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this kernel's TCP_INFO has no tcpi_data_segs_out",
        ));
    }
    Ok(TcpCounts {
        data_segs_out: info.tcpi_data_segs_out,
        segs_out: info.tcpi_segs_out,
        bytes_acked: info.tcpi_bytes_acked,
        snd_mss: info.tcpi_snd_mss,
    })
}

/// Not on this system: the counters are Linux's `struct tcp_info`.
#[cfg(not(target_os = "linux"))]
pub fn counts(_stream: &TcpStream) -> io::Result<TcpCounts> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TCP_INFO segment counts are read on Linux only, not on this system",
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn counts_the_segments_that_carried_data() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let before = counts(&server).unwrap();
        assert_eq!(before.data_segs_out, 0);
        server.write_all(b"This is PMU data 0").unwrap();
        let mut buf = [0u8; 18];
        client.read_exact(&mut buf).unwrap();
        let after = counts(&server).unwrap();
        assert_eq!(after.data_segs_out, 1);
        assert!(after.snd_mss > 0);
        let record = record(
            Service::TcpPmu,
            "127.0.0.1:1".parse().unwrap(),
            b"CMD_short:0 ",
            &server,
        );
        assert_eq!(record.command, "CMD_short:0");
        assert_eq!(record.counts.map(|c| c.data_segs_out), Some(1));
    }
}
