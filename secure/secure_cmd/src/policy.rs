//! Which commands run, found where, and with which arguments.
//!
//! - **Programs are resolved once, at start-up**, on a fixed PATH
//!   ([`COMMAND_PATH`], or `--command-path`, absolute folders only), never
//!   on the server's inherited `PATH`: a relative entry (`bin:…`) or a
//!   folder someone can write to, put first, cannot swap `whoami` for their
//!   own program between two requests. Each path is canonicalised
//!   (symbolic links followed) and logged; the request's name only selects
//!   one of these paths.
//! - **Each default command has an argument policy** ([`ArgPolicy`]):
//!   - `date`: one `+FORMAT`, and the flags that only change how the time
//!     is printed: `-u`/`--utc`/`--universal`, `-R`/`--rfc-email`,
//!     `-I[FMT]`/`--iso-8601[=FMT]`, `--rfc-3339=FMT`, and `-d STRING` /
//!     `--date=STRING` (the time to print: date parses the string itself
//!     and reads no file, except the zone file a `TZ="…"` rule inside the
//!     string names, so a string holding `TZ=` is refused). Refused: `-f`/
//!     `--file` (prints each line of any file it can read as an error),
//!     `-r`/`--reference` (a file's time), `-s`/`--set` and an operand
//!     without `+` (set the clock), `--` and anything else. Options are
//!     matched whole: GNU getopt takes `--fi` for `--file` and `-uf` for
//!     `-u -f`, so a refusal list would miss them; this is an allow-list.
//!   - `uname`: its flags (`-a`, `-snrvmpio` in any combination, their
//!     long forms): it prints and changes nothing.
//!   - `echo`, `ls`, `df`: any arguments. `echo` prints its words; `ls`
//!     and `df` report on paths, read no file's contents and write
//!     nothing; the unprivileged user they run as (below) bounds what
//!     they can see.
//!   - `hostname`, `whoami`, `uptime`, `pwd`: no arguments (`hostname
//!     NAME` and `hostname -F FILE` rename the machine as root).
//!   - A command added with `--allow`: any arguments; whoever adds it
//!     answers for it.
//! - **A program that runs other programs** ([`runs_others`]: shells,
//!   interpreters, `env`, `xargs`, `find`, `tar`, `git`, `nice`,
//!   `timeout`, `sudo`, `ssh`, …) would turn the allow-list into "any
//!   command": `--allow` refuses it unless `--allow-risky-commands` says
//!   the operator accepts that. The name is checked, and so is the
//!   program it resolves to (`sh` is `dash`, `vi` may be `busybox`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where commands are looked up, whatever the server's `PATH` says.
pub const COMMAND_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Commands allowed without `--allow`: they report on the machine, and
/// with their argument policies change nothing even as root.
pub const DEFAULT_ALLOWED: [&str; 9] = [
    "date", "uptime", "whoami", "hostname", "uname", "echo", "ls", "pwd", "df",
];

/// What a command's arguments may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgPolicy {
    /// None at all.
    None,
    /// `date`'s printing flags and one `+FORMAT` (module docs).
    Date,
    /// `uname`'s flags.
    Uname,
    /// Any words.
    Any,
}

impl ArgPolicy {
    /// The policy of a default command; `--allow`ed ones get [`ArgPolicy::Any`].
    pub fn of(name: &str) -> ArgPolicy {
        match name {
            "date" => ArgPolicy::Date,
            "uname" => ArgPolicy::Uname,
            "echo" | "ls" | "df" => ArgPolicy::Any,
            _ if DEFAULT_ALLOWED.contains(&name) => ArgPolicy::None,
            _ => ArgPolicy::Any,
        }
    }

    /// `Err(reason)` when `args` break the policy; the reason quotes the
    /// first offending argument, cut and escaped.
    pub fn check(self, program: &str, args: &[String]) -> Result<(), String> {
        match self {
            ArgPolicy::Any => Ok(()),
            ArgPolicy::None => match args.first() {
                None => Ok(()),
                Some(arg) => Err(format!(
                    "{program} takes no arguments here (got {})",
                    crate::log::quote(arg)
                )),
            },
            ArgPolicy::Uname => match args.iter().find(|a| !uname_flag(a)) {
                None => Ok(()),
                Some(arg) => Err(format!(
                    "uname takes only its flags here (-a, -snrvmpio, --all, --kernel-name, …), \
                     not {}",
                    crate::log::quote(arg)
                )),
            },
            ArgPolicy::Date => check_date(args),
        }
    }
}

