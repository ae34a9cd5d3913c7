//! Grading hand-ins as the course received them (`lab_grader handin
//! Lab3_<C1>_<C2>[.zip]`, `lab_grader class DIR --out OUT`): programs in
//! any language, called with the course's convention, each run in a box.
//!
//! # The convention
//! Each program gets only the command on its command line
//! (`Part2_<C1>_<C2> CMD_short:0`), reaches `tcpip.epfl.ch` by name on the
//! lab's ports (5003, 5004, 5006, the group 224.1.1.1:5005), the sender
//! reads its text from stdin, and the Part 6 server runs in a copy of the
//! hand-in folder with its `<C1>_cert.pem` and `<C1>_key.pem` and must
//! listen on `localhost:5003`.
//!
//! # The tests, and what passes
//! Every test runs in a network namespace of its own ([`sandbox`]), with
//! the servers the grader starts inside it on the lab's ports, so that
//! tests run in parallel (`--jobs`) without meeting each other.
//!
//! | part | test | the program passes when |
//! |---|---|---|
//! | Part2 | `CMD_short:0`, 20 messages | [`verdict::messages`] |
//! | Part2 | `CMD_short:1`, 4 messages | [`verdict::messages`] |
//! | Part2 | `CMD_floodme`, 56 KiB | [`verdict::flood`] |
//! | Part3 | IPv4-only server, IPv6-only server | it prints an offset the server sent |
//! | Part4_Receiver | the TV channel, 4 s | it prints at least 3 of the channel's lines |
//! | Part4_Sender | a 320-character opinion on stdin | the group gets ID + text, the channel answers, it does not crash at the end of input |
//! | Part5 | `CMD_short:0`, `CMD_floodme` | as Part 2 |
//! | Part6_PMU | the staff's client ([`tls`]) | it received `This is PMU data 0` |
//!
//! - Parts 2 and 5 meet `lab_server` (started in-process with explicit
//!   settings: messages from 0, binary WebSocket frames, a 56 KiB flood).
//! - Part 3 meets the course's reset server, rebuilt here because the
//!   verdict needs the offsets it answered: only `RESET:20` gets
//!   `OFFSET:<X>` (X in 0…20), anything else `Wrong command.`, each request
//!   dropped with probability 0.5, the first one always (so that a client
//!   that never retransmits fails every time, not three times in four),
//!   the IPv6 server `IPV6_V6ONLY`.
//! - Part 4: the TV channel (`lab_server`'s, one line every 0.3 s) and the
//!   staff's recorder of the group run in a second namespace, linked to the
//!   program's by a veth pair that carries multicast, as the course's bot
//!   sat on another machine: a receiver that never joins the group gets
//!   nothing (no membership on its interface), and one that binds port
//!   5005 without `SO_REUSEADDR` meets no other socket on it.
//! - Part 6 is the course's verdict; a server that never closes, or closes
//!   without `close_notify`, passes with a warning.
//!
//! A program that has printed all it should is given half a second more
//! for what else it prints, then killed if it still runs (`while True:
//! pass`): the grade is on its output, and the report warns that it never
//! exited. A program that crashes after printing everything passes with
//! the crash reported — except the sender, which must survive the end of
//! its input.
//!
//! # Scores
//! Each test is a point: Part2 3, Part3 2, Part4_Receiver 1, Part4_Sender
//! 1, Part5 2, Part6_PMU 1 (10 in all). A part is `PASS` when all its
//! tests pass, `MISSING` when the hand-in has no program for it.
//! `result.json` has the course's form: `max_grade` 10, `score` the points,
//! `success` 1 when all passed.
//!
//! # Without root
//! No namespaces and no other user: only Part 6 is graded (its server
//! listens on the machine's loopback, the staff's client is the grader's),
//! and the other tests say `SKIP: needs root`. Nothing a hand-in sends
//! ever goes to `tcpip.epfl.ch`.

pub mod handin;
pub mod sandbox;
pub mod tls;
pub mod verdict;

use handin::{Handin, Part, Program};
use lab_server::{Config, LabServer, WsFrames};
use sandbox::{BoxSpec, Limits, Netns};
use std::collections::VecDeque;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::proc::{self, Next, Running};

/// Messages of `CMD_short:0` and `CMD_short:1`.
pub const SHORT0_MESSAGES: u64 = 20;
pub const SHORT1_MESSAGES: u64 = 4;
/// The size of the `CMD_floodme` text.
pub const FLOOD_BYTES: u64 = 56 * 1024;
/// The lab's ports.
const PMU_PORT: u16 = 5003;
const RESET_PORT: u16 = 5004;
const TV_PORT: u16 = 5005;
const WS_PORT: u16 = 5006;
const TV_GROUP: Ipv4Addr = Ipv4Addr::new(224, 1, 1, 1);
const TV_INTERVAL: Duration = Duration::from_millis(300);
/// What a program that has printed everything gets to print more.
const GRACE: Duration = Duration::from_millis(500);
/// How long the Part 6 server has to listen on port 5003.
const LISTEN_WAIT: Duration = Duration::from_secs(8);
/// Stdout kept per test.
const STDOUT_KEPT: usize = 4 << 20;

/// One test of the course's grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    Short0,
    Short1,
    Flood,
    ResetV4,
    ResetV6,
    Receiver,
    Sender,
    WsShort0,
    WsFlood,
    TlsServer,
}

