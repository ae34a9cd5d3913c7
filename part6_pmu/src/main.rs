//! `part6_pmu`: the lab's Part 6, the PMU over TLS. The server answers
//! `CMD_short:<d>` and `CMD_floodme` as the plain PMU of Part 2 does, over
//! TLS 1.2 or 1.3 with the certificate the course CA signed; the client
//! verifies it and prints the messages as `part2_pdc` does.
//!
//! ```text
//! part6_pmu CERT KEY                       (the course's prototype: serve on port 5003)
//! part6_pmu serve --cert F --key F [--listen ADDR:PORT]... [--messages N] [--flood-bytes B]
//!           [--client-ca F [--allow-cn CN]...] [--tls-version 1.2|1.3] [-v]
//! part6_pmu client --ca F [--host localhost] [--port 5003] [--servername NAME]
//!           [--cert F --key F] [-v] COMMAND...
//! ```
//!
//! - `serve` (or the prototype's `CERT KEY`): the PMU over TLS 1.2 and 1.3
//!   on `0.0.0.0:5003` and `[::]:5003`, answering like the course server,
//!   then close_notify; a key or certificate it could not use is refused
//!   at start-up, saying what to do (`src/server.rs` has the choices).
//! - `client`: verifies the server against `--ca` and its name, prints like
//!   `part2_pdc` (`src/client.rs`).
//! - Mutual TLS: `--client-ca` and `--allow-cn` on the server, `--cert`
//!   and `--key` on the client.
//! - Both honour `SSLKEYLOGFILE` (the NSS key log format that Wireshark
//!   reads): TLS hides the payload, but not the addresses, ports, sizes and
//!   timing, nor the certificates of a TLS 1.2 handshake.
//! - Every stderr line is written in one `write()`, so that the lines of
//!   concurrent connections never mix.

#![forbid(unsafe_code)]

mod client;
mod server;

use clap::{Args, Parser, Subcommand};
use common::Command;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tls_common::TlsVersion;

/// The lab's Part 6: the PMU over TLS, server (`part6_pmu CERT KEY`) and client.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Serve the PMU over TLS (what `part6_pmu CERT KEY` does)
    Serve(ServeArgs),
    /// Send PMU commands over TLS and print the messages
    Client(ClientArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The server's certificate, PEM (its CA chain may follow it)
    #[arg(value_name = "CERT", conflicts_with = "cert")]
    cert_file: Option<PathBuf>,
    /// The certificate's private key, PEM, not encrypted
    #[arg(value_name = "KEY", conflicts_with = "key")]
    key_file: Option<PathBuf>,
    /// The certificate (instead of CERT)
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The private key (instead of KEY)
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Address to listen on, repeatable [default: 0.0.0.0:5003 and [::]:5003]
    #[arg(long, value_name = "ADDR:PORT", value_parser = listen_addr)]
    listen: Vec<SocketAddr>,
    /// Messages sent for CMD_short
    #[arg(long, default_value_t = 10, value_name = "N")]
    messages: u64,
    /// The number of the first message (the course server counts from 0)
    #[arg(long, default_value_t = 0, value_name = "I")]
    first_index: u64,
    /// Size of the CMD_floodme text (65536, 56KiB, 1GiB)
    #[arg(long, default_value = "56KiB", value_parser = flood_bytes, value_name = "B")]
    flood_bytes: usize,
    /// Require a client certificate signed by this CA (mutual TLS)
    #[arg(long, value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// Accept only client certificates with this common name (repeatable)
    #[arg(long, value_name = "CN", requires = "client_ca")]
    allow_cn: Vec<String>,
    /// Speak only this TLS version: 1.2 or 1.3
    #[arg(long, value_name = "VERSION")]
    tls_version: Option<TlsVersion>,
    /// Connections at once; when all are taken, a newcomer replaces the oldest one still in its handshake or waiting for its command
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    max_connections: u32,
    /// Seconds a client has from connecting to sending its command
    #[arg(long, default_value = "10", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    handshake_timeout: Duration,
    /// Seconds a send may wait on a client that does not read
    #[arg(long, default_value = "30", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    idle_timeout: Duration,
    /// Print each handshake: version, cipher suite, key exchange, client certificate
    #[arg(short, long)]
    verbose: bool,
    /// No line per connection (errors at start-up and `listening on` still show)
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The CA certificate(s) to verify the server against, PEM
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// The PMU server (a name, an IPv4 or an IPv6 address)
    #[arg(long, default_value = "localhost")]
    host: String,
    /// The TLS PMU port
    #[arg(long, default_value_t = server::DEFAULT_PORT)]
    port: u16,
    /// The name to check the server's certificate against [default: --host]
    #[arg(long, value_name = "NAME")]
    servername: Option<String>,
    /// A client certificate, for a server that requires one (mutual TLS)
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The client certificate's private key
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Speak only this TLS version: 1.2 or 1.3
    #[arg(long, value_name = "VERSION")]
    tls_version: Option<TlsVersion>,
    /// Print recv() calls and bytes per command to stderr
    #[arg(long)]
    stats: bool,
    /// Print the handshake: version, cipher suite, key exchange, server certificate
    #[arg(short, long)]
    verbose: bool,
    /// Seconds to wait for the connection
    #[arg(long, default_value = "10", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    connect_timeout: Duration,
    /// Seconds without a byte from the server before giving up
    /// (CMD_short:<d> waits at least d + 30)
    #[arg(long, default_value = "30", value_parser = common::cli::positive_seconds, value_name = "SECS")]
    timeout: Duration,
    /// CMD_short:<seconds> or CMD_floodme; several run in order
    #[arg(required = true, value_name = "COMMAND")]
    commands: Vec<Command>,
}

