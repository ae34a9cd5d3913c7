//! The conventions every binary of the workspace follows (docs/SPEC.md,
//! "Conventions for every binary"):
//!
//! - usage errors exit 2, runtime failures exit 1, success 0;
//! - an error is one line on stderr, `NAME: error: what failed: why`, with
//!   the whole cause chain, never a panic or a backtrace;
//! - a closed pipe on stdout (`part2_pdc CMD_floodme | head`) is success,
//!   as in ripgrep: the reader has all it wanted.
//!
//! A binary's `main` is `common::cli::main("NAME", run)`, where `run` takes
//! the parsed command line and returns `anyhow::Result<()>` (or an
//! [`ExitCode`] when the binary chooses its own status).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::process::ExitCode;

/// An error caused by how the program was called: it exits with status 2.
///
/// Wrap it in an `anyhow::Error` (see [`usage`]); [`report`] finds it
/// anywhere in the cause chain.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for UsageError {}

/// A usage error (exit status 2) with the given message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// What a binary's `run` may return on success.
pub trait Outcome {
    /// The process exit status.
    fn exit_code(self) -> ExitCode;
}

impl Outcome for () {
    fn exit_code(self) -> ExitCode {
        ExitCode::SUCCESS
    }
}

impl Outcome for ExitCode {
    fn exit_code(self) -> ExitCode {
        self
    }
}

/// Parses the command line into `T`, runs `run` and turns its result into
/// the exit status, printing any error as one line.
pub fn main<T, R>(name: &str, run: impl FnOnce(T) -> anyhow::Result<R>) -> ExitCode
where
    T: clap::Parser,
    R: Outcome,
{
    let args = match parse::<T>(name) {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(args) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => report(name, &err),
    }
}

/// Parses the command line with clap; help and version go to stdout with
/// status 0, and a usage error becomes one line on stderr with status 2.
pub fn parse<T: clap::Parser>(name: &str) -> Result<T, ExitCode> {
    T::try_parse().map_err(|err| {
        use clap::error::ErrorKind;
        match err.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                // A failed write of the help text (closed pipe) is no error.
                let _ = err.print();
                ExitCode::from(if err.use_stderr() { 2 } else { 0 })
            }
            _ => {
                error_line(&format!(
                    "{name}: error: {}; try '{name} --help'",
                    clap_message(&err)
                ));
                ExitCode::from(2)
            }
        }
    })
}

/// clap's message without its `error: ` prefix, usage block and tips.
fn clap_message(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid command line");
    first
        .strip_prefix("error: ")
        .unwrap_or(first)
        .trim()
        .to_string()
}

/// Prints `NAME: error: …` with the cause chain on one line and picks the
/// exit status: 2 for a [`UsageError`], 0 for a closed stdout, 1 otherwise.
pub fn report(name: &str, err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    let chain = format!("{err:#}").replace('\n', " ");
    error_line(&format!("{name}: error: {chain}"));
    if err.chain().any(|cause| cause.is::<UsageError>()) {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

/// Writes `line` and a newline to stderr in one `write()`, so that it does
/// not interleave with other processes writing to the same terminal (which
/// `eprintln!`, writing each formatted piece on its own, allows).
pub fn error_line(line: &str) {
    use std::io::Write;
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = io::stderr().lock().write_all(&bytes);
}

/// Whether the error is, anywhere in its chain, a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// A clap value parser for durations in seconds, decimals allowed
/// (`1`, `0.5`), as every binary's time flags take them (docs/SPEC.md,
/// "Command lines").
pub fn seconds(text: &str) -> Result<std::time::Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds (such as 1 or 0.5)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!(
            "'{text}' is not a number of seconds (such as 1 or 0.5)"
        ));
    }
    std::time::Duration::try_from_secs_f64(value).map_err(|_| format!("{text} seconds is too long"))
}

/// [`seconds`], but not 0: a time-out or an interval of zero would end
/// every wait at once or resend as fast as the CPU allows.
pub fn positive_seconds(text: &str) -> Result<std::time::Duration, String> {
    match seconds(text)? {
        d if d.is_zero() => Err(format!("'{text}': must be more than 0 seconds")),
        d => Ok(d),
    }
}

/// Writes `line` and a newline to stderr in one `write()`: Rust's stderr is
/// unbuffered and `eprintln!` may write a line in pieces, between which
/// another thread's line (or another program's, on the same terminal, such
/// as the client beside the server in `make demo`) can slip.
pub fn eprint_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = format!("{line}\n");
    // Nowhere to report a failed write to stderr.
    let _ = io::stderr().write_all(line.as_bytes());
}

/// A clap value parser for byte counts with an optional unit: `65536`,
/// `56KiB`, `100M`, `1GiB` (powers of 1024 with `i`, of 1000 without).
pub fn bytes(text: &str) -> Result<u64, String> {
    parse_size::parse_size(text)
        .map_err(|err| format!("'{text}' is not a byte count such as 65536, 56KiB or 1GiB ({err})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn value_parsers() {
        assert_eq!(seconds("0.5"), Ok(std::time::Duration::from_millis(500)));
        assert_eq!(seconds("2"), Ok(std::time::Duration::from_secs(2)));
        for bad in ["-1", "x", "inf", "NaN", ""] {
            assert!(seconds(bad).is_err(), "{bad}");
            assert!(positive_seconds(bad).is_err(), "{bad}");
        }
        assert!(
            positive_seconds("0")
                .unwrap_err()
                .contains("more than 0 seconds")
        );
        assert_eq!(
            positive_seconds("0.5"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert_eq!(bytes("56KiB"), Ok(56 * 1024));
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert_eq!(bytes("100"), Ok(100));
        assert!(bytes("lots").is_err());
    }

    #[test]
    fn usage_errors_exit_2_and_runtime_errors_exit_1() {
        let usage_err = Err::<(), _>(usage("bad ID")).context("parsing --id");
        assert_eq!(
            report("t", &usage_err.unwrap_err()),
            ExitCode::from(2),
            "a usage error deep in the chain still exits 2"
        );
        let runtime = anyhow::anyhow!("connection refused").context("connecting");
        assert_eq!(report("t", &runtime), ExitCode::from(1));
    }

    #[test]
    fn broken_pipe_is_success() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing to stdout");
        assert!(is_broken_pipe(&err));
        assert_eq!(report("t", &err), ExitCode::SUCCESS);
    }
}