impl Test {
    pub const ALL: [Test; 10] = [
        Test::Short0,
        Test::Short1,
        Test::Flood,
        Test::ResetV4,
        Test::ResetV6,
        Test::Receiver,
        Test::Sender,
        Test::WsShort0,
        Test::WsFlood,
        Test::TlsServer,
    ];

    pub fn part(self) -> Part {
        match self {
            Test::Short0 | Test::Short1 | Test::Flood => Part::Part2,
            Test::ResetV4 | Test::ResetV6 => Part::Part3,
            Test::Receiver => Part::Part4Receiver,
            Test::Sender => Part::Part4Sender,
            Test::WsShort0 | Test::WsFlood => Part::Part5,
            Test::TlsServer => Part::Part6Pmu,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Test::Short0 | Test::WsShort0 => "CMD_short:0",
            Test::Short1 => "CMD_short:1",
            Test::Flood | Test::WsFlood => "CMD_floodme",
            Test::ResetV4 => "IPv4 server",
            Test::ResetV6 => "IPv6 server",
            Test::Receiver => "TV channel",
            Test::Sender => "opinion",
            Test::TlsServer => "staff client",
        }
    }

    /// The file name of its stdout log: `Part2_CMD_short_0.stdout`.
    pub fn log_name(self) -> String {
        let name: String = self
            .name()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("{}_{name}", self.part().label())
    }
}

/// How to grade.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tests run at once.
    pub jobs: usize,
    /// The course's CA certificate: the hand-in's own certificate is then
    /// checked against it instead of being re-certified.
    pub ca: Option<PathBuf>,
    pub limits: Limits,
    /// Where grades.csv, result.json and the logs go.
    pub out: Option<PathBuf>,
}

/// One test's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub test: Test,
    /// `Ok(warnings)` passes; `Err(why)` fails.
    pub result: Result<Vec<String>, String>,
    /// Not run (no root).
    pub skipped: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub secs: f64,
}

/// One row of grades.csv.
#[derive(Debug, Clone)]
pub struct PartRow {
    pub part: Part,
    pub verdict: &'static str,
    pub score: u32,
    pub max: u32,
    pub reason: String,
}

/// A group's grade.
#[derive(Debug)]
pub struct GroupGrade {
    pub group: String,
    pub rows: Vec<PartRow>,
    pub findings: Vec<String>,
    pub outcomes: Vec<Outcome>,
    pub secs: f64,
}

impl GroupGrade {
    pub fn score(&self) -> u32 {
        self.rows.iter().map(|r| r.score).sum()
    }
    pub fn max(&self) -> u32 {
        self.rows.iter().map(|r| r.max).sum()
    }
    pub fn row(&self, part: Part) -> &PartRow {
        self.rows
            .iter()
            .find(|r| r.part == part)
            .expect("a row per part")
    }
}

/// What every test shares.
struct Env {
    boxed: bool,
    tmp: crate::grade::TempDir,
    hosts: PathBuf,
    ca: tls::Ca,
    ca_pem: PathBuf,
    course_ca: Option<PathBuf>,
    limits: Limits,
}

impl Env {
    fn new(options: &Options) -> Result<Env, String> {
        let boxed = sandbox::can_box();
        if boxed {
            sandbox::remove_stale_namespaces();
        }
        let tmp = crate::grade::TempDir::new().map_err(|e| format!("grader: temp folder: {e}"))?;
        // The boxes' users must reach their copies under it.
        let _ = std::fs::set_permissions(
            tmp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        );
        let hosts = tmp.path().join("hosts");
        std::fs::write(&hosts, sandbox::HOSTS).map_err(|e| format!("grader: hosts: {e}"))?;
        let ca = tls::Ca::new()?;
        let ca_pem = tmp.path().join("grader_ca.pem");
        std::fs::write(&ca_pem, ca.pem()).map_err(|e| format!("grader: CA: {e}"))?;
        Ok(Env {
            boxed,
            hosts,
            ca,
            ca_pem,
            course_ca: options.ca.clone(),
            limits: options.limits,
            tmp,
        })
    }
}

