//! The box a hand-in's program runs in.
//!
//! - A network namespace of its own ([`Netns`], `ip netns add
//!   l3grade-<pid>-<n>`) with only loopback up: nothing it sends leaves the
//!   machine, and the servers it meets are the ones the grader starts in
//!   the same namespace. The grader's own thread enters it with
//!   `setns(2)` ([`in_netns`]), so that the servers, the peers and the
//!   program all see the same loopback; the namespace is deleted when the
//!   [`Netns`] is dropped.
//! - A mount namespace of its own with a hosts file bind-mounted over
//!   `/etc/hosts` (what `ip netns exec` does with `/etc/netns/NAME/hosts`,
//!   without writing under `/etc`), where `tcpip.epfl.ch` and the lab's
//!   other names are 127.0.0.1 and ::1.
//! - An unprivileged user of its own (a uid from [`UID_BASE`], one per
//!   run, so that its process limit and the final sweep concern it alone),
//!   no supplementary groups, a temporary copy of the hand-in owned by that
//!   user as its working directory and home.
//! - Limits ([`Limits`]): CPU seconds, address space, processes, file size,
//!   open files, no core dumps; the wall clock is the grader's (every wait
//!   has a deadline), after which the program's process group is killed
//!   and every process of its uid with it ([`sweep_uid`]), so that nothing
//!   it started — a double fork or a `setsid` included — survives. If the
//!   grader itself dies, the program gets `SIGKILL` (`PR_SET_PDEATHSIG`),
//!   and the namespaces a killed grader left are deleted by the next run.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The first uid the boxes use; each run takes the next of [`UID_COUNT`].
pub const UID_BASE: u32 = 62_000;
const UID_COUNT: u32 = 2_000;
static NEXT_UID: AtomicU32 = AtomicU32::new(0);
static NEXT_NS: AtomicU32 = AtomicU32::new(0);

/// A fresh uid for one boxed run.
pub fn fresh_uid() -> u32 {
    UID_BASE + NEXT_UID.fetch_add(1, Ordering::SeqCst) % UID_COUNT
}

