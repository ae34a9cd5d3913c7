//! `scripts/submission.sh` (what `make submission` runs) makes the folder
//! and the zip under the course's names, refuses bad CAMIPRO numbers, and
//! the grader grades the folder it makes.

// The fake executables are shell scripts: Unix only.
#![cfg(unix)]

mod util;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use util::{TempDir, expect_row, grade, script, workspace_bins};

const NAMES: [&str; 6] = [
    "Part2_123456_654321",
    "Part3_123456_654321",
    "Part4_Receiver_123456_654321",
    "Part4_Sender_123456_654321",
    "Part5_123456_654321",
    "Part6_PMU_123456_654321",
];

fn submission_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/submission.sh")
}

fn submit(args: &[&str], zip: &str) -> testkit::Output {
    let mut all = vec![submission_script().to_str().unwrap().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    // Through env(1), to choose how the zip is made.
    let mut with_env = vec![zip, "bash"];
    with_env.extend(all);
    testkit::run_within("env", &with_env, Duration::from_secs(60))
}

/// The names in a zip, read with Python's zipfile.
fn zip_names(zip: &Path) -> Vec<String> {
    let out = testkit::run_within(
        "python3",
        &[
            "-c",
            "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, oct(i.external_attr >> 16 & 0o777))",
            zip.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    out.expect_code(0);
    out.lines()
}

#[test]
fn the_folder_and_zip_have_the_course_names_and_the_part6_files() {
    for zip in ["SUBMISSION_ZIP=auto", "SUBMISSION_ZIP=python"] {
        let dir = TempDir::new().unwrap();
        let bin = dir.path().join("bin");
        let certs = dir.path().join("certs");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&certs).unwrap();
        for built in [
            "part2_pdc",
            "part3_reset",
            "part4_receiver",
            "part4_sender",
            "part5_ws",
            "part6_pmu",
        ] {
            script(&bin, built, &format!("#!/bin/sh\necho {built}\n"));
        }
        std::fs::write(certs.join("123456.key"), "key").unwrap();
        std::fs::write(certs.join("123456.crt"), "crt").unwrap();
        std::fs::write(certs.join("123456-test.crt"), "not this one").unwrap();
        let out_dir = dir.path().to_str().unwrap();
        submit(
            &[
                "--bin-dir",
                bin.to_str().unwrap(),
                "--certs",
                certs.to_str().unwrap(),
                "--out",
                out_dir,
                "123456",
                "654321",
            ],
            zip,
        )
        .expect_code(0);
        let folder = dir.path().join("Lab3_123456_654321");
        let mut found: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let mut expected: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
        expected.extend(["123456.crt".to_string(), "123456.key".to_string()]);
        expected.sort();
        assert_eq!(found, expected, "{zip}");
        let copied = std::fs::read_to_string(folder.join("Part4_Sender_123456_654321")).unwrap();
        assert!(copied.contains("part4_sender"));
        let mode = |name: &str| {
            std::fs::metadata(folder.join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("Part2_123456_654321"), 0o755);
        assert_eq!(mode("123456.key"), 0o600);
        let names = zip_names(&dir.path().join("Lab3_123456_654321.zip"));
        for name in NAMES {
            let entry = format!("Lab3_123456_654321/{name} 0o755");
            assert!(names.contains(&entry), "{entry} in {names:?} ({zip})");
        }
        assert!(names.contains(&"Lab3_123456_654321/123456.key 0o600".to_string()));
    }
}

#[test]
fn bad_camipro_numbers_are_usage_errors() {
    for (c1, c2, why) in [
        (
            "12345",
            "654321",
            "CAMIPRO1 '12345' is not a CAMIPRO number",
        ),
        (
            "123456",
            "65432x",
            "CAMIPRO2 '65432x' is not a CAMIPRO number",
        ),
        ("", "654321", "CAMIPRO1 '' is not"),
        ("123456", "123456", "both 123456"),
    ] {
        submit(&["--check", c1, c2], "SUBMISSION_ZIP=auto")
            .expect_code(2)
            .expect_one_line_error("submission", why);
    }
    submit(&["--check", "123456"], "SUBMISSION_ZIP=auto")
        .expect_code(2)
        .expect_one_line_error("submission", "two CAMIPRO numbers");
    let dir = TempDir::new().unwrap();
    submit(
        &[
            "--bin-dir",
            dir.path().to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
            "123456",
            "654321",
        ],
        "SUBMISSION_ZIP=auto",
    )
    .expect_code(1)
    .expect_one_line_error("submission", "missing");
}

#[test]
fn the_grader_grades_the_folder_it_makes() {
    let bins = workspace_bins();
    let dir = TempDir::new().unwrap();
    submit(
        &[
            "--bin-dir",
            bins.to_str().unwrap(),
            "--certs",
            dir.path().to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
            "123456",
            "654321",
        ],
        "SUBMISSION_ZIP=auto",
    )
    .expect_code(0);
    let folder = dir.path().join("Lab3_123456_654321");
    let out = grade(
        &[
            "--bin-dir",
            folder.to_str().unwrap(),
            "--case",
            "CMD_short:0, 17 messages from 1",
            "--case",
            "part3: IPv4-only server",
            "--case",
            "part4: sender sends ID + text",
            "--case",
            "part6: course grader",
        ],
        Duration::from_secs(120),
    );
    let table = out.stdout_text();
    assert_eq!(out.code(), Some(0), "{table}");
    assert!(table.contains("submission of 123456 and 654321"), "{table}");
    expect_row(&out, "part2: CMD_short:0, 17 messages from 1", "PASS", "");
    expect_row(&out, "part6: course grader", "PASS", "");
    assert!(
        table.contains("score: 5/5") || table.contains("score: 4/4"),
        "{table}"
    );
}