fn uname_flag(arg: &str) -> bool {
    const LONG: [&str; 11] = [
        "--all",
        "--kernel-name",
        "--nodename",
        "--kernel-release",
        "--kernel-version",
        "--machine",
        "--processor",
        "--hardware-platform",
        "--operating-system",
        "--help",
        "--version",
    ];
    match arg.strip_prefix('-') {
        Some(flags) if !flags.is_empty() && !flags.starts_with('-') => {
            flags.chars().all(|c| "asnrvmpio".contains(c))
        }
        _ => LONG.contains(&arg),
    }
}

/// `date`'s allow-list (module docs).
fn check_date(args: &[String]) -> Result<(), String> {
    const FLAGS: [&str; 9] = [
        "-u",
        "--utc",
        "--universal",
        "-R",
        "--rfc-email",
        "-I",
        "--iso-8601",
        "--help",
        "--version",
    ];
    const ISO: [&str; 5] = ["date", "hours", "minutes", "seconds", "ns"];
    const RFC3339: [&str; 3] = ["date", "seconds", "ns"];
    let refuse = |arg: &str, why: &str| {
        Err(format!(
            "date {} is refused: {why}; allowed: +FORMAT, -u, -R, -I[FMT], --iso-8601[=FMT], \
             --rfc-3339=FMT, -d STRING",
            crate::log::quote(arg)
        ))
    };
    let date_string = |value: &str, arg: &str| {
        if value.to_ascii_lowercase().contains("tz=") {
            refuse(arg, "a TZ=\"…\" rule in the date string names a file")
        } else {
            Ok(())
        }
    };
    let mut formats = 0;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        if FLAGS.contains(&arg) {
            continue;
        }
        if let Some(format) = arg.strip_prefix('+') {
            formats += 1;
            if formats > 1 {
                return refuse(arg, "one +FORMAT at most");
            }
            let _ = format;
            continue;
        }
        if let Some(fmt) = arg
            .strip_prefix("--iso-8601=")
            .or_else(|| arg.strip_prefix("-I"))
        {
            if ISO.contains(&fmt) {
                continue;
            }
            return refuse(
                arg,
                "not an ISO 8601 precision (date, hours, minutes, seconds, ns)",
            );
        }
        if let Some(fmt) = arg.strip_prefix("--rfc-3339=") {
            if RFC3339.contains(&fmt) {
                continue;
            }
            return refuse(arg, "not an RFC 3339 precision (date, seconds, ns)");
        }
        if arg == "-d" || arg == "--date" {
            match args.get(i) {
                Some(value) => {
                    i += 1;
                    date_string(value, value)?;
                    continue;
                }
                None => return refuse(arg, "it needs a date string"),
            }
        }
        if let Some(value) = arg
            .strip_prefix("--date=")
            .or_else(|| arg.strip_prefix("-d"))
        {
            date_string(value, arg)?;
            continue;
        }
        let why = match arg {
            "-f" | "--file" => "it prints the lines of any file the command can read",
            "-r" | "--reference" => "it reads a file's time",
            "-s" | "--set" => "it sets the clock",
            _ if arg.starts_with("--f") => "it prints the lines of any file the command can read",
            _ if arg.starts_with("--r") => "it reads a file's time",
            _ if arg.starts_with("--s") => "it sets the clock",
            _ if !arg.starts_with('-') => "an operand without + sets the clock",
            _ => "not a flag that only changes how the time is printed",
        };
        return refuse(arg, why);
    }
    Ok(())
}

