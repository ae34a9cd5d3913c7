//! The grading run: which cases, in what order, each within its time
//! limit, and the table and score they make.

use crate::bins::{Executables, Layout, Program};
use crate::proc::{self, Finished, Running};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a case checks: `Ok` passes, `Err(why)` fails.
pub type Check = Box<dyn FnOnce(&Ctx) -> Result<(), String> + Send>;

/// One graded behaviour.
pub struct Case {
    pub part: u8,
    pub name: String,
    /// The executables it runs; a missing one fails the case unrun.
    pub needs: Vec<Program>,
    /// Its time limit: every wait of the case ends by then, and the
    /// executables still running are killed.
    pub limit: Duration,
    pub check: Check,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("part", &self.part)
            .field("name", &self.name)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Case {
    pub fn new(
        part: u8,
        name: impl Into<String>,
        needs: &[Program],
        limit: Duration,
        check: impl FnOnce(&Ctx) -> Result<(), String> + Send + 'static,
    ) -> Case {
        Case {
            part,
            name: name.into(),
            needs: needs.to_vec(),
            limit,
            check: Box::new(check),
        }
    }
}

/// What a case has at hand while it runs.
#[derive(Debug)]
pub struct Ctx {
    exes: Arc<Executables>,
    /// Every wait of the case ends by then.
    pub deadline: Instant,
    /// A folder of the grading run's own (certificates).
    pub tmp: PathBuf,
}

impl Ctx {
    /// The path of `program` (the runner checked it exists).
    pub fn exe(&self, program: Program) -> Result<PathBuf, String> {
        self.exes.find(program)
    }

    /// Starts `program ARGS...`.
    pub fn spawn<A: AsRef<str>>(
        &self,
        program: Program,
        args: &[A],
        stdin: Option<Vec<u8>>,
    ) -> Result<Running, String> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        proc::spawn(&self.exe(program)?, &args, stdin)
    }

    /// Runs `program ARGS...` to completion within the case's time, at most
    /// `max` bytes of stdout kept.
    pub fn run<A: AsRef<str>>(
        &self,
        program: Program,
        args: &[A],
        max: usize,
    ) -> Result<Finished, String> {
        self.spawn(program, args, None)?.finish(self.deadline, max)
    }

    /// The sooner of the case's deadline and `d` from now.
    pub fn within(&self, d: Duration) -> Instant {
        (Instant::now() + d).min(self.deadline)
    }
}

/// A case's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub part: u8,
    pub name: String,
    pub verdict: Verdict,
}

/// The table's rows and the score they make.
#[derive(Debug, Default)]
pub struct Summary {
    pub rows: Vec<Row>,
}

impl Summary {
    pub fn passed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Pass)
            .count()
    }

    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail(_)))
            .count()
    }

    /// Cases that ran or should have (skipped ones do not count).
    pub fn graded(&self) -> usize {
        self.passed() + self.failed()
    }

    /// The verdict of the case named `name`.
    pub fn verdict(&self, name: &str) -> Option<&Verdict> {
        self.rows
            .iter()
            .find(|r| r.name == name)
            .map(|r| &r.verdict)
    }
}

/// How to grade.
#[derive(Debug, Clone)]
pub struct Options {
    pub bin_dir: PathBuf,
    /// Parts to grade; empty: all (Part 1 only when its executable is there).
    pub parts: Vec<u8>,
    /// Only the cases whose name contains one of these.
    pub filters: Vec<String>,
    /// Replaces every case's own time limit.
    pub time_limit: Option<Duration>,
    /// Seeds the random cuts of the Part 2 streams.
    pub seed: u64,
}

/// The width of the case column.
const NAME_WIDTH: usize = 58;