/// Grades the hand-ins at `paths` (folders or zips), `options.jobs` tests
/// at a time, calling `progress` as each group is done; writes the files
/// of `options.out`.
pub fn grade_all(
    paths: &[PathBuf],
    options: &Options,
    progress: &mut (dyn FnMut(&GroupGrade, usize, usize) + Send),
) -> Result<Vec<GroupGrade>, String> {
    let env = Env::new(options)?;
    if !env.boxed {
        eprintln!(
            "lab_grader: not root (or no `ip`): no network namespace and no other user, so only \
             Part 6 is graded; the other tests are skipped (run as root to grade them)"
        );
    }
    let mut handins: Vec<Result<Handin, (String, String)>> = Vec::new();
    for path in paths {
        handins.push(Handin::open(path).map_err(|why| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = name.strip_suffix(".zip").unwrap_or(&name).to_string();
            (name, why)
        }));
    }
    let mut queue = VecDeque::new();
    let mut left = Vec::new();
    for (g, handin) in handins.iter().enumerate() {
        let tests: Vec<Test> = match handin {
            Ok(h) => Test::ALL
                .into_iter()
                .filter(|t| h.programs.contains_key(&t.part()))
                .collect(),
            Err(_) => Vec::new(),
        };
        left.push(AtomicUsize::new(tests.len()));
        queue.extend(tests.into_iter().map(|t| (g, t)));
    }
    let queue = Mutex::new(queue);
    let outcomes: Vec<Mutex<Vec<Outcome>>> = handins.iter().map(|_| Mutex::default()).collect();
    let started: Vec<Mutex<Option<Instant>>> = handins.iter().map(|_| Mutex::default()).collect();
    let grades: Mutex<Vec<Option<GroupGrade>>> = Mutex::new(handins.iter().map(|_| None).collect());
    let done = AtomicUsize::new(0);
    let total = handins.len();
    let progress = Mutex::new(progress);
    let finish = |g: usize| {
        let secs = started[g]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|t| t.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        let outs = std::mem::take(&mut *outcomes[g].lock().unwrap_or_else(|e| e.into_inner()));
        let grade = summarize(&handins[g], outs, secs);
        if let Some(out) = &options.out
            && let Err(why) = write_group(out, &grade)
        {
            eprintln!("lab_grader: {why}");
        }
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        (progress.lock().unwrap_or_else(|e| e.into_inner()))(&grade, n, total);
        grades.lock().unwrap_or_else(|e| e.into_inner())[g] = Some(grade);
    };
    for (g, n) in left.iter().enumerate() {
        if n.load(Ordering::SeqCst) == 0 {
            finish(g);
        }
    }
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some((g, test)) = next else { return };
                    let Ok(handin) = &handins[g] else { continue };
                    started[g]
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert_with(Instant::now);
                    let outcome = run_test(&env, handin, test);
                    outcomes[g]
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(outcome);
                    if left[g].fetch_sub(1, Ordering::SeqCst) == 1 {
                        finish(g);
                    }
                }
            });
        }
    });
    let grades: Vec<GroupGrade> = grades
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect();
    if let Some(out) = &options.out {
        write_csv(out, &grades)?;
    }
    Ok(grades)
}

fn summarize(
    handin: &Result<Handin, (String, String)>,
    mut outs: Vec<Outcome>,
    secs: f64,
) -> GroupGrade {
    outs.sort_by_key(|o| Test::ALL.iter().position(|t| *t == o.test));
    let (group, findings) = match handin {
        Ok(h) => (h.group.clone(), h.findings.clone()),
        Err((name, why)) => (
            name.clone(),
            vec![format!("cannot open the hand-in: {why}")],
        ),
    };
    let mut rows = Vec::new();
    for part in Part::ALL {
        let tests: Vec<&Outcome> = outs.iter().filter(|o| o.test.part() == part).collect();
        let max = Test::ALL.iter().filter(|t| t.part() == part).count() as u32;
        let program = handin.as_ref().ok().and_then(|h| h.programs.get(&part));
        let row = match program {
            None => PartRow {
                part,
                verdict: "MISSING",
                score: 0,
                max,
                reason: match handin {
                    Ok(_) => format!("no {}_… program in the hand-in", part.label()),
                    Err((_, why)) => format!("cannot open the hand-in: {why}"),
                },
            },
            Some(program) => {
                let score = tests
                    .iter()
                    .filter(|o| o.result.is_ok() && !o.skipped)
                    .count() as u32;
                let mut reasons: Vec<String> = handin
                    .as_ref()
                    .ok()
                    .and_then(|h| h.part_notes.get(&part))
                    .cloned()
                    .unwrap_or_default();
                for o in &tests {
                    match &o.result {
                        Err(why) if o.skipped => {
                            reasons.push(format!("{}: SKIP {why}", o.test.name()))
                        }
                        Err(why) => reasons.push(format!("{}: {why}", o.test.name())),
                        Ok(notes) => {
                            for n in notes {
                                reasons.push(format!("{}: warning: {n}", o.test.name()));
                            }
                        }
                    }
                }
                let skipped = tests.iter().any(|o| o.skipped);
                let verdict = if score == max {
                    "PASS"
                } else if skipped && tests.iter().all(|o| o.skipped || o.result.is_ok()) {
                    "SKIP"
                } else {
                    "FAIL"
                };
                PartRow {
                    part,
                    verdict,
                    score,
                    max,
                    reason: format!("{}: {}", program.file, reasons.join("; "))
                        .trim_end_matches(": ")
                        .to_string(),
                }
            }
        };
        rows.push(row);
    }
    GroupGrade {
        group,
        rows,
        findings,
        outcomes: outs,
        secs,
    }
}

