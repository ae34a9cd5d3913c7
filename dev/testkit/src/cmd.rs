//! [`Cmd`]: a binary with what [`run`](crate::run) and
//! [`spawn`](crate::spawn) do not take: environment variables, and
//! standard input written from a thread.

use crate::{Guard, Output, Proc, finish, lines};
use std::fs::File;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A binary, its arguments and extra environment variables, to run to
/// completion or start in the background.
#[derive(Debug, Clone)]
pub struct Cmd<'a> {
    bin: &'a str,
    args: Vec<&'a str>,
    env: Vec<(&'a str, &'a str)>,
}

impl<'a> Cmd<'a> {
    pub fn new(bin: &'a str, args: &[&'a str]) -> Cmd<'a> {
        Cmd {
            bin,
            args: args.to_vec(),
            env: Vec::new(),
        }
    }

    /// Adds the environment variables `vars` (`NAME`, value).
    pub fn envs(mut self, vars: &[(&'a str, &'a str)]) -> Cmd<'a> {
        self.env.extend_from_slice(vars);
        self
    }

    /// Starts it with `stdin`, stdout and stderr piped.
    fn start(&self, stdin: Stdio) -> Child {
        self.start_into(stdin, Stdio::piped())
    }

    /// Starts it with `stdin` and `stdout`, stderr piped.
    fn start_into(&self, stdin: Stdio, stdout: Stdio) -> Child {
        Command::new(self.bin)
            .args(&self.args)
            .envs(self.env.iter().copied())
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {}: {err}", self.bin))
    }

    /// Runs it to completion with no stdin; kills it and fails the test if
    /// it is still running after `limit`.
    pub fn run_within(&self, limit: Duration) -> Output {
        let started = Instant::now();
        finish(Guard(self.start(Stdio::null())), started, limit)
    }

    /// Runs it to completion with no stdin and its standard output into
    /// `file` (the [`Output`]'s `stdout` is then empty), within `limit`.
    pub fn run_into(&self, file: File, limit: Duration) -> Output {
        let started = Instant::now();
        finish(
            Guard(self.start_into(Stdio::null(), Stdio::from(file))),
            started,
            limit,
        )
    }

    /// Runs it with `input` as its standard input, closed after it (the
    /// program sees the end of its input), within `limit`.
    pub fn run_with_stdin(&self, input: &[u8], limit: Duration) -> Output {
        self.run_fed(input, false, limit)
    }

    /// Runs it with `input` on its standard input and the pipe then held
    /// open until it ends, as a terminal's would be: the program never
    /// sees the end of its input. Within `limit`.
    pub fn run_with_open_stdin(&self, input: &[u8], limit: Duration) -> Output {
        self.run_fed(input, true, limit)
    }

    fn run_fed(&self, input: &[u8], hold_open: bool, limit: Duration) -> Output {
        let started = Instant::now();
        let mut guard = Guard(self.start(Stdio::piped()));
        let mut pipe = guard.0.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        // From a thread: a program that reads late, or never, cannot block
        // the test, and one that exits without reading closes the pipe
        // (not an error).
        let writer = thread::spawn(move || {
            let _ = pipe.write_all(&input);
            hold_open.then_some(pipe)
        });
        let output = finish(guard, started, limit);
        // The program has ended: a pipe held open closes now.
        drop(writer.join());
        output
    }

    /// Starts it in the background with stdout and stderr read line by
    /// line (see [`crate::spawn`]).
    pub fn spawn(&self) -> Proc {
        let mut proc = self.spawn_raw();
        proc.stdout = proc.child.0.stdout.take().map(|out| lines(out, None));
        proc
    }

    /// Starts it in the background with stderr read line by line and
    /// stdout left to the test (see [`crate::spawn_raw`]).
    pub fn spawn_raw(&self) -> Proc {
        let mut child = self.start(Stdio::null());
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = lines(
            child.stderr.take().expect("piped stderr"),
            Some(log.clone()),
        );
        Proc {
            child: Guard(child),
            stdout: None,
            stderr,
            log,
            started: Instant::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TIMEOUT;

    #[test]
    fn environment_and_stdin_closed_or_held_open() {
        let sh = |script| Cmd::new("sh", &["-c", script]);
        let out = sh("echo \"$A$B\"")
            .envs(&[("A", "x"), ("B", "y")])
            .run_within(TIMEOUT);
        assert_eq!(out.stdout_text(), "xy\n");
        // `cat` ends at the end of its input...
        let out = sh("cat").run_with_stdin(b"typed", TIMEOUT);
        assert_eq!(out.stdout_text(), "typed");
        // ...which a held-open pipe never gives: `read` gets its line and
        // then times out (status over 128), where a closed pipe gives the
        // end of file (status 1).
        let read_twice = Cmd::new("bash", &["-c", "read a; echo $a; read -t 1 b; echo $?"]);
        let out = read_twice.run_with_open_stdin(b"line\n", TIMEOUT);
        assert_eq!(out.lines(), ["line", "142"], "{out:#?}");
        let out = read_twice.run_with_stdin(b"line\n", TIMEOUT);
        assert_eq!(out.lines(), ["line", "1"], "{out:#?}");
    }

    #[test]
    fn a_background_run_keeps_its_whole_stderr() {
        let mut proc =
            Cmd::new("sh", &["-c", "echo one >&2; echo two >&2; printf raw"]).spawn_raw();
        assert_eq!(proc.stderr_line_within(TIMEOUT).as_deref(), Some("one"));
        let mut raw = Vec::new();
        std::io::Read::read_to_end(proc.raw_stdout().unwrap(), &mut raw).unwrap();
        assert_eq!(raw, b"raw");
        let out = proc.output_within(TIMEOUT);
        assert!(out.status.success());
        assert_eq!(out.stderr, "one\ntwo\n");
    }
}
