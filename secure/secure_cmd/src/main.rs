//! `secure_cmd`: a time and command service over mutual TLS. The server
//! greets each client with its clock (`TIME <RFC 3339 time>`) and runs the
//! commands of an allow-list for clients whose certificate its CA signed,
//! without a shell; the client checks the server's certificate, runs
//! command lines given as arguments or typed at a prompt, and prints their
//! output.
//!
//! ```text
//! secure_cmd server --cert F --key F --client-ca F [--listen ADDR:PORT]... [--allow-cn CN]...
//!                   [--allow CMD]... [--log FILE] [--command-timeout SECS] [--output-cap B]
//!                   [--max-connections N] [--handshake-timeout SECS] [--idle-timeout SECS] [-v]
//! secure_cmd client --ca F --cert F --key F [--host localhost] [--port 15001]
//!                   [--connect-timeout SECS] [--timeout SECS] [COMMAND LINE]...
//! ```
//!
//! Protocol (`src/protocol.rs`): on connect the server sends `TIME
//! 2026-05-01T14:03:07.123+02:00\n`; each request line (a command and its
//! arguments, split on white space) gets `OK <exit status> <length>\n`
//! and exactly `<length>` bytes of output, or `ERR <reason>\n`, after
//! which the connection goes on.
//!
//! Design: `tls_common` loads and checks the certificates (the same
//! refusals, in the same words, as `part6_pmu`), builds the rustls
//! configurations (TLS 1.2 and 1.3, forward-secret suites, mutual TLS,
//! `--allow-cn`) and explains a refused handshake; `src/server.rs` runs a
//! thread per connection under a cap (`netserve::accept`), `src/exec.rs` a command under its
//! limits, `src/log.rs` the log file, `src/client.rs` the client. See
//! README.md for the design in full, a sample run and how it is tested.
//!
//! # Choices where docs/SPEC.md is silent
//! - Listeners: `0.0.0.0:15001` and `[::]:15001` (IPv4 and IPv6, as
//!   `part6_pmu`; mutual TLS is what keeps strangers out, not the
//!   address); `--listen` replaces both and may be repeated.
//! - Commands: an allow-list of names looked up on the server's PATH
//!   (default date, uptime, whoami, hostname, uname, echo, ls, pwd, df;
//!   `--allow` adds, never a path); run with `execvp`, never a shell, with
//!   stdin `/dev/null` and the server's environment and working folder.
//!   Arguments are not filtered: `ls /etc` lists `/etc`. As root, `date -s`
//!   and `hostname NAME` would change the machine: the server warns.
//! - Output: stdout and stderr share one pipe (`2>&1`), so the bytes keep
//!   the order the command wrote them in. A command killed by signal n
//!   reports status 128 + n, as a shell does.
//! - Limits: 10 s per command (`--command-timeout`) and 1 MiB of output
//!   (`--output-cap`), past which the command and its process group are
//!   killed and the answer is `ERR`; request lines of at most 4096 bytes
//!   (a longer one is answered `ERR`, skipped to its end, and the
//!   connection goes on); a line that is not UTF-8, holds a NUL or is
//!   blank is answered `ERR` too: every line gets one answer. A last line
//!   without its newline when the client closes is dropped.
//! - Connections: at most 64 at once (`--max-connections`; more are
//!   closed on arrival and logged); 10 s from connecting to the end of the
//!   handshake (`--handshake-timeout`); 300 s without a request
//!   (`--idle-timeout`) and 30 s of a blocked send end a connection.
//! - Log: one line per event, `<RFC 3339 time> <peer> <what>`, appended
//!   with one `write()` under a mutex; peer text escaped. The folder is
//!   created. `-v` copies every line to stderr.
//! - Client: the server's time on stderr (`secure_cmd: server time: …`,
//!   stdout is for the commands' output); outputs on stdout byte for byte;
//!   an `ERR` is one line `secure_cmd: error: LINE: reason` on stderr and
//!   counts as status 1, and the next command still runs; the exit status
//!   is the last command's (so 1 or 2 may be the command's own). Without
//!   COMMAND LINE, lines from stdin, with a `secure_cmd> ` prompt on
//!   stderr when stdin is a terminal, until end of file, `exit` or `quit`.
//!   The server's certificate must name `--host`; `--timeout` (30 s) is
//!   how long the client waits for a byte of an answer.