fn csv_field(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn write_csv(out: &Path, grades: &[GroupGrade]) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let mut csv = String::from("group,part,verdict,score,max,reason\n");
    for g in grades {
        for r in &g.rows {
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv_field(&g.group),
                r.part.label(),
                r.verdict,
                r.score,
                r.max,
                csv_field(&r.reason)
            ));
        }
    }
    let path = out.join("grades.csv");
    std::fs::write(&path, csv).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn write_group(out: &Path, g: &GroupGrade) -> Result<(), String> {
    let dir = out.join(&g.group);
    let err = |e: std::io::Error| format!("writing {}: {e}", dir.display());
    std::fs::create_dir_all(&dir).map_err(err)?;
    let json = format!(
        "{{\"max_grade\": {}, \"score\": {}, \"success\": {}}}\n",
        g.max(),
        g.score(),
        u8::from(g.score() == g.max())
    );
    std::fs::write(dir.join("result.json"), json).map_err(err)?;
    for o in &g.outcomes {
        std::fs::write(dir.join(format!("{}.stdout", o.test.log_name())), &o.stdout)
            .map_err(err)?;
        if !o.stderr.is_empty() {
            std::fs::write(dir.join(format!("{}.stderr", o.test.log_name())), &o.stderr)
                .map_err(err)?;
        }
    }
    let mut report = Vec::new();
    let _ = print_table(&mut report, std::slice::from_ref(g));
    for f in &g.findings {
        let _ = writeln!(report, "note: {f}");
    }
    for o in &g.outcomes {
        let _ = writeln!(
            report,
            "{} {}: {} ({:.1} s)",
            o.test.part().label(),
            o.test.name(),
            match &o.result {
                Ok(_) if !o.skipped => "pass".to_string(),
                Ok(_) => "skipped".to_string(),
                Err(why) => format!("fail: {why}"),
            },
            o.secs
        );
    }
    std::fs::write(dir.join("report.txt"), report).map_err(err)
}

/// The table of grades: one line per group and part.
pub fn print_table(out: &mut impl Write, grades: &[GroupGrade]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<22} {:<15} {:<8} {:>5}  REASON",
        "GROUP", "PART", "VERDICT", "SCORE"
    )?;
    for g in grades {
        for r in &g.rows {
            let mut reason = r.reason.clone();
            if reason.len() > 150 {
                let mut cut = 150;
                while !reason.is_char_boundary(cut) {
                    cut -= 1;
                }
                reason.truncate(cut);
                reason.push('…');
            }
            writeln!(
                out,
                "{:<22} {:<15} {:<8} {:>5}  {reason}",
                g.group,
                r.part.label(),
                r.verdict,
                format!("{}/{}", r.score, r.max)
            )?;
        }
    }
    Ok(())
}

/// A one-line summary of a group, for the progress line.
pub fn progress_line(g: &GroupGrade, n: usize, total: usize) -> String {
    let parts: Vec<String> = g
        .rows
        .iter()
        .map(|r| format!("{} {}", r.part.label(), r.verdict))
        .collect();
    format!(
        "lab_grader: [{n}/{total}] {}: {}/{} in {:.1} s ({})",
        g.group,
        g.score(),
        g.max(),
        g.secs,
        parts.join(", ")
    )
}

/// The hand-ins of a class folder: its `Lab3_*` folders and zips (a zip
/// beside a folder of the same name is the folder's copy, left out).
pub fn class_handins(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| handin::is_handin_name(p))
        .collect();
    paths.sort();
    let folders: Vec<PathBuf> = paths.iter().filter(|p| p.is_dir()).cloned().collect();
    paths.retain(|p| p.is_dir() || !folders.contains(&p.with_extension("")));
    if paths.is_empty() {
        return Err(format!(
            "{} holds no Lab3_* folder or zip to grade",
            dir.display()
        ));
    }
    Ok(paths)
}

// ---------------------------------------------------------------------
// One test.

static COPIES: AtomicUsize = AtomicUsize::new(0);

fn run_test(env: &Env, handin: &Handin, test: Test) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome {
        test,
        result: Err(String::new()),
        skipped: false,
        stdout: Vec::new(),
        stderr: String::new(),
        secs: 0.0,
    };
    let program = &handin.programs[&test.part()];
    if let Err(why) = &program.runner {
        outcome.result = Err(why.clone());
        return outcome;
    }
    if !env.boxed && test != Test::TlsServer {
        outcome.skipped = true;
        outcome.result = Err("needs root (a network namespace and a user of its own)".into());
        return outcome;
    }
    let uid = env.boxed.then(sandbox::fresh_uid);
    let dir = env.tmp.path().join(format!(
        "{}-{}",
        handin
            .group
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "-"),
        COPIES.fetch_add(1, Ordering::SeqCst)
    ));
    let spec = BoxSpec {
        uid,
        dir: dir.clone(),
        hosts: env.boxed.then(|| env.hosts.clone()),
        limits: env.limits,
    };
    let body = sandbox::copy_tree(&handin.dir, &dir, uid)
        .map_err(|e| format!("grader: copying the hand-in: {e}"))
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.join(&program.file),
                std::fs::Permissions::from_mode(0o755),
            )
            .map_err(|e| format!("grader: chmod: {e}"))
        })
        .and_then(|()| {
            let ns = if env.boxed { Some(Netns::new()?) } else { None };
            sandbox::in_netns(ns.as_ref(), || {
                let t = Tester {
                    env,
                    handin,
                    program,
                    spec: &spec,
                    ns: ns.as_ref(),
                };
                t.run(test)
            })
        });
    if let Some(uid) = uid {
        sandbox::sweep_uid(uid);
    }
    let _ = std::fs::remove_dir_all(&dir);
    match body {
        Ok(body) => {
            outcome.result = body.result;
            outcome.stdout = body.stdout;
            outcome.stderr = body.stderr;
            outcome.skipped = body.skipped;
        }
        Err(why) => outcome.result = Err(why),
    }
    outcome.secs = started.elapsed().as_secs_f64();
    outcome
}

