//! `cbc_msg`: sends short text messages over TCP, encrypted with
//! AES-256-CBC and authenticated with HMAC-SHA256 (encrypt-then-MAC) under
//! a key shared in a file. The CBC chaining is this crate's own code over
//! the AES block cipher (`src/cbc.rs`).
//!
//! ```text
//! cbc_msg keygen [--out FILE] [--force]
//! cbc_msg server PORT [--bind ADDR] --key-file F [--timeout SECS] [--max-connections N] [-v]
//! cbc_msg client HOST PORT --key-file F [--message TEXT] [--timeout SECS]
//! ```
//!
//! - `keygen`: 64 random bytes from the OS as 128 hex digits and a newline,
//!   to stdout or to a new file of mode 0600.
//! - `server`: listens on `[::]` (IPv4 and IPv6) unless `--bind`; prints
//!   each authentic message as one line on stdout, control characters
//!   escaped; a rejected message is one error line on stderr, closes its
//!   connection, and the server goes on. One thread per connection, at
//!   most `--max-connections` (when none is free, a newcomer takes the
//!   place of the oldest connection that has delivered no message yet); a
//!   connection may carry several messages.
//! - `client`: one message (`--message`, or one line from stdin, after a
//!   `message: ` prompt on stderr when stdin is a terminal), one
//!   connection.
//!
//! Wire format, one frame per message: `L` (4 bytes, big-endian), then `L`
//! bytes: IV (16) || CBC ciphertext || HMAC-SHA256(mac key, IV ||
//! ciphertext) (32). `L` is capped at 1 MiB and checked before anything is
//! allocated. See README.md for the design and how it was tested.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cbc_msg::{Keys, client, key, server};

/// AES-256-CBC + HMAC-SHA256 encrypted messages over TCP.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a key file: 128 hex digits (AES-256 key, then HMAC-SHA256 key)
    Keygen {
        /// Write the key to FILE (mode 0600) instead of stdout
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace FILE if it exists
        #[arg(long, requires = "out")]
        force: bool,
    },
    /// Receive messages and print each one on its own line
    Server {
        /// TCP port to listen on (0: any free port, printed on stderr)
        port: u16,
        /// Address to listen on [default: :: (IPv4 and IPv6)]
        #[arg(long, value_name = "ADDR", value_parser = server::parse_bind)]
        bind: Option<IpAddr>,
        /// The key file (from 'cbc_msg keygen')
        #[arg(long, value_name = "F")]
        key_file: PathBuf,
        /// Seconds within which each frame must arrive whole (from connecting,
        /// then from the previous frame) before the connection is closed
        #[arg(long, default_value = "30", value_parser = common::cli::seconds, value_name = "SECS")]
        timeout: Duration,
        /// Connections served at once
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000), value_name = "N")]
        max_connections: u32,
        /// Log each connection to stderr
        #[arg(short, long)]
        verbose: bool,
    },
    /// Send one message
    Client {
        #[command(flatten)]
        options: client::Options,
        /// The key file (from 'cbc_msg keygen')
        #[arg(long, value_name = "F")]
        key_file: PathBuf,
        /// The message; without it, one line is read from stdin
        #[arg(long, value_name = "TEXT")]
        message: Option<String>,
    },
}

fn main() -> ExitCode {
    common::cli::main("cbc_msg", run)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen { out, force } => keygen(out, force),
        Command::Server {
            port,
            bind,
            key_file,
            timeout,
            max_connections,
            verbose,
        } => {
            let keys = load_keys(&key_file)?;
            let options = server::Options {
                idle_timeout: timeout,
                max_connections: max_connections as usize,
                verbose,
            };
            server::run(bind, port, keys, options)
        }
        Command::Client {
            options,
            key_file,
            message,
        } => {
            let keys = load_keys(&key_file)?;
            client::run(&options, &keys, message)
        }
    }
}

fn keygen(out: Option<PathBuf>, force: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let keys = Keys::generate().context("making a key")?;
    match out {
        Some(path) => {
            keys.save(&path, force)?;
            cbc_msg::say!("cbc_msg: wrote a new key to {} (mode 0600)", path.display());
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(keys.to_file_text().as_bytes())
                .and_then(|()| stdout.flush())
                .context("writing the key to stdout")?;
        }
    }
    Ok(())
}

/// The key file, with a warning when others may read it (as ssh warns
/// about a private key): whoever reads it can read and forge messages.
fn load_keys(path: &std::path::Path) -> anyhow::Result<Keys> {
    let keys = Keys::load(path)?;
    if let Some(mode) = key::loose_permissions(path) {
        cbc_msg::say!(
            "cbc_msg: warning: key file '{}' has mode {mode:04o}: others may read it; \
             run 'chmod 600 {}'",
            path.display(),
            path.display()
        );
    }
    Ok(keys)
}