/// Whether this process may make namespaces and change users: root.
pub fn can_box() -> bool {
    // SAFETY: geteuid(2) cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("ip")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A named network namespace with loopback up; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("grader: running ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "grader: ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    /// `l3grade-<pid>-<n>`, with `lo` up (127.0.0.1 and ::1).
    pub fn new() -> Result<Netns, String> {
        let n = NEXT_NS.fetch_add(1, Ordering::SeqCst);
        let name = format!("l3grade-{}-{n}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Runs `ip -n NAME ARGS…`.
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip(&all)
    }

    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Moves the calling thread into the namespace (threads and children it
    /// starts afterwards are born there).
    pub fn enter(&self) -> Result<(), String> {
        let file = std::fs::File::open(self.path())
            .map_err(|e| format!("grader: opening {}: {e}", self.path().display()))?;
        use std::os::fd::AsRawFd;
        // SAFETY: setns(2) on a descriptor we own; it changes only the
        // calling thread's network namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "grader: entering {}: {}",
                self.name,
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Deletes the namespaces a killed grader left behind (`l3grade-<pid>-*`
/// whose process is gone).
pub fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("l3grade-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// Runs `f` on a thread of its own inside `ns` (`None`: in the grader's
/// own namespace, for a grading without root).
pub fn in_netns<T: Send>(ns: Option<&Netns>, f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("netns".into())
            .spawn_scoped(scope, || {
                if let Some(ns) = ns {
                    ns.enter()?;
                }
                Ok(f())
            })
            .map_err(|e| format!("grader: no thread: {e}"))?;
        handle
            .join()
            .unwrap_or_else(|_| Err("grader bug: a test panicked".to_string()))
    })
}

/// The hosts file of the box: the lab's names on loopback.
pub const HOSTS: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
127.0.0.1\ttcpip.epfl.ch tcpip\n\
::1\ttcpip.epfl.ch tcpip\n";

/// The box's resource limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub cpu_secs: u64,
    pub address_space: u64,
    pub processes: u64,
    pub file_size: u64,
    pub open_files: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            cpu_secs: 30,
            address_space: 2 << 30,
            processes: 64,
            file_size: 16 << 20,
            open_files: 256,
        }
    }
}

/// How one program is boxed.
#[derive(Debug, Clone)]
pub struct BoxSpec {
    /// The user it runs as (`None`: the grader's, without root).
    pub uid: Option<u32>,
    /// Its working directory (a copy of the hand-in).
    pub dir: PathBuf,
    /// A hosts file to bind-mount over `/etc/hosts` (needs root).
    pub hosts: Option<PathBuf>,
    pub limits: Limits,
}

/// The command for `argv` in the box: environment cleared but for a plain
/// `PATH`, `HOME` and `TMPDIR` in the copy, `PYTHONUNBUFFERED=1` (a
/// program killed at the end of its window still shows what it printed,
/// as on a terminal), its own process group.
pub fn command(argv: &[String], spec: &BoxSpec) -> Result<Command, String> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(&spec.dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &spec.dir)
        .env("TMPDIR", &spec.dir)
        .env("LANG", "C.UTF-8")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .process_group(0);
    let hosts = match &spec.hosts {
        Some(p) => Some(
            CString::new(p.as_os_str().as_bytes()).map_err(|_| "grader: hosts path".to_string())?,
        ),
        None => None,
    };
    let uid = spec.uid;
    let limits = spec.limits;
    // SAFETY: the closure runs in the forked child before exec and calls
    // only async-signal-safe system calls on data prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(hosts) = &hosts {
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let root = c"/";
                if libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                let target = c"/etc/hosts";
                if libc::mount(
                    hosts.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let set = |what, n: u64| {
                let lim = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(what, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            set(libc::RLIMIT_CPU, limits.cpu_secs)?;
            set(libc::RLIMIT_AS, limits.address_space)?;
            set(libc::RLIMIT_FSIZE, limits.file_size)?;
            set(libc::RLIMIT_NOFILE, limits.open_files)?;
            set(libc::RLIMIT_CORE, 0)?;
            if let Some(uid) = uid {
                set(libc::RLIMIT_NPROC, limits.processes)?;
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(uid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // Killed if the grader dies first (a Ctrl-C): set after the
            // change of user, which clears it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    Ok(cmd)
}

/// Kills every process of `uid` (what a boxed program left behind, however
/// it detached): a child that becomes `uid` and sends `kill(-1, SIGKILL)`,
/// which reaches every process of that user but itself.
pub fn sweep_uid(uid: u32) {
    let mut cmd = Command::new("/bin/true");
    // SAFETY: only async-signal-safe calls in the forked child; `_exit`
    // ends it before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgid(uid) == 0 && libc::setuid(uid) == 0 {
                libc::kill(-1, libc::SIGKILL);
            }
            libc::_exit(0);
        });
    }
    if let Ok(mut child) = cmd.spawn() {
        let _ = child.wait();
    }
}

/// Copies the hand-in folder `from` to `to` (regular files and folders;
/// links and others are left out), owned by `uid` when given; the other
/// boxes' users cannot look in.
pub fn copy_tree(from: &Path, to: &Path, uid: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to)?;
    chown(to, uid)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest, uid)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &dest).map_err(|e| {
                std::io::Error::new(e.kind(), format!("{}: {e}", entry.path().display()))
            })?;
            chown(&dest, uid)?;
        }
    }
    Ok(())
}

fn chown(path: &Path, uid: Option<u32>) -> std::io::Result<()> {
    match uid {
        Some(uid) => std::os::unix::fs::chown(path, Some(uid), Some(uid)),
        None => Ok(()),
    }
}
