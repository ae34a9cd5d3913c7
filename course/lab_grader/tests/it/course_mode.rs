//! `lab_grader`'s course mode on hand-ins written in the course's style
//! (`tests/handins/`): a correct group, a one-member group zipped with
//! names without extension (a Bash sender, a PDC that never exits, a TLS
//! server without `close_notify`), and two groups of the typical mistakes.
//! Every mistake must be caught, every correct program must pass.
//!
//! The class run needs root (network namespaces, other users): without
//! it the test says so on stderr and checks nothing more.

use lab_grader::course::handin::{Handin, Part, Runner};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn handins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/handins")
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Zips `tests/handins/src_Lab3_300001` as `Lab3_300001.zip` with a folder
/// inside, as students zip theirs.
fn zip_one_member_group(dest: &Path) {
    let script = "import os, sys, zipfile\n\
        src, dest = sys.argv[1], sys.argv[2]\n\
        with zipfile.ZipFile(dest, 'w') as z:\n\
        \x20   for f in sorted(os.listdir(src)):\n\
        \x20       z.write(os.path.join(src, f), 'Lab3_300001/' + f)\n";
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(handins().join("src_Lab3_300001"))
        .arg(dest.join("Lab3_300001.zip"))
        .status()
        .expect("python3 to zip the fixture");
    assert!(status.success());
}

#[test]
fn hand_ins_are_read_as_students_named_them() {
    let a = Handin::open(&handins().join("Lab3_100001_100002")).unwrap();
    assert_eq!(a.group, "Lab3_100001_100002");
    assert_eq!(a.members, ["100001", "100002"]);
    assert_eq!(a.programs.len(), 6);
    assert_eq!(
        a.programs[&Part::Part6Pmu].file,
        "Part6_PMU_100001_100002.py"
    );
    match &a.programs[&Part::Part2].runner {
        Ok(Runner::Interpreter(argv)) => assert!(argv[0].ends_with("python3"), "{argv:?}"),
        other => panic!("{other:?}"),
    }
    let ignored = &a.findings[0];
    for name in [
        "Part6_PDC_100001_100002.py",
        "100001_key.pem",
        "answers.txt",
    ] {
        assert!(ignored.contains(name), "{ignored}");
    }

    let b = Handin::open(&handins().join("Lab3_500001_500002")).unwrap();
    assert!(!b.programs.contains_key(&Part::Part6Pmu));
    assert_eq!(b.programs[&Part::Part2].file, "Part2_500001_500002");
    assert!(
        b.part_notes[&Part::Part2][0].starts_with("2 candidates for Part2"),
        "{:?}",
        b.part_notes
    );

    let c = Handin::open(&handins().join("src_Lab3_300001")).unwrap();
    assert_eq!(c.members, ["300001"]);
    assert_eq!(c.programs[&Part::Part6Pmu].file, "Part6_300001");
    assert!(
        c.part_notes[&Part::Part2][0].contains("python is not installed"),
        "{:?}",
        c.part_notes
    );
    match &c.programs[&Part::Part4Sender].runner {
        Ok(Runner::Interpreter(argv)) => assert!(argv[0].ends_with("bash"), "{argv:?}"),
        other => panic!("{other:?}"),
    }
}

struct Row {
    verdict: String,
    score: u32,
    max: u32,
    reason: String,
}

/// grades.csv's rows by (group, part); the reason is the last field
/// (quoted when it holds a comma).
fn read_grades(path: &Path) -> HashMap<(String, String), Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("group,part,verdict,score,max,reason"));
    lines
        .map(|line| {
            let f: Vec<&str> = line.splitn(6, ',').collect();
            let reason = f[5].trim_matches('"').replace("\"\"", "\"");
            (
                (f[0].to_string(), f[1].to_string()),
                Row {
                    verdict: f[2].to_string(),
                    score: f[3].parse().unwrap(),
                    max: f[4].parse().unwrap(),
                    reason,
                },
            )
        })
        .collect()
}

