//! Where and as whom a command runs: the one module with `unsafe` code
//! for the child (the `pre_exec` hook, `getpwnam_r`).
//!
//! Each command gets:
//! - **an empty environment** but `PATH` (the fixed command path),
//!   `LANG=C` and, when the server has one, `TZ` (so that `date` speaks the
//!   server's zone): no `SSLKEYLOGFILE`, no secret of the server's
//!   environment reaches it;
//! - **an empty working folder**, made at start-up (`mkdtemp`-like, mode
//!   0555, so the unprivileged user can list it and write nothing);
//! - **resource limits** (`setrlimit`, inherited by whatever it starts):
//!   address space ([`Sandbox::memory`], 256 MiB by default), CPU seconds
//!   (the command time-out, rounded up, + 1), processes of its user (64),
//!   file size (1 MiB: it writes to a pipe, not files), open files (64), no
//!   core dump;
//! - **no new privileges** (`PR_SET_NO_NEW_PRIVS`): a set-user-ID program
//!   (`sudo`, `su`, `passwd`) runs without them;
//! - **an unprivileged user** when the server runs as root: `nobody` by
//!   default (`--run-as USER`), its group, and no supplementary groups,
//!   set in that order (`setgroups`, `setgid`, `setuid`; a `setuid` first
//!   would lose the right to change the groups). Commands run as root only
//!   with `--allow-root-commands`. A server started by another user runs
//!   its commands as that user (it cannot change user).
//!
//! The hook runs in the child between `fork` and `exec`, where only
//! async-signal-safe calls are allowed: it makes system calls on values
//! computed before the fork, and allocates nothing.

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The user commands run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
}

/// How every command is started.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// `PATH` in the child's environment.
    pub path_var: String,
    /// The empty working folder.
    pub workdir: PathBuf,
    /// `TZ` to pass on, if the server has one.
    pub tz: Option<std::ffi::OsString>,
    /// `None`: the server's own user (not root, or root allowed).
    pub run_as: Option<RunAs>,
    /// RLIMIT_AS, bytes.
    pub memory: u64,
    /// RLIMIT_CPU, seconds.
    pub cpu_seconds: u64,
}

/// RLIMIT_NPROC: processes of the command's user.
pub const MAX_PROCESSES: u64 = 64;
/// RLIMIT_FSIZE: bytes of any file the command writes.
pub const MAX_FILE_SIZE: u64 = 1 << 20;
/// RLIMIT_NOFILE: open descriptors.
pub const MAX_OPEN_FILES: u64 = 64;

impl Sandbox {
    /// CPU seconds for a command time-out: the time-out rounded up, + 1
    /// (the wall-clock time-out normally ends it first).
    pub fn cpu_for(timeout: Duration) -> u64 {
        timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0) + 1
    }

    /// A command for `program` under this sandbox, its `argv[0]` the
    /// `name` the request used (as a shell's `execvp` would give it, so
    /// that messages say `ls: …`, not `/usr/bin/ls: …`).
    pub fn command(&self, program: &Path, name: &str) -> Command {
        let mut command = Command::new(program);
        command
            .arg0(name)
            .env_clear()
            .env("PATH", &self.path_var)
            .env("LANG", "C")
            .current_dir(&self.workdir);
        if let Some(tz) = &self.tz {
            command.env("TZ", tz);
        }
        let limits = [
            (libc::RLIMIT_AS, self.memory),
            (libc::RLIMIT_CPU, self.cpu_seconds),
            (libc::RLIMIT_NPROC, MAX_PROCESSES),
            (libc::RLIMIT_FSIZE, MAX_FILE_SIZE),
            (libc::RLIMIT_NOFILE, MAX_OPEN_FILES),
            (libc::RLIMIT_CORE, 0),
        ];
        let ids = self.run_as.as_ref().map(|user| (user.uid, user.gid));
        let hook = move || -> io::Result<()> {
            for (resource, value) in limits {
                let limit = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                // SAFETY: setrlimit reads the struct we pass and nothing else.
                check(unsafe { libc::setrlimit(resource, &limit) })?;
            }
            // No privileges from set-user-ID programs: Linux's prctl; other
            // systems rely on the unprivileged user alone.
            // SAFETY: prctl with integer arguments only.
            #[cfg(target_os = "linux")]
            check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
            if let Some((uid, gid)) = ids {
                let groups = [gid];
                // SAFETY: one gid, read from a live array of length 1.
                check(unsafe { libc::setgroups(1, groups.as_ptr()) })?;
                // SAFETY: plain integer arguments.
                check(unsafe { libc::setgid(gid) })?;
                // SAFETY: plain integer argument.
                check(unsafe { libc::setuid(uid) })?;
            }
            Ok(())
        };
        // SAFETY: the hook runs between fork and exec; it makes only
        // async-signal-safe system calls on copied integers, and neither
        // allocates nor takes a lock.
        unsafe {
            command.pre_exec(hook);
        }
        command
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The effective user is root.
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// The user and primary group of `name`, from the password database.
pub fn lookup_user(name: &str) -> io::Result<RunAs> {
    let c_name = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a user name holds a NUL"))?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value (null pointers, zeros).
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to live memory of the stated size; the
    // strings the entry points to live in `buf`, which we do not read.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    if result.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no user {name} in the password database"),
        ));
    }
    Ok(RunAs {
        name: name.to_string(),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    })
}

/// Makes a fresh, empty working folder in the temporary folder, mode 0555.
pub fn make_workdir() -> io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let base = std::env::temp_dir();
    for _ in 0..16 {
        let mut random = [0u8; 8];
        getrandom_fill(&mut random);
        let name = format!(
            "secure_cmd-cwd-{}-{:016x}",
            std::process::id(),
            u64::from_ne_bytes(random)
        );
        let dir = base.join(name);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555))?;
                return Ok(dir);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no fresh name for the commands' working folder",
    ))
}

/// Random bytes for a folder's name (the time and the pid if the kernel
/// has none: the name need only be new, `create` refuses an existing one).
fn getrandom_fill(buf: &mut [u8]) {
    if getrandom::fill(buf).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        buf[..4].copy_from_slice(&nanos.to_ne_bytes());
    }
}