use clap::{Args, Parser, Subcommand};
use secure_cmd::exec::Limits;
use secure_cmd::{client, protocol, server};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// A time and command service over mutual TLS: allow-listed commands, no shell.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Serve the time and allow-listed commands to clients with a certificate from --client-ca
    Server(ServerArgs),
    /// Run command lines on a secure_cmd server (none given: read them from stdin)
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// The server's certificate, PEM (its CA chain may follow it)
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// The certificate's private key, PEM, not encrypted
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The CA that signs the clients' certificates (mutual TLS, always)
    #[arg(long, value_name = "FILE")]
    client_ca: PathBuf,
    /// Address to listen on, repeatable [default: 0.0.0.0:15001 and [::]:15001]
    #[arg(long, value_name = "ADDR:PORT", value_parser = listen_addr)]
    listen: Vec<SocketAddr>,
    /// Accept only client certificates with this common name (repeatable)
    #[arg(long, value_name = "CN")]
    allow_cn: Vec<String>,
    /// Allow this command too, a name looked up on the PATH (repeatable)
    #[arg(long, value_name = "CMD", value_parser = command_name)]
    allow: Vec<String>,
    /// The log file (its folder is created)
    #[arg(long, value_name = "FILE", default_value = "log/server.log")]
    log: PathBuf,
    /// Seconds a command may run before it is killed
    #[arg(long, default_value = "10", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    command_timeout: Duration,
    /// Bytes of output a command may write before it is killed (1MiB, 1000)
    #[arg(long, default_value = "1MiB", value_parser = output_cap, value_name = "B")]
    output_cap: usize,
    /// Connections served at once; more are closed on arrival
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    max_connections: u32,
    /// Seconds a client has from connecting to finishing the TLS handshake
    #[arg(long, default_value = "10", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    handshake_timeout: Duration,
    /// Seconds a connection may wait for its next request
    #[arg(long, default_value = "300", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    idle_timeout: Duration,
    /// Copy every log line to stderr
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The CA certificate(s) to verify the server against, PEM
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// This client's certificate, PEM (signed by the server's --client-ca)
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// The client certificate's private key, PEM, not encrypted
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The server (a name, an IPv4 or an IPv6 address); its certificate must name it
    #[arg(long, default_value = "localhost")]
    host: String,
    /// The server's port
    #[arg(long, default_value_t = protocol::DEFAULT_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// Seconds to wait for the connection
    #[arg(long, default_value = "10", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    connect_timeout: Duration,
    /// Seconds without a byte from the server before giving up
    #[arg(long, default_value = "30", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    timeout: Duration,
    /// A command and its arguments as one argument ('ls -l /tmp'); several run in order
    #[arg(value_name = "COMMAND LINE")]
    commands: Vec<String>,
}

fn main() -> ExitCode {
    common::cli::main("secure_cmd", run)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Sub::Server(args) => {
            server::run(server::Options {
                cert: args.cert,
                key: args.key,
                client_ca: args.client_ca,
                listen: args.listen,
                allow_cn: args.allow_cn,
                allow: args.allow,
                log: args.log,
                limits: Limits {
                    timeout: args.command_timeout,
                    output_cap: args.output_cap,
                },
                max_connections: args.max_connections as usize,
                handshake_timeout: args.handshake_timeout,
                idle_timeout: args.idle_timeout,
                verbose: args.verbose,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Sub::Client(args) => {
            // Checked here rather than by clap, whose message would quote
            // the newline itself and so break the one-line error.
            if let Some(line) = args.commands.iter().find(|c| c.contains('\n')) {
                return Err(common::cli::usage(format!(
                    "the command line '{}' holds a newline: give each command line as its own \
                     argument",
                    line.escape_debug()
                )));
            }
            let status = client::run(client::Options {
                ca: args.ca,
                cert: args.cert,
                key: args.key,
                host: args.host,
                port: args.port,
                connect_timeout: args.connect_timeout,
                timeout: args.timeout,
                commands: args.commands,
            })?;
            Ok(ExitCode::from(status))
        }
    }
}

/// `127.0.0.1:15001`, `[::1]:15001`, `0.0.0.0:15001`, `[::]:15001`.
fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("'{text}' is not ADDR:PORT such as 127.0.0.1:15001, [::1]:15001 or 0.0.0.0:15001")
    })
}

/// An output cap: a byte count, at least 1.
fn output_cap(text: &str) -> Result<usize, String> {
    match common::cli::bytes(text)? {
        0 => Err(format!("'{text}': the output cap must be at least 1 byte")),
        n => usize::try_from(n).map_err(|_| format!("{text} is more than this machine can hold")),
    }
}

/// A command name for the allow-list: one word, no `/`, so that it means
/// the program the PATH finds, as a request names it.
fn command_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains('/') || text.chars().any(|c| c.is_whitespace() || c == '\0')
    {
        return Err(format!(
            "'{text}' is not a command name: give a name looked up on the PATH, such as uptime \
             (no '/', no spaces)"
        ));
    }
    Ok(text.to_string())
}
