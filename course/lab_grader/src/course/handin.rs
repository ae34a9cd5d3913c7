//! A hand-in as students made it: a folder `Lab3_<C1>_<C2>` (or its zip)
//! holding `Part2_<C1>_<C2>`, `Part3_…`, `Part4_Receiver_…`,
//! `Part4_Sender_…`, `Part5_…`, `Part6_PMU_…`, the Part 6 key and
//! certificate, the report and whatever else.
//!
//! The part is read from the file name leniently: any case, with or
//! without an extension (`.py`), `Part6_PMU_…` or `Part6_…`, one member's
//! number or two, `-` or `_` between the words. A name with other words
//! after the part (`Part6_PDC_…`, `Part2_client_test.py`: a group's own
//! test programs), documents, keys and certificates are listed and
//! ignored. Two candidates for one part are a finding: the one with the
//! group's exact name (or else the first in name order) is graded.
//!
//! How a program is run: an ELF executable as itself; a script by its
//! shebang's interpreter (`#!/usr/bin/env python3`, `#!/usr/bin/python`);
//! otherwise by its extension (`.py` python3, `.sh` sh, `.pl` perl, `.rb`
//! ruby, `.js` node, `.php` php) or, with none, by a first look at the text
//! (Python's `import`/`def`). Interpreters are looked up in
//! `/usr/local/bin`, `/usr/bin` and `/bin` only (the box's `PATH`); a
//! Python 2 name (`python`, `python2`) that is not installed runs with
//! `python3`, as the handout asks for Python 3, and the report says so. A
//! missing interpreter fails that program alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One graded program of the hand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Part2,
    Part3,
    Part4Receiver,
    Part4Sender,
    Part5,
    Part6Pmu,
}

impl Part {
    pub const ALL: [Part; 6] = [
        Part::Part2,
        Part::Part3,
        Part::Part4Receiver,
        Part::Part4Sender,
        Part::Part5,
        Part::Part6Pmu,
    ];

    /// Its name in `grades.csv`.
    pub fn label(self) -> &'static str {
        match self {
            Part::Part2 => "Part2",
            Part::Part3 => "Part3",
            Part::Part4Receiver => "Part4_Receiver",
            Part::Part4Sender => "Part4_Sender",
            Part::Part5 => "Part5",
            Part::Part6Pmu => "Part6_PMU",
        }
    }

    /// The part a file name is a candidate for: `Ok(part)`; `Err(true)`
    /// when it starts like a part but has other words (a test client);
    /// `Err(false)` when it is no program name at all.
    pub fn of_file_name(name: &str) -> Result<Part, bool> {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem, ext.to_ascii_lowercase()),
            _ => (name, String::new()),
        };
        if !ext.is_empty() && !PROGRAM_EXTENSIONS.contains(&ext.as_str()) {
            return Err(false);
        }
        let squashed: String = stem
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        const PREFIXES: [(&str, Part); 7] = [
            ("part4receiver", Part::Part4Receiver),
            ("part4sender", Part::Part4Sender),
            ("part6pmu", Part::Part6Pmu),
            ("part6", Part::Part6Pmu),
            ("part2", Part::Part2),
            ("part3", Part::Part3),
            ("part5", Part::Part5),
        ];
        for (prefix, part) in PREFIXES {
            if let Some(rest) = squashed.strip_prefix(prefix) {
                if rest.chars().all(|c| c.is_ascii_digit()) {
                    // `part21…` is not Part 2 unless the rest is numbers
                    // that the separators kept apart.
                    let first_sep = stem
                        .char_indices()
                        .filter(|(_, c)| c.is_ascii_alphanumeric())
                        .nth(prefix.len())
                        .map(|(i, _)| i);
                    let glued = first_sep
                        .map(|i| stem[..i].ends_with(|c: char| c.is_ascii_digit()))
                        .unwrap_or(false);
                    if rest.is_empty() || !glued {
                        return Ok(part);
                    }
                }
                return Err(true);
            }
        }
        Err(false)
    }
}