#[test]
fn a_class_is_graded_end_to_end_every_mistake_caught() {
    if !is_root() {
        eprintln!(
            "SKIPPED a_class_is_graded_end_to_end_every_mistake_caught: course mode needs root \
             (network namespaces, other users); run the tests as root"
        );
        return;
    }
    let tmp = std::env::temp_dir().join(format!("lab_grader-class-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let class = tmp.join("class");
    for group in [
        "Lab3_100001_100002",
        "Lab3_400001_400002",
        "Lab3_500001_500002",
    ] {
        copy_dir(&handins().join(group), &class.join(group));
    }
    zip_one_member_group(&class);
    std::fs::write(class.join("notes.txt"), "not a hand-in").unwrap();
    let out = tmp.join("out");
    let started = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_lab_grader"))
        .arg("class")
        .arg(&class)
        .arg("--out")
        .arg(&out)
        .args(["--jobs", "8"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stdout}{stderr}class run: {:.1} s", took.as_secs_f64());
    assert!(run.status.success(), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.contains("/4] Lab3_")).count(),
        4,
        "one progress line per group: {stderr}"
    );

    let grades = read_grades(&out.join("grades.csv"));
    assert_eq!(grades.len(), 24);
    let row = |group: &str, part: &str| {
        grades
            .get(&(group.to_string(), part.to_string()))
            .unwrap_or_else(|| panic!("no row for {group} {part}"))
    };
    let parts = [
        "Part2",
        "Part3",
        "Part4_Receiver",
        "Part4_Sender",
        "Part5",
        "Part6_PMU",
    ];
    // The correct programs pass, without a warning.
    for part in parts {
        let r = row("Lab3_100001_100002", part);
        assert_eq!(
            (r.verdict.as_str(), r.score),
            ("PASS", r.max),
            "{part}: {}",
            r.reason
        );
        assert!(!r.reason.contains("warning"), "{part}: {}", r.reason);
    }
    // The one-member group passes too, with the warnings the course would
    // not have failed it for.
    for part in parts {
        let r = row("Lab3_300001", part);
        assert_eq!(r.verdict, "PASS", "{part}: {}", r.reason);
    }
    for (part, warning) in [
        ("Part2", "did not exit"),
        ("Part2", "python is not installed"),
        ("Part6_PMU", "without close_notify"),
    ] {
        let r = row("Lab3_300001", part);
        assert!(r.reason.contains(warning), "{part}: {}", r.reason);
    }
    // Every mistake is caught, and said.
    for (group, part, verdict, score, why) in [
        (
            "Lab3_400001_400002",
            "Part2",
            "FAIL",
            2,
            "line 11: message 1 again",
        ),
        (
            "Lab3_400001_400002",
            "Part3",
            "FAIL",
            0,
            "none of those offsets",
        ),
        (
            "Lab3_400001_400002",
            "Part4_Receiver",
            "FAIL",
            0,
            "did it join",
        ),
        (
            "Lab3_400001_400002",
            "Part4_Sender",
            "FAIL",
            0,
            "crashed at the end of its input",
        ),
        (
            "Lab3_400001_400002",
            "Part5",
            "FAIL",
            1,
            "holds 20 messages",
        ),
        (
            "Lab3_400001_400002",
            "Part6_PMU",
            "FAIL",
            0,
            "the server listens on 5004",
        ),
        (
            "Lab3_500001_500002",
            "Part2",
            "FAIL",
            2,
            "only the first 1024",
        ),
        (
            "Lab3_500001_500002",
            "Part2",
            "FAIL",
            2,
            "2 candidates for Part2",
        ),
        (
            "Lab3_500001_500002",
            "Part3",
            "FAIL",
            0,
            "never retransmitted",
        ),
        (
            "Lab3_500001_500002",
            "Part4_Receiver",
            "FAIL",
            0,
            "did it join",
        ),
        (
            "Lab3_500001_500002",
            "Part4_Sender",
            "FAIL",
            0,
            "not a 6-byte ID",
        ),
        (
            "Lab3_500001_500002",
            "Part5",
            "FAIL",
            1,
            "CMD_floodme: only the first",
        ),
        (
            "Lab3_500001_500002",
            "Part6_PMU",
            "MISSING",
            0,
            "no Part6_PMU",
        ),
    ] {
        let r = row(group, part);
        assert_eq!(
            (r.verdict.as_str(), r.score),
            (verdict, score),
            "{group} {part}: {}",
            r.reason
        );
        assert!(r.reason.contains(why), "{group} {part}: {}", r.reason);
    }

    let json = |group: &str| std::fs::read_to_string(out.join(group).join("result.json")).unwrap();
    assert_eq!(
        json("Lab3_100001_100002").trim(),
        r#"{"max_grade": 10, "score": 10, "success": 1}"#
    );
    assert_eq!(
        json("Lab3_500001_500002").trim(),
        r#"{"max_grade": 10, "score": 3, "success": 0}"#
    );
    let log =
        std::fs::read_to_string(out.join("Lab3_100001_100002/Part2_CMD_short_0.stdout")).unwrap();
    assert!(log.contains("This is PMU data 19\n"), "{log}");
    let log = std::fs::read_to_string(out.join("Lab3_400001_400002/Part4_Sender_opinion.stderr"))
        .unwrap();
    assert!(log.contains("EOFError"), "{log}");

    // Nothing left behind: no namespace, no process of the boxes' users.
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let netns = String::from_utf8_lossy(&netns.stdout);
    assert!(
        !netns.contains("l3grade-"),
        "namespaces left behind: {netns}"
    );
    let boxed = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
        // A zombie is dead already, waiting for init to reap it.
        .filter(|status| !status.contains("State:\tZ"))
        .filter(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|u| u.split_whitespace().next()?.parse::<u32>().ok())
                .is_some_and(|uid| {
                    (lab_grader::course::sandbox::UID_BASE
                        ..lab_grader::course::sandbox::UID_BASE + 2000)
                        .contains(&uid)
                })
        })
        .count();
    assert_eq!(boxed, 0, "processes of the boxes' users still run");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Without root (run here as `nobody`): it says so, grades Part 6 alone
/// on the machine's loopback (or skips it when port 5003 is taken) and
/// skips the rest, instead of letting a hand-in reach the network.
#[test]
fn without_root_only_part_6_is_graded_and_the_rest_skipped() {
    if !is_root() {
        eprintln!("SKIPPED without_root_only_part_6_is_graded…: needs root to become nobody");
        return;
    }
    let out = std::env::temp_dir().join(format!("lab_grader-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let run = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_lab_grader"))
        .arg("handin")
        .arg(handins().join("Lab3_100001_100002"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stdout}{stderr}");
    assert_eq!(run.status.code(), Some(1), "not every part passed");
    assert!(stderr.contains("not root"), "{stderr}");
    let grades = read_grades(&out.join("grades.csv"));
    let row = |part: &str| &grades[&("Lab3_100001_100002".to_string(), part.to_string())];
    for part in ["Part2", "Part3", "Part4_Receiver", "Part4_Sender", "Part5"] {
        let r = row(part);
        assert_eq!(r.verdict, "SKIP", "{part}: {}", r.reason);
        assert!(r.reason.contains("needs root"), "{part}: {}", r.reason);
    }
    let r = row("Part6_PMU");
    assert!(
        r.verdict == "PASS" || (r.verdict == "SKIP" && r.reason.contains("in use")),
        "{} {}",
        r.verdict,
        r.reason
    );
    let _ = std::fs::remove_dir_all(&out);
}
