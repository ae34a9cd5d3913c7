//! A host without IPv6, for the fault tests: a private network namespace
//! (`unshare(CLONE_NEWNET)`) with only its loopback up and IPv6 disabled.
//!
//! The namespace belongs to one thread: `unshare(2)` with `CLONE_NEWNET`
//! moves only the calling thread, and the sockets, threads and child
//! processes that thread then makes live in the namespace too. So a test
//! starts its server (in-process, or a binary) and runs the client under
//! test inside [`without_ipv6`], and nothing else of the test process is
//! affected. Where namespaces cannot be made (no `CAP_SYS_ADMIN`, no `ip`
//! command), it says so and returns `None`: the caller skips. Network
//! namespaces are Linux's: on macOS and Windows it always skips.

#[cfg(target_os = "linux")]
use std::process::Command;

/// Loopback up, IPv6 off, run by a child of the namespaced thread.
#[cfg(target_os = "linux")]
const SETUP: &str = "ip link set lo up && \
     echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && \
     echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6";

/// Runs `f` on a thread of its own in a fresh network namespace where only
/// `127.0.0.1` works; `None` (with a note on stderr) where no namespace
/// can be made.
#[cfg(target_os = "linux")]
pub fn without_ipv6<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let thread = std::thread::spawn(move || {
        // SAFETY: unshare takes a flag word and touches no memory of ours.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!("unshare: {}", std::io::Error::last_os_error()));
        }
        let setup = Command::new("sh")
            .args(["-c", SETUP])
            .output()
            .map_err(|err| format!("sh: {err}"))?;
        if !setup.status.success() {
            return Err(String::from_utf8_lossy(&setup.stderr).into_owned());
        }
        Ok(f())
    });
    match thread.join() {
        Ok(Ok(value)) => Some(value),
        Ok(Err(why)) => {
            eprintln!("skipped: cannot make a network namespace without IPv6 here ({why})");
            None
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Not on this system: network namespaces are Linux only, so the caller
/// skips.
#[cfg(not(target_os = "linux"))]
pub fn without_ipv6<T: Send + 'static>(_f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    eprintln!("skipped: network namespaces are Linux only, not on this system");
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn only_ipv4_loopback_works_inside() {
        let Some((v4, v6)) = without_ipv6(|| {
            (
                std::net::TcpListener::bind("127.0.0.1:0").is_ok(),
                std::net::TcpListener::bind("[::1]:0").is_ok(),
            )
        }) else {
            return;
        };
        assert!(v4 && !v6, "v4 {v4}, v6 {v6}");
        // Outside, this thread's namespace is untouched.
        assert!(std::net::TcpListener::bind("[::1]:0").is_ok());
    }
}