/// Extensions a program may have; any other makes a document.
const PROGRAM_EXTENSIONS: [&str; 11] = [
    "py", "py3", "sh", "bash", "pl", "rb", "js", "php", "out", "bin", "exe",
];

/// How a program is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// An ELF executable.
    Direct,
    /// `INTERPRETER [ARGS] FILE`.
    Interpreter(Vec<String>),
}

/// One program of the hand-in.
#[derive(Debug, Clone)]
pub struct Program {
    /// Its file name in the hand-in.
    pub file: String,
    /// How to run it, or why it cannot be run here.
    pub runner: Result<Runner, String>,
}

impl Program {
    /// The command line that runs it from the copy `dir` with `args`.
    pub fn argv(&self, dir: &Path, args: &[&str]) -> Result<Vec<String>, String> {
        let path = dir.join(&self.file).display().to_string();
        let mut argv = match self.runner.clone()? {
            Runner::Direct => vec![path],
            Runner::Interpreter(mut interp) => {
                interp.push(path);
                interp
            }
        };
        argv.extend(args.iter().map(|a| a.to_string()));
        Ok(argv)
    }
}

/// A hand-in ready to grade.
#[derive(Debug)]
pub struct Handin {
    /// The folder's (or zip's) name: `Lab3_226371_229049`.
    pub group: String,
    /// The members' numbers, from the folder's name (else the files').
    pub members: Vec<String>,
    /// The folder that holds the files.
    pub dir: PathBuf,
    pub programs: BTreeMap<Part, Program>,
    /// What else the report says: ignored files, two candidates, notes on
    /// interpreters.
    pub findings: Vec<String>,
    /// The findings on one part's program, also shown beside its grade.
    pub part_notes: BTreeMap<Part, Vec<String>>,
    /// Where a zip was unpacked, removed with the hand-in.
    _unpacked: Option<crate::grade::TempDir>,
}

/// Whether `path` looks like a hand-in: `Lab3_…` folder or `.zip`.
pub fn is_handin_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.starts_with("lab3") && (path.is_dir() || name.ends_with(".zip"))
}

fn numbers_in(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| s.len() >= 5)
        .map(str::to_string)
        .collect()
}

impl Handin {
    /// Opens the folder or zip at `path`.
    pub fn open(path: &Path) -> Result<Handin, String> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| format!("{} has no file name", path.display()))?;
        let (group, dir, unpacked) = if path.is_dir() {
            (name, path.to_path_buf(), None)
        } else if name.to_ascii_lowercase().ends_with(".zip") {
            let tmp = crate::grade::TempDir::new()
                .map_err(|e| format!("grader: a folder to unpack {name}: {e}"))?;
            unzip(path, tmp.path())?;
            let dir = program_folder(tmp.path());
            let stem = name[..name.len() - 4].to_string();
            (stem, dir, Some(tmp))
        } else {
            return Err(format!(
                "{} is neither a hand-in folder nor a .zip",
                path.display()
            ));
        };
        let mut handin = Handin {
            members: numbers_in(&group),
            group,
            dir,
            programs: BTreeMap::new(),
            findings: Vec::new(),
            part_notes: BTreeMap::new(),
            _unpacked: unpacked,
        };
        handin.scan()?;
        Ok(handin)
    }

    fn scan(&mut self) -> Result<(), String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| format!("reading {}: {e}", self.dir.display()))?
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut candidates: BTreeMap<Part, Vec<String>> = BTreeMap::new();
        let mut ignored = Vec::new();
        for name in &names {
            match Part::of_file_name(name) {
                Ok(part) => candidates.entry(part).or_default().push(name.clone()),
                Err(_) => ignored.push(name.clone()),
            }
        }
        if self.members.is_empty() {
            for files in candidates.values() {
                for n in numbers_in(&files[0]) {
                    if !self.members.contains(&n) {
                        self.members.push(n);
                    }
                }
            }
        }
        if !ignored.is_empty() {
            self.findings
                .push(format!("other files, not graded: {}", ignored.join(", ")));
        }
        for (part, files) in candidates {
            let chosen = if files.len() > 1 {
                let exact = files.iter().find(|f| {
                    let stem = f.split('.').next().unwrap_or(f);
                    let nums = numbers_in(stem);
                    !nums.is_empty() && nums == self.members
                });
                let chosen = exact.unwrap_or(&files[0]).clone();
                let note = format!(
                    "{} candidates for {}: {}; graded {chosen}",
                    files.len(),
                    part.label(),
                    files.join(", ")
                );
                self.findings.push(note.clone());
                self.part_notes.entry(part).or_default().push(note);
                chosen
            } else {
                files[0].clone()
            };
            let runner = runner_of(&self.dir.join(&chosen), &chosen).map(|(runner, note)| {
                if let Some(note) = note {
                    self.findings.push(format!("{chosen}: {note}"));
                    self.part_notes.entry(part).or_default().push(note);
                }
                runner
            });
            self.programs.insert(
                part,
                Program {
                    file: chosen,
                    runner,
                },
            );
        }
        Ok(())
    }
}

