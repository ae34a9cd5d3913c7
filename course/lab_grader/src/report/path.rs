//! The simulated path of Q9–Q21: the campus network between a student's
//! laptop and tcpip.epfl.ch, built from network namespaces of our own so
//! that the segment counts are the ones Wireshark shows there, not
//! loopback's (no round trip, a 64 KiB MSS).
//!
//! ```text
//!  server ns                middle ns                     client ns
//!  s0 ─── veth, MTU 1500 ── ms ┐               ┌ mc ── veth, MTU 1500 ── c0
//!  fd6c:3a00:0:1::1            └→ t0 (TUN) ────┘                fd6c:3a00:0:2::1
//!                                 delay line: each packet held ONE_WAY
//! ```
//!
//! The middle namespace forwards between the two veths, and a policy rule
//! sends whatever comes in from either into the TUN device `t0`, where the
//! [`DelayLine`] holds it and writes it back; the kernel then forwards it
//! out of the other veth. IPv6 throughout, as the handout's Part 2.
//!
//! Everything is made with `ip -n NS …` inside the namespaces themselves
//! (nothing is added to the machine's own), named `l3rep-<pid>-<n>-…` so
//! that parallel tests and other tools cannot collide with it, and deleted
//! when the [`SimPath`] is dropped, on an error or a panic as well.
//! Namespaces left by a report that was killed (its pid gone) are deleted
//! by the next one.

use super::delay_line::{self, DelayLine};
use std::fs::File;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The path's MTU: Ethernet's, as on the campus network.
pub const MTU: u32 = 1500;
/// The delay each packet spends in the delay line; the round trip is
/// twice this.
pub const ONE_WAY: Duration = Duration::from_millis(2);
/// The server's address (in the server namespace).
pub const SERVER: Ipv6Addr = Ipv6Addr::new(0xfd6c, 0x3a00, 0, 1, 0, 0, 0, 1);
/// The client's address (in the client namespace).
pub const CLIENT: Ipv6Addr = Ipv6Addr::new(0xfd6c, 0x3a00, 0, 2, 0, 0, 0, 1);
const SERVER_GW: Ipv6Addr = Ipv6Addr::new(0xfd6c, 0x3a00, 0, 1, 0, 0, 0, 0xfe);
const CLIENT_GW: Ipv6Addr = Ipv6Addr::new(0xfd6c, 0x3a00, 0, 2, 0, 0, 0, 0xfe);

/// The prefix of every namespace the report makes.
pub const PREFIX: &str = "l3rep-";
/// Where `ip netns` keeps the namespaces' names.
const NETNS_DIR: &str = "/var/run/netns";

/// Two namespaces joined through a delay line; deleted when dropped.
#[derive(Debug)]
pub struct SimPath {
    ip: PathBuf,
    pub server_ns: String,
    pub client_ns: String,
    middle_ns: String,
    /// The namespaces made so far, deleted in reverse order.
    made: Vec<String>,
    line: Option<DelayLine>,
}

/// The `ip` executable (iproute2), if installed.
pub fn find_ip() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join("ip"))
        .find(|p| p.is_file())
}

/// Whether this process runs as root (effective uid 0, from
/// `/proc/self/status`).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Why the path cannot be built here, checked before trying: not root, no
/// `ip`, no TUN device.
pub fn unavailable() -> Option<String> {
    if !is_root() {
        return Some("the report does not run as root, which network namespaces need".into());
    }
    if find_ip().is_none() {
        return Some("the `ip` command (iproute2) is not installed".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("this machine has no /dev/net/tun for the delay line".into());
    }
    None
}

/// The pid in a report namespace's name `l3rep-<pid>-<n>-<role>`.
pub fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

/// Deletes the namespaces left by reports that are no longer running.
fn delete_stale(ip: &Path) {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = owner_pid(&name)
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = run(ip, &["netns", "del", &name]);
        }
    }
}

/// Runs `ip ARGS`; its stderr in the error.
fn run(ip: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(ip)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run {}: {err}", ip.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `f` on a thread of its own that has entered namespace `ns`
/// (`setns(2)`): sockets and devices it creates belong to `ns`.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let file = File::open(Path::new(NETNS_DIR).join(ns))
        .map_err(|err| io::Error::new(err.kind(), format!("opening namespace {ns}: {err}")))?;
    std::thread::spawn(move || {
        // SAFETY: setns(2) on a descriptor of a namespace file that `file`
        // keeps open; it changes only this thread, which ends with `f`.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        f()
    })
    .join()
    .map_err(|_| io::Error::other("a thread in the namespace panicked"))?
}