/// What a test body found.
#[derive(Debug)]
struct Body {
    result: Result<Vec<String>, String>,
    stdout: Vec<u8>,
    stderr: String,
    skipped: bool,
}

impl Body {
    fn fail(why: String) -> Body {
        Body {
            result: Err(why),
            stdout: Vec::new(),
            stderr: String::new(),
            skipped: false,
        }
    }
}

/// A program's run: its output and how it ended.
struct Ran {
    out: Vec<u8>,
    /// `None`: still running at the end (killed).
    exit: Option<std::process::ExitStatus>,
    stderr: String,
    secs: f64,
}

impl Ran {
    /// Warnings on how it ended.
    fn exit_notes(&self) -> Vec<String> {
        match self.exit {
            None => vec![format!("did not exit (killed after {:.1} s)", self.secs)],
            Some(s) if !s.success() => vec![proc::failed_status(s, &self.stderr)],
            Some(_) => Vec::new(),
        }
    }

    fn body(self, result: Result<Vec<String>, String>) -> Body {
        let result = match result {
            Ok(mut notes) => {
                notes.extend(self.exit_notes());
                Ok(notes)
            }
            Err(why) => Err(match self.exit {
                Some(s) if !s.success() && !why.contains(&proc::failed_status(s, &self.stderr)) => {
                    format!("{why}; {}", proc::failed_status(s, &self.stderr))
                }
                None if self.out.is_empty() => {
                    format!("{why}; it printed nothing in {:.1} s", self.secs)
                }
                _ => why,
            }),
        };
        Body {
            result,
            stdout: self.out,
            stderr: self.stderr,
            skipped: false,
        }
    }
}

/// Reads `run`'s stdout until it ends, `window` passes, or `done` says the
/// program has shown what it should (then [`GRACE`] more); kills it.
fn collect(mut run: Running, window: Duration, mut done: impl FnMut(&[u8]) -> bool) -> Ran {
    let start = Instant::now();
    let mut deadline = start + window;
    let mut out = Vec::new();
    let mut finished = false;
    loop {
        let step = (Instant::now() + Duration::from_millis(100)).min(deadline);
        match run.next_chunk(step) {
            Next::Data(_, bytes) => {
                let room = STDOUT_KEPT.saturating_sub(out.len());
                out.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            Next::Eof => break,
            Next::Timeout if Instant::now() >= deadline => break,
            Next::Timeout => {}
        }
        if !finished && done(&out) {
            finished = true;
            deadline = deadline.min(Instant::now() + GRACE);
        }
    }
    let exit = run.wait_exit((Instant::now() + Duration::from_millis(300)).max(deadline));
    run.kill();
    Ran {
        out,
        exit,
        stderr: run.stderr(),
        secs: start.elapsed().as_secs_f64(),
    }
}

struct Tester<'a> {
    env: &'a Env,
    handin: &'a Handin,
    program: &'a Program,
    spec: &'a BoxSpec,
    ns: Option<&'a Netns>,
}

