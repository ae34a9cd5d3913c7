//! The server cannot be turned against its host (README.md, "Threat
//! model"): argument policies, programs resolved once on a fixed PATH, an
//! empty environment and folder, resource limits, an unprivileged user,
//! and `--allow` of a program that runs others refused.
//!
//! Tests run as root. A request that would change the machine (`date -s`,
//! `hostname NAME`) is only ever sent to a *canary*: a script named `date`
//! or `hostname`, found first on `--command-path`, that records its
//! arguments instead of doing anything. The real programs are never run
//! with such arguments, even if the policy were broken.

use crate::util::{Answer, Pki, Raw, Server, ok};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A folder of test scripts any user can run, and a folder any user can
/// write to, removed when dropped.
struct Canaries {
    dir: PathBuf,
}

impl Canaries {
    fn new(name: &str) -> Canaries {
        let dir =
            std::env::temp_dir().join(format!("secure_cmd-canary-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        set_mode(&dir, 0o755);
        set_mode(&dir.join("bin"), 0o755);
        set_mode(&dir.join("out"), 0o777);
        Canaries { dir }
    }

    fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// A script `name` that appends its arguments to `out/name` and says
    /// `canary`.
    fn recorder(&self, name: &str) {
        let out = self.dir.join("out").join(name);
        self.script(
            name,
            &format!("#!/bin/sh\necho \"$@\" >> {}\necho canary\n", out.display()),
        );
    }

    fn script(&self, name: &str, body: &str) {
        let path = self.bin().join(name);
        std::fs::write(&path, body).unwrap();
        set_mode(&path, 0o755);
    }

    /// What the recorder `name` was run with, one line per run.
    fn runs(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("out").join(name)).unwrap_or_default()
    }

    /// `--command-path` with the scripts first.
    fn command_path(&self) -> String {
        format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin().display())
    }
}