/// Grades the executables of `options.bin_dir`, printing the table to `out`
/// row by row as the cases finish, then the score.
pub fn grade(options: &Options, out: &mut impl Write) -> anyhow::Result<Summary> {
    let exes = Arc::new(Executables::detect(&options.bin_dir)?);
    let tmp = TempDir::new()?;
    let settings = crate::Settings { seed: options.seed };
    let mut cases = crate::all_cases(&settings);
    if !options.filters.is_empty() {
        cases.retain(|c| options.filters.iter().any(|f| c.name.contains(f.as_str())));
        if cases.is_empty() {
            return Err(common::cli::usage(format!(
                "no case name contains {}",
                options.filters.join(" or ")
            )));
        }
    }
    writeln!(out, "lab_grader: {}", exes.describe())?;
    writeln!(
        out,
        "lab_grader: lab_server on loopback, random cuts seeded with {} (--seed to replay)",
        options.seed
    )?;
    writeln!(out)?;
    writeln!(out, "{:<NAME_WIDTH$} RESULT  WHY", "CASE")?;
    let mut summary = Summary::default();
    let mut parts: Vec<u8> = cases.iter().map(|c| c.part).collect();
    parts.dedup();
    for part in parts {
        let (part_cases, rest): (Vec<Case>, Vec<Case>) =
            cases.into_iter().partition(|c| c.part == part);
        cases = rest;
        if let Some(reason) = skip_reason(options, &exes, part) {
            let row = Row {
                part,
                name: format!("part{part}: all {} cases", part_cases.len()),
                verdict: Verdict::Skip(reason),
            };
            print_row(out, &row)?;
            summary.rows.push(row);
            continue;
        }
        for case in part_cases {
            let row = run_case(case, &exes, options.time_limit, tmp.path());
            print_row(out, &row)?;
            summary.rows.push(row);
        }
    }
    writeln!(out)?;
    let mut by_part: BTreeMap<u8, (usize, usize)> = BTreeMap::new();
    for row in &summary.rows {
        let entry = by_part.entry(row.part).or_default();
        match row.verdict {
            Verdict::Pass => {
                entry.0 += 1;
                entry.1 += 1;
            }
            Verdict::Fail(_) => entry.1 += 1,
            Verdict::Skip(_) => {}
        }
    }
    let parts: Vec<String> = by_part
        .iter()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(part, (p, n))| format!("part {part} {p}/{n}"))
        .collect();
    let graded = summary.graded();
    let percent = if graded == 0 {
        0.0
    } else {
        100.0 * summary.passed() as f64 / graded as f64
    };
    writeln!(
        out,
        "score: {}/{graded} cases passed ({percent:.1}%){}{}",
        summary.passed(),
        if parts.is_empty() { "" } else { "; " },
        parts.join(", ")
    )?;
    out.flush()?;
    Ok(summary)
}

/// Why a whole part is skipped, if it is.
fn skip_reason(options: &Options, exes: &Executables, part: u8) -> Option<String> {
    if !options.parts.is_empty() {
        return (!options.parts.contains(&part)).then(|| "not selected (--part)".to_string());
    }
    // Part 1 is optional: the course does not collect it.
    if part == 1 {
        if let Layout::Submission(_) = exes.layout {
            return Some("Part 1 is not handed in (optional; --part 1 to insist)".to_string());
        }
        if exes.find(Program::Part1Echo).is_err() {
            return Some("optional, and part1_echo is not there (--part 1 to insist)".to_string());
        }
    }
    None
}

/// Runs one case on a thread of its own, so that a case that outlives its
/// limit (a bug of the grader's, since every wait has a deadline) or
/// panics becomes a failed row instead of a stuck or dead grader.
fn run_case(case: Case, exes: &Arc<Executables>, limit: Option<Duration>, tmp: &Path) -> Row {
    let row = |verdict| Row {
        part: case.part,
        name: case.name.clone(),
        verdict,
    };
    for program in &case.needs {
        if let Err(why) = exes.find(*program) {
            return row(Verdict::Fail(why));
        }
    }
    let limit = limit.unwrap_or(case.limit);
    let ctx = Ctx {
        exes: exes.clone(),
        deadline: Instant::now() + limit,
        tmp: tmp.to_path_buf(),
    };
    let (tx, rx) = mpsc::channel();
    let check = case.check;
    let spawned = std::thread::Builder::new()
        .name("case".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&ctx)));
            let _ = tx.send(result);
        });
    if let Err(err) = spawned {
        return row(Verdict::Fail(format!(
            "grader: no thread for the case: {err}"
        )));
    }
    // Five seconds of grace: killing children and closing peers takes a
    // moment after the deadline.
    match rx.recv_timeout(limit + Duration::from_secs(5)) {
        Ok(Ok(Ok(()))) => row(Verdict::Pass),
        Ok(Ok(Err(why))) => row(Verdict::Fail(why)),
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            row(Verdict::Fail(format!(
                "grader bug: the case panicked: {what}"
            )))
        }
        Err(_) => row(Verdict::Fail(format!(
            "timed out after {} (time limit)",
            proc::secs(limit)
        ))),
    }
}

fn print_row(out: &mut impl Write, row: &Row) -> std::io::Result<()> {
    let (result, why) = match &row.verdict {
        Verdict::Pass => ("PASS", ""),
        Verdict::Fail(why) => ("FAIL", why.as_str()),
        Verdict::Skip(why) => ("SKIP", why.as_str()),
    };
    // One line per row, whatever a child printed into the explanation.
    let why = why.replace(['\n', '\r'], " ");
    writeln!(out, "{:<NAME_WIDTH$} {result:<6}  {why}", row.name)?;
    out.flush()
}

/// A folder for one grading run's files, removed at the end.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> std::io::Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("lab_grader-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