impl Tester<'_> {
    fn start(&self, args: &[&str], stdin: Option<Vec<u8>>) -> Result<Running, String> {
        let argv = self.program.argv(&self.spec.dir, args)?;
        let cmd = sandbox::command(&argv, self.spec)?;
        proc::spawn_command(cmd, self.program.file.clone(), stdin, true)
    }

    fn run(&self, test: Test) -> Body {
        let result = match test {
            Test::Short0 => self.pmu(
                false,
                "CMD_short:0",
                SHORT0_MESSAGES,
                Duration::from_secs(8),
            ),
            Test::Short1 => self.pmu(
                false,
                "CMD_short:1",
                SHORT1_MESSAGES,
                Duration::from_secs(10),
            ),
            Test::Flood => self.flood(false),
            Test::WsShort0 => {
                self.pmu(true, "CMD_short:0", SHORT0_MESSAGES, Duration::from_secs(8))
            }
            Test::WsFlood => self.flood(true),
            Test::ResetV4 => self.reset(false),
            Test::ResetV6 => self.reset(true),
            Test::Receiver => self.tv(false),
            Test::Sender => self.tv(true),
            Test::TlsServer => self.tls(),
        };
        result.unwrap_or_else(Body::fail)
    }

    fn lab_server(&self, ws: bool, messages: u64) -> Result<LabServer, String> {
        let config = Config {
            bind: vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
            tcp_port: (!ws).then_some(PMU_PORT),
            udp_port: None,
            ws_port: ws.then_some(WS_PORT),
            mcast_port: None,
            messages,
            first_index: 0,
            flood_bytes: FLOOD_BYTES,
            ws_frames: WsFrames::Binary,
            log: false,
            ..Config::default()
        };
        LabServer::start(config).map_err(|e| format!("grader: starting lab_server: {e}"))
    }

    fn pmu(&self, ws: bool, command: &str, n: u64, window: Duration) -> Result<Body, String> {
        let server = self.lab_server(ws, n)?;
        let run = self.start(&[command], None)?;
        let ran = collect(run, window, |out| verdict::messages(out, n).is_ok());
        drop(server);
        let result = verdict::messages(&ran.out, n);
        Ok(ran.body(result))
    }

    fn flood(&self, ws: bool) -> Result<Body, String> {
        let server = self.lab_server(ws, SHORT0_MESSAGES)?;
        let text = server.flood();
        let tail = &text[text.len().saturating_sub(64)..];
        let run = self.start(&["CMD_floodme"], None)?;
        let ran = collect(run, Duration::from_secs(8), |out| {
            out.windows(tail.len()).rev().take(4096).any(|w| w == tail)
        });
        drop(server);
        let result = verdict::flood(&ran.out, &text);
        Ok(ran.body(result))
    }

    fn reset(&self, v6: bool) -> Result<Body, String> {
        let stop = AtomicBool::new(false);
        let log = Mutex::new(ResetLog::default());
        let socket = reset_socket(v6)?;
        std::thread::scope(|scope| {
            scope.spawn(|| serve_reset(&socket, &stop, &log));
            let run = self.start(&[], None);
            let ran = run.map(|run| {
                collect(run, Duration::from_secs(15), |out| {
                    let answered = log
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .answered
                        .clone();
                    verdict::offset(out, &answered).is_some()
                })
            });
            stop.store(true, Ordering::SeqCst);
            let ran = ran?;
            let log = log.lock().unwrap_or_else(|e| e.into_inner());
            let family = if v6 { "IPv6" } else { "IPv4" };
            let result = match verdict::offset(&ran.out, &log.answered) {
                Some(_) => Ok(Vec::new()),
                None if log.requests == 0 => Err(format!(
                    "no request reached the {family}-only server on port {RESET_PORT}"
                )),
                None if log.requests == 1 => Err(format!(
                    "1 request reached the {family}-only server (dropped, as the course server \
                     drops half) and no other: it never retransmitted"
                )),
                None if !log.wrong.is_empty() => Err(format!(
                    "sent {} instead of RESET:20 (answered Wrong command.)",
                    verdict::quote(&String::from_utf8_lossy(&log.wrong[0]))
                )),
                None if log.answered.is_empty() => Err(format!(
                    "{} requests, none answered (loss 0.5) before it gave up",
                    log.requests
                )),
                None => Err(format!(
                    "the server answered {} of its {} requests (OFFSET:{} first) and it printed \
                     none of those offsets",
                    log.answered.len(),
                    log.requests,
                    log.answered[0]
                )),
            };
            Ok(ran.body(result))
        })
    }

    fn tv(&self, sender: bool) -> Result<Body, String> {
        let p = self.ns.ok_or("grader bug: Part 4 without a namespace")?;
        let t = Netns::new()?;
        p.ip(&[
            "link", "add", "l3ga", "type", "veth", "peer", "name", "l3gb", "netns", &t.name,
        ])?;
        p.ip(&["addr", "add", "10.53.0.1/24", "dev", "l3ga"])?;
        p.ip(&["link", "set", "l3ga", "up"])?;
        p.ip(&["route", "add", "224.0.0.0/4", "dev", "l3ga"])?;
        t.ip(&["addr", "add", "10.53.0.2/24", "dev", "l3gb"])?;
        t.ip(&["link", "set", "l3gb", "up"])?;
        t.ip(&["route", "add", "224.0.0.0/4", "dev", "l3gb"])?;
        let tv_ip = Ipv4Addr::new(10, 53, 0, 2);
        let stop = AtomicBool::new(false);
        let seen: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let started = (|| -> Result<(LabServer, UdpSocket), String> {
                    t.enter()?;
                    let recorder = multicast::joined_socket(
                        TV_GROUP.into(),
                        TV_PORT,
                        lab_server::Interface::V4(tv_ip),
                    )
                    .map_err(|e| format!("grader: the recorder: {e}"))?;
                    let _ = recorder.set_read_timeout(Some(Duration::from_millis(100)));
                    let config = Config {
                        bind: vec![IpAddr::V4(tv_ip)],
                        tcp_port: None,
                        udp_port: None,
                        ws_port: None,
                        mcast_group: TV_GROUP.into(),
                        mcast_port: Some(TV_PORT),
                        mcast_interface: lab_server::Interface::V4(tv_ip),
                        mcast_ttl: 1,
                        tv_interval: TV_INTERVAL,
                        log: false,
                        ..Config::default()
                    };
                    let server = LabServer::start(config)
                        .map_err(|e| format!("grader: the TV channel: {e}"))?;
                    Ok((server, recorder))
                })();
                let (server, recorder) = match started {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(why) => {
                        let _ = ready_tx.send(Err(why));
                        return;
                    }
                };
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok((n, _)) = recorder.recv_from(&mut buf) {
                        seen.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(buf[..n].to_vec());
                    }
                }
                drop(server);
            });
            let ready = ready_rx
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| "grader: the TV channel did not start".to_string())
                .and_then(|r| r);
            let result = ready.and_then(|()| {
                if sender {
                    self.sender(&seen)
                } else {
                    self.receiver(&seen)
                }
            });
            stop.store(true, Ordering::SeqCst);
            result
        })
    }

    fn receiver(&self, seen: &Mutex<Vec<Vec<u8>>>) -> Result<Body, String> {
        let run = self.start(&[], None)?;
        let ran = collect(run, Duration::from_secs(4), |_| false);
        let lines: Vec<String> = seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|d| d.strip_prefix(b"swcmTV"))
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .filter(|t| !t.trim().is_empty())
            .collect();
        let shown = verdict::lines_shown(&ran.out, &lines);
        let result = if shown >= 3 {
            Ok(Vec::new())
        } else {
            Err(format!(
                "printed {shown} of the {} lines the TV channel sent to 224.1.1.1:5005 in {:.0} s \
                 (did it join the group?)",
                lines.len(),
                ran.secs
            ))
        };
        let mut body = ran.body(result);
        if let Ok(notes) = &mut body.result {
            // A receiver runs until it is stopped: that is no warning.
            notes.retain(|n| !n.starts_with("did not exit"));
        }
        Ok(body)
    }

    fn sender(&self, seen: &Mutex<Vec<Vec<u8>>>) -> Result<Body, String> {
        let opinion: String = OPINION.chars().take(320).collect();
        let find = |seen: &[Vec<u8>]| -> (Option<[u8; 6]>, bool) {
            let id = seen.iter().find_map(|d| {
                let (id, text) = d.split_first_chunk::<6>()?;
                (id != b"swcmTV" && String::from_utf8_lossy(text).trim_end() == opinion)
                    .then_some(*id)
            });
            let answered = id.is_some_and(|id| {
                let id = String::from_utf8_lossy(&id).into_owned();
                seen.iter().any(|d| {
                    let text = String::from_utf8_lossy(d);
                    text.starts_with("swcmTV") && text.contains(&id) && !text.contains("too short")
                })
            });
            (id, answered)
        };
        let run = self.start(&[], Some(format!("{opinion}\n").into_bytes()))?;
        let ran = collect(run, Duration::from_secs(6), |_| {
            find(&seen.lock().unwrap_or_else(|e| e.into_inner())).1
        });
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until && !find(&seen.lock().unwrap_or_else(|e| e.into_inner())).1 {
            std::thread::sleep(Duration::from_millis(50));
        }
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        let (id, answered) = find(&seen);
        let others: Vec<&Vec<u8>> = seen.iter().filter(|d| !d.starts_with(b"swcmTV")).collect();
        let result = match id {
            None if others.is_empty() => {
                Err("no datagram of its reached the group 224.1.1.1:5005".to_string())
            }
            None => Err(format!(
                "sent {} to the group, not a 6-byte ID then the {}-character text read on stdin",
                verdict::quote(&String::from_utf8_lossy(others[0])),
                opinion.len()
            )),
            Some(_) if !answered => Err("the TV channel did not answer its opinion".to_string()),
            Some(_) if ran.exit.is_some_and(|s| !s.success()) => Err(format!(
                "crashed at the end of its input: {}",
                proc::failed_status(ran.exit.expect("checked"), &ran.stderr)
            )),
            Some(id) => {
                let id = String::from_utf8_lossy(&id).into_owned();
                let mut notes = Vec::new();
                if !self.handin.members.contains(&id) {
                    notes.push(format!("its ID {id:?} is not a member's number"));
                }
                Ok(notes)
            }
        };
        drop(seen);
        let mut body = ran.body(result);
        if let Ok(notes) = &mut body.result {
            for n in notes.iter_mut() {
                if n.starts_with("did not exit") {
                    *n = format!("{n} at the end of its input");
                }
            }
        }
        Ok(body)
    }

    fn tls(&self) -> Result<Body, String> {
        let dir = &self.spec.dir;
        let Some((key, cert, camipro)) = tls::key_files(dir, &self.handin.members) else {
            return Err(format!(
                "no <CAMIPRO>_key.pem in the hand-in (expected {}_key.pem)",
                self.handin
                    .members
                    .first()
                    .map(String::as_str)
                    .unwrap_or("C1")
            ));
        };
        let ca = match &self.env.course_ca {
            Some(ca) => {
                if !dir.join(&cert).is_file() {
                    return Err(format!("no {cert} beside {key} in the hand-in"));
                }
                ca.clone()
            }
            None => {
                let pem =
                    std::fs::read(dir.join(&key)).map_err(|e| format!("reading {key}: {e}"))?;
                let signed = self
                    .env
                    .ca
                    .certify(&pem, &camipro)
                    .map_err(|why| format!("{key}: {why}"))?;
                for (name, text) in [(cert.as_str(), signed), ("cacert.pem", self.env.ca.pem())] {
                    let path = dir.join(name);
                    std::fs::write(&path, text).map_err(|e| format!("grader: {name}: {e}"))?;
                    if let Some(uid) = self.spec.uid {
                        let _ = std::os::unix::fs::chown(&path, Some(uid), Some(uid));
                    }
                }
                self.env.ca_pem.clone()
            }
        };
        if self.ns.is_none() && listening().contains(&PMU_PORT) {
            let mut body = Body::fail(format!(
                "port {PMU_PORT} is in use on this machine: cannot run the server without a \
                 namespace"
            ));
            body.skipped = true;
            return Ok(body);
        }
        let mut server = self.start(&[], None)?;
        let until = Instant::now() + LISTEN_WAIT;
        let mut ports = Vec::new();
        while Instant::now() < until {
            ports = listening();
            if ports.contains(&PMU_PORT) || !server.is_running() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !ports.contains(&PMU_PORT) {
            let running = server.is_running();
            server.kill();
            let out = server.read_stdout(Instant::now() + Duration::from_millis(200), STDOUT_KEPT);
            let out = out.unwrap_or_else(|partial| partial);
            let why = if !running {
                format!(
                    "the server exited before listening on port {PMU_PORT}: {}",
                    proc::last_line(&server.stderr())
                )
            } else if ports.is_empty() {
                format!(
                    "nothing listens on localhost:{PMU_PORT} after {} s",
                    LISTEN_WAIT.as_secs()
                )
            } else {
                format!(
                    "nothing listens on localhost:{PMU_PORT} after {} s (the staff's client \
                     connects there); the server listens on {}",
                    LISTEN_WAIT.as_secs(),
                    ports
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Ok(Body {
                result: Err(why),
                stdout: out,
                stderr: server.stderr(),
                skipped: false,
            });
        }
        let python = handin::find_program("python3")
            .ok_or("grader: the staff's client needs python3, which is not installed")?;
        let client = proc::spawn(
            &python,
            &[
                "-c".to_string(),
                tls::STAFF_CLIENT.to_string(),
                ca.display().to_string(),
                "127.0.0.1".to_string(),
                PMU_PORT.to_string(),
                "4".to_string(),
            ],
            None,
        )?;
        let got = client.finish(Instant::now() + Duration::from_secs(10), STDOUT_KEPT);
        server.kill();
        let server_out = server
            .read_stdout(Instant::now() + Duration::from_millis(200), STDOUT_KEPT)
            .unwrap_or_else(|partial| partial);
        let got = got?;
        let end = got
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("#end "))
            .unwrap_or("?")
            .to_string();
        let received = String::from_utf8_lossy(&got.stdout).into_owned();
        let result = if received.contains("This is PMU data 0") {
            let mut notes = Vec::new();
            match end.as_str() {
                "close_notify" => {}
                "eof" => notes.push(
                    "closed without close_notify (a stricter client would fail it)".to_string(),
                ),
                "open" => notes.push("never closed the connection within 4 s".to_string()),
                other => notes.push(format!("the connection ended with {other}")),
            }
            if !received.contains("This is PMU data 1") {
                notes.push("sent only This is PMU data 0".to_string());
            }
            Ok(notes)
        } else if let Some(why) = end.strip_prefix("handshake ") {
            Err(format!(
                "the staff's client failed the TLS handshake: {why}"
            ))
        } else if let Some(why) = end.strip_prefix("connect ") {
            Err(format!("the staff's client could not connect: {why}"))
        } else {
            Err(format!(
                "the staff's client received {} (then: {end}), not This is PMU data 0",
                verdict::quote(&received)
            ))
        };
        let mut log = b"# what the staff's client received\n".to_vec();
        log.extend_from_slice(&got.stdout);
        log.extend_from_slice(
            format!("\n# the connection ended: {end}\n# the server's stdout\n").as_bytes(),
        );
        log.extend_from_slice(&server_out);
        Ok(Body {
            result,
            stdout: log,
            stderr: server.stderr(),
            skipped: false,
        })
    }
}

/// 320+ characters of opinion for the sender.
const OPINION: &str = "Two households, both alike in dignity, in fair Verona, where we lay our \
scene, from ancient grudge break to new mutiny, where civil blood makes civil hands unclean. \
From forth the fatal loins of these two foes a pair of star-cross'd lovers take their life; \
whose misadventured piteous overthrows do with their death bury their parents' strife. The \
fearful passage of their death-mark'd love, and the continuance of their parents' rage.";

/// The TCP ports listening in the calling thread's network namespace.
fn listening() -> Vec<u16> {
    let mut ports = Vec::new();
    for file in ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 3
                && fields[3] == "0A"
                && let Some(port) = fields[1]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                && !ports.contains(&port)
            {
                ports.push(port);
            }
        }
    }
    ports.sort();
    ports
}

