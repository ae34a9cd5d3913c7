//! `lab_grader`: grades a group's executables against `lab_server` on
//! loopback, and measures the lab's answers for `REPORT.md`.
//!
//! ```text
//! lab_grader [--bin-dir target/release] [--part N]... [--case TEXT]... [--time-limit SECS] [--seed N]
//! lab_grader report [--bin-dir target/release] [--out REPORT.md] [--runs 100] [--loss 0.5]
//! lab_grader handin Lab3_<C1>_<C2>[.zip] [--out DIR] [--jobs 4] [--ca cacert.pem]
//! lab_grader Lab3_<C1>_<C2>[.zip]          (the same as `handin`)
//! lab_grader class DIR --out OUT [--jobs 4] [--ca cacert.pem]
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
//! `--bin-dir` keeps this project's own calling convention (`--host`,
//! `--port` …), for its own executables under their built or submission
//! names (`make grade`). `handin` and `class` — and a hand-in given alone,
//! `lab_grader Lab3_<C1>_<C2>` — grade hand-ins as the course received them
//! (programs in any language, the course's calling convention, each in a
//! box): see the library's `course`. `handin` prints the table and exits 1
//! unless every part passed; `class` grades every `Lab3_*` folder or zip of
//! DIR, prints a progress line per group on stderr and the table at the
//! end, and writes `OUT/grades.csv` and, per group, `OUT/<group>/`
//! (`result.json`, each test's stdout, `report.txt`).
//!
//! `report` runs the lab's experiments with the built executables and
//! writes the measured answers to `--out`, with the histogram of Part 3's
//! attempts as an SVG picture beside it. See the library's `report`.

use clap::{Args, Parser, Subcommand};
use lab_grader::{course, grade, report};
use std::io::Write;
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
    /// Grade one hand-in (a Lab3_<C1>_<C2> folder or zip) as the course ran it, in a box
    Handin(HandinArgs),
    /// Grade every Lab3_* folder or zip of DIR; OUT/grades.csv and OUT/<group>/
    Class(ClassArgs),
}

#[derive(Debug, Args)]
struct CourseArgs {
    /// Tests run at once (each in its own network namespace)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64), value_name = "N")]
    jobs: u64,
    /// The course CA's certificate: check the hand-in's own certificate against it
    /// [default: re-certify the hand-in's key with a CA of the grader's]
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct HandinArgs {
    /// The hand-in: a Lab3_<C1>_<C2> folder or its zip
    #[arg(value_name = "PATH")]
    path: PathBuf,
    /// Also write grades.csv and <group>/ (result.json, logs) there
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    course: CourseArgs,
}

#[derive(Debug, Args)]
struct ClassArgs {
    /// The folder of hand-ins (Lab3_* folders or zips)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Where grades.csv and the groups' folders go
    #[arg(long, value_name = "OUT")]
    out: PathBuf,
    #[command(flatten)]
    course: CourseArgs,
}

#[derive(Debug, Args)]
struct GradeArgs {
    /// A hand-in to grade as the course ran it (a Lab3_<C1>_<C2> folder or zip): same as `handin PATH`
    #[arg(value_name = "HANDIN", conflicts_with_all = ["bin_dir", "parts", "cases", "time_limit", "seed"])]
    handin: Option<PathBuf>,
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
    /// Probability that lab_server drops a RESET request, for Part 3 (the course server's: 0.5)
    #[arg(long, default_value_t = report::COURSE_LOSS, value_parser = probability, value_name = "P")]
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

fn course_options(args: &CourseArgs, out: Option<PathBuf>) -> anyhow::Result<course::Options> {
    if let Some(ca) = &args.ca
        && !ca.is_file()
    {
        return Err(common::cli::usage(format!(
            "--ca {}: no such file",
            ca.display()
        )));
    }
    Ok(course::Options {
        jobs: args.jobs as usize,
        ca: args.ca.clone(),
        limits: course::sandbox::Limits::default(),
        out,
    })
}

fn grade_course(
    paths: &[PathBuf],
    options: &course::Options,
) -> anyhow::Result<Vec<course::GroupGrade>> {
    let started = std::time::Instant::now();
    let grades = course::grade_all(paths, options, &mut |g, n, total| {
        eprintln!("{}", course::progress_line(g, n, total));
    })
    .map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    course::print_table(&mut out, &grades)?;
    let score: u32 = grades.iter().map(|g| g.score()).sum();
    let max: u32 = grades.iter().map(|g| g.max()).sum();
    writeln!(
        out,
        "\n{} group(s), {score}/{max} points, in {:.1} s{}",
        grades.len(),
        started.elapsed().as_secs_f64(),
        match &options.out {
            Some(dir) => format!("; {}", dir.join("grades.csv").display()),
            None => String::new(),
        }
    )?;
    Ok(grades)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let positional = match (&cli.command, &cli.grade.handin) {
        (None, Some(path)) => Some(HandinArgs {
            path: path.clone(),
            out: None,
            course: CourseArgs { jobs: 4, ca: None },
        }),
        _ => None,
    };
    if let Some(args) = positional.as_ref().or(match &cli.command {
        Some(Sub::Handin(args)) => Some(args),
        _ => None,
    }) {
        if !args.path.exists() {
            return Err(common::cli::usage(format!(
                "{}: no such hand-in folder or zip",
                args.path.display()
            )));
        }
        let options = course_options(&args.course, args.out.clone())?;
        let grades = grade_course(std::slice::from_ref(&args.path), &options)?;
        let all = grades.iter().all(|g| g.score() == g.max());
        return Ok(if all {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if let Some(Sub::Class(args)) = &cli.command {
        let paths = course::class_handins(&args.dir).map_err(common::cli::usage)?;
        let options = course_options(&args.course, Some(args.out.clone()))?;
        grade_course(&paths, &options)?;
        return Ok(ExitCode::SUCCESS);
    }
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