/// Unpacks `zip` into `dest` with Python's `zipfile` (which keeps every
/// member inside `dest`).
fn unzip(zip: &Path, dest: &Path) -> Result<(), String> {
    let out = std::process::Command::new(
        find_program("python3")
            .ok_or("unpacking a zip needs python3 (its zipfile module), which is not installed")?,
    )
    .args(["-m", "zipfile", "-e"])
    .arg(zip)
    .arg(dest)
    .output()
    .map_err(|e| format!("grader: running python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cannot unpack {}: {}",
            zip.display(),
            crate::proc::last_line(&String::from_utf8_lossy(&out.stderr))
        ));
    }
    Ok(())
}

/// The folder of an unpacked zip that holds the programs: the top, or the
/// one folder inside (macOS's `__MACOSX` aside), a few levels down.
fn program_folder(top: &Path) -> PathBuf {
    let mut dir = top.to_path_buf();
    for _ in 0..3 {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            break;
        };
        let entries: Vec<_> = entries
            .flatten()
            .filter(|e| e.file_name() != "__MACOSX")
            .collect();
        let has_files = entries
            .iter()
            .any(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false));
        let dirs: Vec<_> = entries
            .iter()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .collect();
        if has_files || dirs.len() != 1 {
            break;
        }
        dir = dirs[0].path();
    }
    dir
}

/// `name` in the box's `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    ["/usr/local/bin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// The interpreter called `name`, and a note when another one stands in.
fn interpreter(name: &str, file: &str) -> Result<(Vec<String>, Option<String>), String> {
    if let Some(path) = find_program(name) {
        return Ok((vec![path.display().to_string()], None));
    }
    let base = name.rsplit('/').next().unwrap_or(name);
    if (base == "python" || base.starts_with("python2") || base.starts_with("python3"))
        && let Some(path) = find_program("python3")
    {
        return Ok((
            vec![path.display().to_string()],
            Some(format!("{base} is not installed; run with python3")),
        ));
    }
    Err(format!("{file} needs {base}, which is not installed here"))
}