#[derive(Debug, Default)]
struct ResetLog {
    requests: usize,
    wrong: Vec<Vec<u8>>,
    answered: Vec<u32>,
}

fn reset_socket(v6: bool) -> Result<UdpSocket, String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let err = |e: std::io::Error| format!("grader: the reset server: {e}");
    let socket = Socket::new(
        if v6 { Domain::IPV6 } else { Domain::IPV4 },
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .map_err(err)?;
    let addr: SocketAddr = if v6 {
        socket.set_only_v6(true).map_err(err)?;
        (Ipv6Addr::UNSPECIFIED, RESET_PORT).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, RESET_PORT).into()
    };
    socket.bind(&addr.into()).map_err(err)?;
    let socket: UdpSocket = socket.into();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(err)?;
    Ok(socket)
}

/// The course's reset server, until `stop`.
fn serve_reset(socket: &UdpSocket, stop: &AtomicBool, log: &Mutex<ResetLog>) {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if let SocketAddr::V6(a) = from
            && a.ip().to_ipv4_mapped().is_some()
        {
            continue;
        }
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        log.requests += 1;
        let request = &buf[..n];
        let right = request == b"RESET:20";
        if !right {
            log.wrong.push(request.to_vec());
        }
        if log.requests == 1 || rng.random_bool(0.5) {
            continue;
        }
        let reply = if right {
            let x = rng.random_range(0..=20u32);
            log.answered.push(x);
            format!("OFFSET:{x}")
        } else {
            "Wrong command.".to_string()
        };
        let _ = socket.send_to(reply.as_bytes(), from);
    }
}
