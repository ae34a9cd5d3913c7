//! `lab_grader`: grades a group's executables against `lab_server` on
//! loopback, and measures the lab's answers for `REPORT.md`.
//!
//! ```text
//! lab_grader [--bin-dir target/release] [--part N]... [--case TEXT]... [--time-limit SECS] [--seed N]
//! lab_grader report [--bin-dir target/release] [--out REPORT.md] [--runs 100] [--loss 0.3]
//! ```
//!
//! Grading prints a table, one row per case (`PASS`, `FAIL` and why, or
//! `SKIP`), then the score; it exits 1 if any case failed. `--bin-dir`
//! holds the built names (`part2_pdc` …) or a submission folder's
//! (`Part2_<C1>_<C2>` …); which one is told by the names. A missing
//! executable fails its part's cases; `--part` grades only the parts
//! named (the others are skipped), `--case` only the cases whose name
//! contains the text. Every case has a time limit (`--time-limit`
//! replaces them all): a hanging executable is killed and fails.
//!
//! `report` runs the lab's experiments with the built executables and
//! writes the measured answers to `--out`, with the histogram of Part 3's
//! attempts as an SVG picture beside it. See the library's `report`.

use clap::{Args, Parser, Subcommand};
use lab_grader::{grade, report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Grades a group's lab executables against lab_server on loopback.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    grade: GradeArgs,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Run the lab's experiments and write REPORT.md with the measured answers
    Report(ReportArgs),
}

#[derive(Debug, Args)]
struct GradeArgs {
    /// The executables: built names (part2_pdc …) or a submission folder (Part2_<C1>_<C2> …)
    #[arg(long, default_value = "target/release", value_name = "DIR")]
    bin_dir: PathBuf,
    /// Grade only this part (1 to 6); repeat for several [default: all; Part 1 when present]
    #[arg(long = "part", value_name = "N", value_parser = clap::value_parser!(u8).range(1..=6))]
    parts: Vec<u8>,
    /// Run only the cases whose name contains TEXT; repeat for several
    #[arg(long = "case", value_name = "TEXT")]
    cases: Vec<String>,
    /// Time limit of every case, replacing each case's own
    #[arg(long, value_parser = common::cli::positive_seconds, value_name = "SECS")]
    time_limit: Option<Duration>,
    /// Seed of the random cuts of Part 2's streams [default: from the clock]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// The built executables to measure with
    #[arg(long, default_value = "target/release", value_name = "DIR")]
    bin_dir: PathBuf,
    /// Where to write the report; the SVG goes beside it
    #[arg(long, default_value = "REPORT.md", value_name = "FILE")]
    out: PathBuf,
    /// Part 3 runs for the loss estimate
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000), value_name = "N")]
    runs: u64,
    /// Probability that lab_server drops a RESET request, for Part 3
    #[arg(long, default_value_t = 0.3, value_parser = probability, value_name = "P")]
    loss: f64,
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..1.0).contains(&p) => Ok(p),
        _ => Err(format!("'{text}' is not a probability from 0 to below 1")),
    }
}

fn main() -> ExitCode {
    common::cli::main("lab_grader", run)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(Sub::Report(args)) = cli.command {
        report::write(&report::Options {
            bin_dir: args.bin_dir,
            out: args.out,
            runs: args.runs,
            loss: args.loss,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let args = cli.grade;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000)
            .unwrap_or(1)
    });
    let options = grade::Options {
        bin_dir: args.bin_dir,
        parts: args.parts,
        filters: args.cases,
        time_limit: args.time_limit,
        seed,
    };
    let mut out = std::io::stdout().lock();
    let summary = grade::grade(&options, &mut out)?;
    Ok(if summary.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