/// How to run the file at `path`, and a note on the interpreter.
pub fn runner_of(path: &Path, file: &str) -> Result<(Runner, Option<String>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {file}: {e}"))?;
    if bytes.starts_with(b"\x7fELF") {
        return Ok((Runner::Direct, None));
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned();
    let first = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches('\u{feff}');
    let (argv, note) = if let Some(shebang) = first.strip_prefix("#!") {
        let mut words = shebang.split_whitespace();
        let interp = words
            .next()
            .ok_or_else(|| format!("{file}: an empty #! line"))?;
        let (name, args): (String, Vec<String>) = if interp.ends_with("/env") {
            let rest: Vec<&str> = words.filter(|w| !w.starts_with('-')).collect();
            match rest.split_first() {
                Some((name, args)) => (
                    name.to_string(),
                    args.iter().map(|s| s.to_string()).collect(),
                ),
                None => return Err(format!("{file}: #!{shebang} names no interpreter")),
            }
        } else {
            let base = interp.rsplit('/').next().unwrap_or(interp).to_string();
            let name = if Path::new(interp).is_file() {
                interp.to_string()
            } else {
                base
            };
            (name, words.map(str::to_string).collect())
        };
        let (mut argv, note) = interpreter(&name, file)?;
        argv.extend(args);
        (argv, note)
    } else {
        let ext = file
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let name = match ext.as_str() {
            "py" | "py3" => "python3",
            "sh" => "sh",
            "bash" => "bash",
            "pl" => "perl",
            "rb" => "ruby",
            "js" => "node",
            "php" => "php",
            _ if text.contains("import ") || text.contains("def ") => "python3",
            _ => {
                return Err(format!(
                    "cannot tell how to run {file}: not an ELF executable, no #! line, \
                     no known extension"
                ));
            }
        };
        interpreter(name, file)?
    };
    Ok((Runner::Interpreter(argv), note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_run_by_shebang_extension_or_content_and_missing_interpreters_are_said() {
        let dir = std::env::temp_dir().join(format!("lab_grader-runner-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let runner = |name: &str, text: &[u8]| {
            std::fs::write(dir.join(name), text).unwrap();
            runner_of(&dir.join(name), name)
        };
        let interp = |r: Result<(Runner, Option<String>), String>| match r {
            Ok((Runner::Interpreter(argv), _)) => argv[0].rsplit('/').next().unwrap().to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(runner("a", b"\x7fELF\x02\x01").unwrap().0, Runner::Direct);
        assert_eq!(
            interp(runner("b", b"#!/usr/bin/env python3\nimport socket\n")),
            "python3"
        );
        assert_eq!(interp(runner("c.py", b"import socket\n")), "python3");
        assert_eq!(interp(runner("d", b"import socket\nprint(1)\n")), "python3");
        assert_eq!(interp(runner("e", b"#!/bin/sh\necho\n")), "sh");
        let why = runner("f", b"hello\n").unwrap_err();
        assert!(why.contains("cannot tell how to run f"), "{why}");
        if find_program("ruby").is_none() {
            let why = runner("g.rb", b"puts 1\n").unwrap_err();
            assert!(why.contains("g.rb needs ruby"), "{why}");
        }
        if find_program("python").is_none() {
            let (_, note) = runner("h", b"#!/usr/bin/python\nimport os\n").unwrap();
            assert!(note.unwrap().contains("python is not installed"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn parts_are_read_from_names_as_students_wrote_them() {
        for (name, part) in [
            ("Part2_226371_229049", Part::Part2),
            ("Part2_226371_229049.py", Part::Part2),
            ("part2_226371.py", Part::Part2),
            ("Part3_226371_229049", Part::Part3),
            ("Part4_Receiver_226371_229049.py", Part::Part4Receiver),
            ("Part4_sender_226371_229049", Part::Part4Sender),
            ("Part5_226371_229049.py", Part::Part5),
            ("Part6_PMU_226371_229049.py", Part::Part6Pmu),
            ("Part6_226371_229049", Part::Part6Pmu),
            ("Part2", Part::Part2),
        ] {
            assert_eq!(Part::of_file_name(name), Ok(part), "{name}");
        }
        for name in [
            "Part6_PDC_226371_229049.py",
            "Part2_client_test.py",
            "part21_226371.py",
        ] {
            assert_eq!(Part::of_file_name(name), Err(true), "{name}");
        }
        for name in [
            "226371_key.pem",
            "226371_cert.pem",
            "Part2_226371_229049.pdf",
            "report.txt",
            "cacert.pem",
        ] {
            assert_eq!(Part::of_file_name(name), Err(false), "{name}");
        }
    }
}
