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
//!                   [--command-path DIRS] [--allow-risky-commands] [--run-as USER]
//!                   [--allow-root-commands] [--command-memory B] [--log-rate N]
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
//! - `server` (`src/server.rs`): mutual TLS through `tls_common` (the same
//!   certificate checks and refusals as `part6_pmu`), a thread per
//!   connection under `netserve::accept`'s admission, allow-listed commands
//!   run without a shell in a sandbox (`src/policy.rs`, `src/sandbox.rs`,
//!   `src/exec.rs`), a log a client cannot forge or flood (`src/log.rs`).
//! - `client` (`src/client.rs`): checks the server's certificate and name,
//!   runs the command lines given or typed, prints their output.
//! - README.md has the design in full, the threat model, a sample run and
//!   how it is tested.

use clap::{Args, Parser, Subcommand};
#[cfg(unix)]
use secure_cmd::exec::Limits;
#[cfg(unix)]
use secure_cmd::server;
use secure_cmd::{client, protocol};
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
    /// Allow this command too, a name looked up on --command-path, any arguments (repeatable)
    #[arg(long, value_name = "CMD", value_parser = command_name)]
    allow: Vec<String>,
    /// Let --allow name a program that runs others (a shell, env, find, python…): any command
    #[arg(long)]
    allow_risky_commands: bool,
    /// Folders where commands are looked up, once, at start-up (absolute, ':'-separated)
    #[arg(long, value_name = "DIRS", default_value = secure_cmd::policy::COMMAND_PATH)]
    command_path: String,
    /// When the server runs as root, run commands as this user
    #[arg(long, value_name = "USER", default_value = "nobody")]
    run_as: String,
    /// When the server runs as root, run commands as root too (not as --run-as)
    #[arg(long)]
    allow_root_commands: bool,
    /// Address space a command may use (RLIMIT_AS: 256MiB, 1GiB)
    #[arg(long, default_value = "256MiB", value_parser = memory, value_name = "B")]
    command_memory: u64,
    /// The log file, created 0600 (its folder is created; a symbolic link is refused)
    #[arg(long, value_name = "FILE", default_value = "log/server.log")]
    log: PathBuf,
    /// Log lines per client address per 10 s; the rest are counted in one summary line
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    log_rate: u32,
    /// Seconds a command may run before it is killed
    #[arg(long, default_value = "10", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    command_timeout: Duration,
    /// Bytes of output a command may write before it is killed (1MiB, 1000)
    #[arg(long, default_value = "1MiB", value_parser = output_cap, value_name = "B")]
    output_cap: usize,
    /// Connections at once; when all are taken, a newcomer replaces the oldest one still in its handshake
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

/// Runs the server (Unix: its sandbox needs process groups, rlimits and
/// user switching).
#[cfg(unix)]
fn serve(args: ServerArgs) -> anyhow::Result<ExitCode> {
    server::run(server::Options {
        cert: args.cert,
        key: args.key,
        client_ca: args.client_ca,
        listen: args.listen,
        allow_cn: args.allow_cn,
        allow: args.allow,
        allow_risky_commands: args.allow_risky_commands,
        command_path: args.command_path,
        run_as: args.run_as,
        allow_root_commands: args.allow_root_commands,
        command_memory: args.command_memory,
        log: args.log,
        log_rate: args.log_rate,
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

/// Not on this system: the client works, the server does not.
#[cfg(not(unix))]
fn serve(_args: ServerArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "secure_cmd's server runs on Linux and macOS only (its sandbox needs process groups, \
         rlimits and user switching); the client works here"
    )
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Sub::Server(args) => serve(args),
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

/// A command's address-space limit: at least 16 MiB (less and no program
/// starts).
fn memory(text: &str) -> Result<u64, String> {
    match common::cli::bytes(text)? {
        n if n < 16 << 20 => Err(format!(
            "'{text}': a command needs at least 16MiB of address space to start"
        )),
        n => Ok(n),
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