impl SimPath {
    /// Builds the path, or says why it could not; whatever was made is
    /// deleted again on failure.
    pub fn build() -> Result<SimPath, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let ip = find_ip().ok_or("the `ip` command (iproute2) is not installed")?;
        delete_stale(&ip);
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut path = SimPath {
            ip,
            server_ns: format!("{base}-srv"),
            client_ns: format!("{base}-cli"),
            middle_ns: format!("{base}-mid"),
            made: Vec::new(),
            line: None,
        };
        path.set_up()?;
        Ok(path)
    }

    /// Runs `ip` with the words of `line` (none holds a space).
    fn ip(&self, line: &str) -> Result<(), String> {
        run(&self.ip, &line.split_whitespace().collect::<Vec<_>>())
    }

    fn set_up(&mut self) -> Result<(), String> {
        let (srv, mid, cli) = (
            self.server_ns.clone(),
            self.middle_ns.clone(),
            self.client_ns.clone(),
        );
        for ns in [&srv, &mid, &cli] {
            self.ip(&format!("netns add {ns}"))?;
            self.made.push(ns.clone());
        }
        self.ip(&format!(
            "-n {srv} link add s0 type veth peer name ms netns {mid}"
        ))?;
        self.ip(&format!(
            "-n {cli} link add c0 type veth peer name mc netns {mid}"
        ))?;
        for (ns, dev, addr) in [
            (&srv, "s0", SERVER),
            (&mid, "ms", SERVER_GW),
            (&mid, "mc", CLIENT_GW),
            (&cli, "c0", CLIENT),
        ] {
            self.ip(&format!("-n {ns} link set {dev} mtu {MTU} up"))?;
            // No duplicate address detection: the address is usable at once.
            self.ip(&format!("-n {ns} addr add {addr}/64 dev {dev} nodad"))?;
        }
        for ns in [&srv, &mid, &cli] {
            self.ip(&format!("-n {ns} link set lo up"))?;
        }
        self.ip(&format!("-n {srv} -6 route add default via {SERVER_GW}"))?;
        self.ip(&format!("-n {cli} -6 route add default via {CLIENT_GW}"))?;
        // The middle routes between its veths (a per-namespace setting).
        in_netns(&mid, || {
            std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1")
        })
        .map_err(|err| format!("enabling IPv6 forwarding in {mid}: {err}"))?;
        let tun = in_netns(&mid, || delay_line::open_tun("t0"))
            .map_err(|err| format!("creating the TUN device in {mid}: {err}"))?;
        self.ip(&format!("-n {mid} link set t0 mtu {MTU} up"))?;
        // What comes in from a veth goes to the delay line; what the delay
        // line writes back comes in from t0 and takes the main table.
        for dev in ["ms", "mc"] {
            self.ip(&format!("-n {mid} -6 rule add iif {dev} lookup 100"))?;
        }
        self.ip(&format!("-n {mid} -6 route add default dev t0 table 100"))?;
        self.line = Some(DelayLine::start(tun, ONE_WAY));
        Ok(())
    }

    /// The delay line, where the segments are counted.
    pub fn line(&self) -> &DelayLine {
        self.line.as_ref().expect("a built path has its delay line")
    }

    /// `ip netns exec NS`: the command line that runs a program in `ns`.
    pub fn exec_in(&self, ns: &str) -> (PathBuf, Vec<String>) {
        (
            self.ip.clone(),
            vec!["netns".into(), "exec".into(), ns.into()],
        )
    }

    /// The names of the namespaces (server, middle, client).
    pub fn namespaces(&self) -> [&str; 3] {
        [&self.server_ns, &self.middle_ns, &self.client_ns]
    }

    /// One line for the report: what the path is.
    pub fn describe(&self) -> String {
        format!(
            "two network namespaces, the server's and the client's, each joined by a veth pair \
             with a {MTU}-byte MTU to a middle namespace that routes between them through a \
             user-space delay line (a TUN device) holding every packet {} ms in each direction: \
             a round trip of {} ms, no loss, no rate limit; IPv6 ({SERVER} to {CLIENT})",
            ONE_WAY.as_millis(),
            (2 * ONE_WAY).as_millis()
        )
    }
}

impl Drop for SimPath {
    fn drop(&mut self) {
        // The delay line first: it holds the TUN device of the middle.
        self.line = None;
        for ns in self.made.drain(..).rev() {
            if let Err(why) = run(&self.ip, &["netns", "del", &ns]) {
                eprintln!("lab_grader: report: {why}");
            }
        }
    }
}

/// Whether namespace `name` exists.
pub fn exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_of_a_namespace_is_read_from_its_name() {
        assert_eq!(owner_pid("l3rep-4242-0-srv"), Some(4242));
        assert_eq!(owner_pid("l3rep-17-3-mid"), Some(17));
        assert_eq!(owner_pid("other-4242-0-srv"), None);
        assert_eq!(owner_pid("l3rep-x-0-srv"), None);
        assert_eq!(owner_pid("l3rep4242"), None);
    }

    #[test]
    fn the_root_check_reads_this_process() {
        // Whatever the user, the answer agrees with the uid of the files
        // this process creates.
        let dir = std::env::temp_dir().join(format!("l3rep-uid-{}", std::process::id()));
        std::fs::write(&dir, b"").unwrap();
        let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&dir).unwrap());
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(is_root(), uid == 0);
    }
}