/// Programs that run other programs, by name (a version suffix such as
/// `python3.12` or `perl5.38` is ignored): allowing one allows any
/// command.
pub const RUNS_OTHERS: &[&str] = &[
    // Shells.
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "mksh",
    "csh",
    "tcsh",
    "fish",
    "ash",
    "busybox",
    "toybox",
    // Interpreters.
    "python",
    "perl",
    "ruby",
    "node",
    "nodejs",
    "php",
    "lua",
    "luajit",
    "tclsh",
    "wish",
    "expect",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "sed",
    "jq",
    "bc",
    "dc",
    "gdb",
    "lldb",
    "strace",
    "ltrace",
    // Runners and wrappers.
    "env",
    "xargs",
    "find",
    "tar",
    "git",
    "nice",
    "ionice",
    "nohup",
    "timeout",
    "setsid",
    "stdbuf",
    "chroot",
    "unshare",
    "nsenter",
    "taskset",
    "chrt",
    "flock",
    "watch",
    "script",
    "time",
    "parallel",
    "make",
    "run-parts",
    "start-stop-daemon",
    "systemd-run",
    "su",
    "sudo",
    "doas",
    "runuser",
    "pkexec",
    "setpriv",
    "ssh",
    "scp",
    "sftp",
    "rsync",
    "socat",
    "nc",
    "ncat",
    "netcat",
    "vi",
    "vim",
    "nvim",
    "view",
    "ex",
    "ed",
    "emacs",
    "nano",
    "less",
    "more",
    "man",
    "crontab",
    "at",
    "docker",
    "podman",
    "zip",
    "unzip",
    "rpm",
    "dpkg",
    "apt",
    "apt-get",
    "pip",
    "cargo",
    "rustc",
    "gcc",
    "cc",
    "ld",
    "install",
    "openssl",
    "curl",
    "wget",
];

/// Whether `name` (a command name or a program's file name) is in
/// [`RUNS_OTHERS`], version suffixes ignored.
pub fn runs_others(name: &str) -> bool {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    RUNS_OTHERS.contains(&name) || (!base.is_empty() && RUNS_OTHERS.contains(&base))
}

/// One allowed command, its program found.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The canonical path of the program run.
    pub path: PathBuf,
    pub policy: ArgPolicy,
}

/// The allow-list, each name with its program and its policy.
#[derive(Debug, Clone, Default)]
pub struct AllowList(pub BTreeMap<String, Resolved>);

/// Why the allow-list cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowError {
    /// `--command-path` holds a relative or empty entry.
    RelativePath(String),
    /// An `--allow`ed name is not on the command path.
    NotFound { name: String, path: String },
    /// An `--allow`ed program runs others, and the risk is not accepted.
    RunsOthers { name: String, program: PathBuf },
}

impl fmt::Display for AllowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowError::RelativePath(entry) => write!(
                f,
                "--command-path entry '{}' is not an absolute folder: give folders such as \
                 /usr/bin, separated by ':'",
                entry.escape_debug()
            ),
            AllowError::NotFound { name, path } => write!(
                f,
                "--allow {name}: no executable {name} in {path}; install it, or give its \
                 folder with --command-path"
            ),
            AllowError::RunsOthers { name, program } => write!(
                f,
                "--allow {name}: {} can run other programs, so allowing it allows any command; \
                 leave it out, or add --allow-risky-commands to accept that risk",
                program.display()
            ),
        }
    }
}

impl std::error::Error for AllowError {}

impl AllowList {
    /// Resolves the default commands (a missing one is left out, and
    /// returned in the second list) and `extra` on `command_path` (a
    /// missing or, without `allow_risky`, risky one is an error).
    pub fn build(
        extra: &[String],
        command_path: &str,
        allow_risky: bool,
    ) -> Result<(AllowList, Vec<String>), AllowError> {
        let dirs = folders(command_path)?;
        let mut list = BTreeMap::new();
        let mut missing = Vec::new();
        for name in DEFAULT_ALLOWED {
            match find(name, &dirs) {
                Some(path) => {
                    let policy = ArgPolicy::of(name);
                    list.insert(name.to_string(), Resolved { path, policy });
                }
                None => missing.push(name.to_string()),
            }
        }
        for name in extra {
            if list.contains_key(name) {
                continue;
            }
            let path = find(name, &dirs).ok_or_else(|| AllowError::NotFound {
                name: name.clone(),
                path: command_path.to_string(),
            })?;
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !allow_risky && (runs_others(name) || runs_others(&file_name)) {
                return Err(AllowError::RunsOthers {
                    name: name.clone(),
                    program: path,
                });
            }
            let policy = ArgPolicy::Any;
            list.insert(name.clone(), Resolved { path, policy });
        }
        Ok((AllowList(list), missing))
    }

    pub fn get(&self, name: &str) -> Option<&Resolved> {
        self.0.get(name)
    }