fn main() -> ExitCode {
    common::cli::main("part6_pmu", run)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Sub::Client(args)) => client::run(client_options(args)),
        Some(Sub::Serve(args)) => server::run(server_options(args)?),
        None => server::run(server_options(cli.serve)?),
    }
}

fn server_options(args: ServeArgs) -> anyhow::Result<server::Options> {
    let (Some(cert), Some(key)) = (args.cert_file.or(args.cert), args.key_file.or(args.key)) else {
        return Err(common::cli::usage(
            "give the certificate and key to serve with (part6_pmu CERT KEY, or part6_pmu serve \
             --cert F --key F), or run part6_pmu client --ca F COMMAND...",
        ));
    };
    Ok(server::Options {
        cert,
        key,
        listen: args.listen,
        messages: args.messages,
        first_index: args.first_index,
        flood_bytes: args.flood_bytes,
        client_ca: args.client_ca,
        allow_cn: args.allow_cn,
        tls_version: args.tls_version,
        max_connections: args.max_connections as usize,
        handshake_timeout: args.handshake_timeout,
        idle_timeout: args.idle_timeout,
        verbose: args.verbose,
        quiet: args.quiet,
    })
}

fn client_options(args: ClientArgs) -> client::Options {
    client::Options {
        ca: args.ca,
        host: args.host,
        port: args.port,
        servername: args.servername,
        cert: args.cert,
        key: args.key,
        tls_version: args.tls_version,
        stats: args.stats,
        verbose: args.verbose,
        connect_timeout: args.connect_timeout,
        idle_timeout: args.timeout,
        commands: args.commands,
    }
}

/// One line on stderr in one `write()`, so that lines of concurrent
/// connections (and of other programs on the same terminal) never mix.
pub fn say(line: std::fmt::Arguments<'_>) {
    common::cli::eprint_line(format_args!("part6_pmu: {line}"));
}

/// `127.0.0.1:5003`, `[::1]:5003`, `0.0.0.0:5003`, `[::]:5003`.
fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("'{text}' is not ADDR:PORT such as 127.0.0.1:5003, [::1]:5003 or 0.0.0.0:5003")
    })
}

/// A flood size that fits in memory here.
fn flood_bytes(text: &str) -> Result<usize, String> {
    let bytes = common::cli::bytes(text)?;
    usize::try_from(bytes).map_err(|_| format!("{text} is more than this machine can address"))
}