impl Drop for Canaries {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

fn err_containing(answer: Answer, needle: &str) {
    match answer {
        Answer::Err(reason) => assert!(reason.contains(needle), "{reason:?} lacks {needle:?}"),
        other => panic!("not refused: {other:?}"),
    }
}

fn text(answer: Answer) -> String {
    match answer {
        Answer::Ok { status: 0, output } => String::from_utf8(output).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn date_reads_no_file() {
    let pki = Pki::new("date-file");
    // Readable by anyone: only the policy keeps it out of the answer.
    let secret = pki
        .dir
        .write("secret.key", "SECRET-LINE-1\nSECRET-LINE-2\n");
    set_mode(&secret, 0o644);
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    let path = secret.to_str().unwrap();
    for line in [
        format!("date -f {path}"),
        format!("date --file={path}"),
        format!("date --fi={path}"),
        format!("date -uf {path}"),
        format!("date -f{path}"),
        format!("date -r {path}"),
        format!("date --reference={path}"),
    ] {
        match raw.run(&line) {
            Answer::Err(reason) => {
                assert!(reason.starts_with("date "), "{line}: {reason}");
                assert!(!reason.contains("SECRET"), "{line}: {reason}");
            }
            other => panic!("{line}: not refused: {other:?}"),
        }
    }
    // What only prints the time still works.
    let epoch = text(raw.run("date -u -d @0 +%Y"));
    assert_eq!(epoch, "1970\n");
    assert!(text(raw.run("date --rfc-3339=seconds")).starts_with("20"));
    server.wait_for_log("ERR date \"-f\" is refused");
    assert!(!server.log_text().contains("SECRET"));
}

#[test]
fn requests_that_would_change_the_machine_are_refused_before_anything_runs() {
    let canaries = Canaries::new("machine");
    canaries.recorder("date");
    canaries.recorder("hostname");
    let pki = Pki::new("machine");
    let path = canaries.command_path();
    let server = Server::start(&pki, &["--command-path", &path]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    for (line, needle) in [
        ("date -s 2000-01-01", "sets the clock"),
        ("date --set=2000-01-01", "sets the clock"),
        ("date --se=2000-01-01", "sets the clock"),
        ("date 010100002030", "sets the clock"),
        ("date -us 2000-01-01", "not a flag"),
        ("hostname evil", "takes no arguments"),
        ("hostname -F /etc/hostname", "takes no arguments"),
        ("hostname -b evil", "takes no arguments"),
    ] {
        err_containing(raw.run(line), needle);
    }
    assert_eq!(canaries.runs("date"), "");
    assert_eq!(canaries.runs("hostname"), "");
    // The canaries do run for what is allowed: the test can see a run.
    assert_eq!(raw.run("date +%s"), ok("canary\n"));
    assert_eq!(raw.run("hostname"), ok("canary\n"));
    assert_eq!(canaries.runs("date"), "+%s\n");
    assert_eq!(canaries.runs("hostname"), "\n");
}

#[test]
fn programs_come_from_the_fixed_path_not_the_servers() {
    let canaries = Canaries::new("path");
    canaries.recorder("whoami");
    let pki = Pki::new("path");
    // A PATH with a folder of the attacker's first: the server ignores it.
    let path = format!("{}:/usr/bin:/bin", canaries.bin().display());
    let server = Server::start_with_env(&pki, &[], &[("PATH", &path)]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    let who = text(raw.run("whoami"));
    assert_ne!(who, "canary\n");
    assert_eq!(canaries.runs("whoami"), "");
    // The start-up log names each program's path.
    let log = server.wait_for_log("command whoami: /usr/bin/whoami");
    assert!(
        !log.contains(&canaries.bin().display().to_string()),
        "{log}"
    );
}

#[test]
fn a_relative_command_path_is_refused() {
    let pki = Pki::new("relative");
    crate::util::refused_start(&pki, &["--command-path", "bin:/usr/bin"])
        .expect_code(2)
        .expect_one_line_error("secure_cmd", "'bin' is not an absolute folder");
}

#[test]
fn allowing_a_program_that_runs_others_needs_the_risk_flag() {
    let pki = Pki::new("risky");
    for name in [
        "sh", "bash", "env", "find", "xargs", "python3", "nice", "timeout",
    ] {
        if !Path::new("/usr/bin").join(name).exists() && !Path::new("/bin").join(name).exists() {
            continue;
        }
        crate::util::refused_start(&pki, &["--allow", name])
            .expect_code(2)
            .expect_one_line_error("secure_cmd", "--allow-risky-commands");
    }
    // Accepted, it runs (a shell, no policy: whoever allowed it answers for it).
    let server = Server::start(&pki, &["--allow", "sh", "--allow-risky-commands"]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    assert_eq!(raw.run("sh -c true"), ok(""));
}

#[test]
fn the_child_gets_an_empty_environment_folder_limits_and_user() {
    let canaries = Canaries::new("probe");
    canaries.script(
        "probe",
        "#!/bin/sh\necho \"uid=$(id -u)\"\necho \"cwd=$(pwd)\"\necho \"files=$(ls -A | wc -l)\"\n\
         env | sort\ncat /proc/self/limits\ngrep NoNewPrivs /proc/self/status\n",
    );
    let pki = Pki::new("probe");
    let keylog = pki.dir.path("keys.log");
    let path = canaries.command_path();
    let server = Server::start_with_env(
        &pki,
        &["--command-path", &path, "--allow", "probe"],
        &[
            ("SSLKEYLOGFILE", keylog.to_str().unwrap()),
            ("SECURE_CMD_TEST_SECRET", "hunter2"),
            ("TZ", "UTC"),
        ],
    );
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    let out = text(raw.run("probe"));
    assert!(!out.contains("SSLKEYLOGFILE"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    let env: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(char::is_uppercase) && l.contains('=') && !l.contains("  "))
        .filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=") && !l.starts_with("_="))
        .collect();
    assert_eq!(
        env,
        ["LANG=C", "PATH=", "TZ=UTC"]
            .iter()
            .map(|v| if *v == "PATH=" {
                format!("PATH={path}")
            } else {
                v.to_string()
            })
            .collect::<Vec<_>>(),
        "{out}"
    );
    let expected_uid = if is_root() {
        "65534".to_string()
    } else {
        // SAFETY: getuid(2) cannot fail.
        unsafe { libc::getuid() }.to_string()
    };
    assert!(out.contains(&format!("uid={expected_uid}\n")), "{out}");
    let cwd = out.lines().find_map(|l| l.strip_prefix("cwd=")).unwrap();
    assert!(cwd.contains("secure_cmd-cwd-"), "{out}");
    assert!(out.contains("files=0\n"), "{out}");
    let limit = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .split_whitespace()
            .rev()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(limit("Max address space"), (256u64 << 20).to_string());
    assert_eq!(limit("Max processes"), "64");
    assert_eq!(limit("Max file size"), (1u64 << 20).to_string());
    assert_eq!(limit("Max open files"), "64");
    assert_eq!(limit("Max cpu time"), "11");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
}

#[test]
fn a_memory_hungry_command_is_stopped_by_its_limit() {
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("no /usr/bin/python3: skipped");
        return;
    }
    let canaries = Canaries::new("hog");
    // 512 MiB: over the default 256 MiB address space, under 2 GiB.
    canaries.script(
        "hog",
        "#!/usr/bin/python3\nb = bytearray(512 << 20)\nprint('allocated', len(b))\n",
    );
    let pki = Pki::new("hog");
    let path = canaries.command_path();
    let server = Server::start(&pki, &["--command-path", &path, "--allow", "hog"]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    match raw.run("hog") {
        Answer::Ok { status, output } => {
            let text = String::from_utf8_lossy(&output);
            assert_ne!(status, 0, "{text}");
            assert!(text.contains("MemoryError"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // The limit, not the script, stops it.
    let server = Server::start(
        &pki,
        &[
            "--command-path",
            &path,
            "--allow",
            "hog",
            "--command-memory",
            "2GiB",
        ],
    );
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    assert_eq!(raw.run("hog"), ok(&format!("allocated {}\n", 512u64 << 20)));
}

#[test]
fn as_root_commands_run_as_nobody_unless_root_is_allowed() {
    if !is_root() {
        eprintln!("not root: skipped");
        return;
    }
    let pki = Pki::new("nobody");
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    assert_eq!(raw.run("whoami"), ok("nobody\n"));
    let log = server.wait_for_log("commands run as user nobody (uid 65534");
    assert!(log.contains("started"), "{log}");

    let server = Server::start(&pki, &["--allow-root-commands"]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    assert_eq!(raw.run("whoami"), ok("root\n"));
    // Said before the `listening on` line, which the start waited for.
    let stderr = server.proc.stderr_log();
    assert!(
        stderr.contains("warning: --allow-root-commands: every client may run"),
        "{stderr}"
    );

    crate::util::refused_start(&pki, &["--run-as", "root"])
        .expect_code(2)
        .expect_one_line_error("secure_cmd", "--run-as root is root");
    crate::util::refused_start(&pki, &["--run-as", "no-such-user-secure-cmd"])
        .expect_code(1)
        .expect_one_line_error(
            "secure_cmd",
            "cannot run commands as no-such-user-secure-cmd",
        );
}

#[test]
fn ipv6_clients_get_the_same_policy() {
    let pki = Pki::new("policy-v6");
    let server = Server::start(&pki, &["--listen", "[::1]:0"]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    err_containing(raw.run("date -f /etc/passwd"), "any file");
    err_containing(raw.run("whoami --help"), "takes no arguments");
    assert_eq!(raw.run("echo v6"), ok("v6\n"));
}