    /// `date, echo, …`.
    pub fn names(&self) -> String {
        self.0
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn folders(command_path: &str) -> Result<Vec<PathBuf>, AllowError> {
    command_path
        .split(':')
        .map(|entry| {
            let dir = Path::new(entry);
            if dir.is_absolute() {
                Ok(dir.to_path_buf())
            } else {
                Err(AllowError::RelativePath(entry.to_string()))
            }
        })
        .collect()
}

/// The first executable regular file `name` in `dirs`, canonicalised.
fn find(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().find_map(|dir| {
        let path = dir.join(name).canonicalize().ok()?;
        let meta = std::fs::metadata(&path).ok()?;
        (meta.is_file() && executable(&meta)).then_some(path)
    })
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

/// No execute bit elsewhere: any file may be run.
#[cfg(not(unix))]
fn executable(_meta: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    fn date(line: &str) -> Result<(), String> {
        ArgPolicy::Date.check("date", &words(line))
    }

    #[test]
    fn date_prints_but_reads_and_sets_nothing() {
        for ok in [
            "",
            "+%s",
            "-u +%Y-%m-%dT%H:%M:%S",
            "--utc",
            "-R",
            "-I",
            "-Iseconds",
            "--iso-8601=ns",
            "--rfc-3339=seconds",
            "-d tomorrow",
            "-d @0 -u",
            "--date=@86400",
            "-d2026-01-01",
        ] {
            assert_eq!(date(ok), Ok(()), "{ok}");
        }
        for bad in [
            "-f /etc/shadow",
            "--file=/etc/shadow",
            "--fi=/etc/shadow",
            "-f/etc/shadow",
            "-uf /etc/shadow",
            "-r /etc/passwd",
            "--reference=/etc/passwd",
            "--ref=/etc/passwd",
            "-s 2000-01-01",
            "--set=2000-01-01",
            "--se=2000-01-01",
            "010100002030",
            "+%s +%s",
            "-- +%s",
            "-Ifoo",
            "--rfc-3339=bad",
            "-d",
            "-d TZ=\"/etc/shadow\"",
            "--debug",
        ] {
            let err = date(bad).unwrap_err();
            assert!(err.starts_with("date "), "{bad}: {err}");
        }
        assert!(date("-f x").unwrap_err().contains("any file"));
        assert!(date("-s x").unwrap_err().contains("sets the clock"));
    }

    #[test]
    fn no_arguments_for_hostname_whoami_uptime_pwd() {
        for name in ["hostname", "whoami", "uptime", "pwd"] {
            let policy = ArgPolicy::of(name);
            assert_eq!(policy, ArgPolicy::None);
            assert!(policy.check(name, &[]).is_ok());
            let err = policy.check(name, &words("evil")).unwrap_err();
            assert!(err.contains("takes no arguments"), "{err}");
        }
        assert!(
            ArgPolicy::of("hostname")
                .check("hostname", &words("-F /etc/x"))
                .is_err()
        );
    }

    #[test]
    fn uname_flags_only() {
        let uname = |line: &str| ArgPolicy::Uname.check("uname", &words(line));
        assert!(uname("-a").is_ok());
        assert!(uname("-sr --machine").is_ok());
        assert!(uname("-x").is_err());
        assert!(uname("/etc").is_err());
        assert!(uname("--").is_err());
    }

    #[test]
    fn programs_that_run_others_are_known_by_name_and_version() {
        for name in [
            "sh",
            "bash",
            "python3",
            "python3.12",
            "perl5.38",
            "env",
            "find",
            "xargs",
        ] {
            assert!(runs_others(name), "{name}");
        }
        for name in ["date", "uptime", "ls", "echo", "3", ""] {
            assert!(!runs_others(name), "{name}");
        }
    }

    #[test]
    fn the_command_path_is_absolute_and_fixed() {
        assert_eq!(
            AllowList::build(&[], "bin:/usr/bin", false).unwrap_err(),
            AllowError::RelativePath("bin".into())
        );
        let (list, _) = AllowList::build(&[], COMMAND_PATH, false).unwrap();
        let echo = list.get("echo").unwrap();
        assert!(echo.path.is_absolute());
        assert_eq!(echo.path, echo.path.canonicalize().unwrap());
        let err = AllowList::build(&["sh".into()], COMMAND_PATH, false).unwrap_err();
        assert!(err.to_string().contains("--allow-risky-commands"), "{err}");
        assert!(AllowList::build(&["sh".into()], COMMAND_PATH, true).is_ok());
        let err = AllowList::build(&["no-such-cmd-x".into()], COMMAND_PATH, false).unwrap_err();
        assert!(matches!(err, AllowError::NotFound { .. }), "{err}");
    }
}
