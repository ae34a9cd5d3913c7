//! Where a group's executables are: a folder of the workspace's built names
//! (`part2_pdc` …, `make build`'s `target/release`) or a submission folder
//! (`Part2_<C1>_<C2>` …, what `make submission` makes and the course
//! collects). Which one is told by the names the folder holds.

use anyhow::{Context, bail};
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One executable of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Program {
    Part1Echo,
    Part2Pdc,
    Part3Reset,
    Part4Receiver,
    Part4Sender,
    Part5Ws,
    Part6Pmu,
}

impl Program {
    /// Every program, in the lab's order.
    pub const ALL: [Program; 7] = [
        Program::Part1Echo,
        Program::Part2Pdc,
        Program::Part3Reset,
        Program::Part4Receiver,
        Program::Part4Sender,
        Program::Part5Ws,
        Program::Part6Pmu,
    ];

    /// The lab part it belongs to.
    pub fn part(self) -> u8 {
        match self {
            Program::Part1Echo => 1,
            Program::Part2Pdc => 2,
            Program::Part3Reset => 3,
            Program::Part4Receiver | Program::Part4Sender => 4,
            Program::Part5Ws => 5,
            Program::Part6Pmu => 6,
        }
    }

    /// Its name in the workspace's build.
    pub fn built_name(self) -> &'static str {
        match self {
            Program::Part1Echo => "part1_echo",
            Program::Part2Pdc => "part2_pdc",
            Program::Part3Reset => "part3_reset",
            Program::Part4Receiver => "part4_receiver",
            Program::Part4Sender => "part4_sender",
            Program::Part5Ws => "part5_ws",
            Program::Part6Pmu => "part6_pmu",
        }
    }

    /// Its submission name before `_<C1>_<C2>`; Part 1 is not handed in.
    pub fn submission_prefix(self) -> Option<&'static str> {
        match self {
            Program::Part1Echo => None,
            Program::Part2Pdc => Some("Part2"),
            Program::Part3Reset => Some("Part3"),
            Program::Part4Receiver => Some("Part4_Receiver"),
            Program::Part4Sender => Some("Part4_Sender"),
            Program::Part5Ws => Some("Part5"),
            Program::Part6Pmu => Some("Part6_PMU"),
        }
    }
}

/// The two CAMIPRO numbers of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub camipro1: String,
    pub camipro2: String,
}

/// Whether `s` is a CAMIPRO number: six ASCII digits.
pub fn is_camipro(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Group {
    /// The submission name of `program`: `Part2_123456_654321`.
    pub fn name_of(&self, program: Program) -> Option<String> {
        program
            .submission_prefix()
            .map(|prefix| format!("{prefix}_{}_{}", self.camipro1, self.camipro2))
    }

    /// The group a submission file name belongs to, if it is one.
    pub fn of_file_name(name: &str) -> Option<(Program, Group)> {
        Program::ALL.into_iter().find_map(|program| {
            let rest = name.strip_prefix(program.submission_prefix()?)?;
            let (c1, c2) = rest.strip_prefix('_')?.split_once('_')?;
            (is_camipro(c1) && is_camipro(c2)).then(|| {
                (
                    program,
                    Group {
                        camipro1: c1.to_string(),
                        camipro2: c2.to_string(),
                    },
                )
            })
        })
    }
}

/// How the folder names its executables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// `part2_pdc` …
    Built,
    /// `Part2_<C1>_<C2>` …
    Submission(Group),
}

/// A folder of executables to grade.
#[derive(Debug, Clone)]
pub struct Executables {
    pub dir: PathBuf,
    pub layout: Layout,
}

impl Executables {
    /// Looks at the names in `dir`: submission names of one group make it a
    /// submission folder, anything else is taken as a build folder.
    pub fn detect(dir: &Path) -> anyhow::Result<Executables> {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("reading the executables' folder {}", dir.display()))?;
        let mut groups: Vec<Group> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some((_, group)) = Group::of_file_name(&name.to_string_lossy())
                && !groups.contains(&group)
            {
                groups.push(group);
            }
        }
        let layout = match groups.len() {
            0 => Layout::Built,
            1 => Layout::Submission(groups.remove(0)),
            _ => bail!(
                "{} holds the executables of several groups ({}): grade one folder per group",
                dir.display(),
                groups
                    .iter()
                    .map(|g| format!("{}_{}", g.camipro1, g.camipro2))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Ok(Executables {
            dir: dir.to_path_buf(),
            layout,
        })
    }

    /// The file name `program` has in this folder (`None`: not handed in).
    pub fn name_of(&self, program: Program) -> Option<String> {
        match &self.layout {
            Layout::Built => Some(program.built_name().to_string()),
            Layout::Submission(group) => group.name_of(program),
        }
    }

    /// The path of `program`, or why it cannot be run.
    pub fn find(&self, program: Program) -> Result<PathBuf, String> {
        let Some(name) = self.name_of(program) else {
            return Err(format!(
                "Part {} is not handed in (no submission name)",
                program.part()
            ));
        };
        let mut path = self.dir.join(&name);
        // Windows: the built executables end in .exe.
        if cfg!(windows) && !path.exists() {
            path.set_extension("exe");
        }
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && executable(&meta) => Ok(path),
            Ok(meta) if meta.is_file() => Err(format!("{name} is not executable (chmod +x)")),
            _ => Err(format!("missing {name} in {}", self.dir.display())),
        }
    }

    /// A one-line description for the table's header.
    pub fn describe(&self) -> String {
        match &self.layout {
            Layout::Built => format!("{} (built names)", self.dir.display()),
            Layout::Submission(g) => format!(
                "{} (submission of {} and {})",
                self.dir.display(),
                g.camipro1,
                g.camipro2
            ),
        }
    }
}

/// Whether the file may be run: an execute bit.
#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    meta.permissions().mode() & 0o111 != 0
}

/// Windows has no execute bit: any file may be run.
#[cfg(not(unix))]
fn executable(_meta: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_names_are_recognised() {
        let (program, group) = Group::of_file_name("Part4_Receiver_123456_654321").unwrap();
        assert_eq!(program, Program::Part4Receiver);
        assert_eq!(group.camipro1, "123456");
        assert_eq!(
            group.name_of(Program::Part6Pmu).unwrap(),
            "Part6_PMU_123456_654321"
        );
        let (program, _) = Group::of_file_name("Part6_PMU_123456_654321").unwrap();
        assert_eq!(program, Program::Part6Pmu);
        for other in [
            "part2_pdc",
            "Part2_12345_654321",
            "Part2_123456_654321.zip",
            "Part2_123456",
            "Part7_123456_654321",
            "123456.key",
        ] {
            assert!(Group::of_file_name(other).is_none(), "{other}");
        }
        assert!(Group::name_of(&group, Program::Part1Echo).is_none());
    }
}
