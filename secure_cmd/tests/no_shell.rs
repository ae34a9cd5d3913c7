//! Shell metacharacters are plain characters: the words go to the program
//! as they are, and no shell ever sees them.

// The server runs commands on Unix only (exec.rs).
#![cfg(unix)]

mod util;

use util::{Answer, Pki, Raw, Server, ok};

#[test]
fn metacharacters_are_literal_arguments() {
    let pki = Pki::new("no-shell");
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    for (line, output) in [
        ("echo a;id", "a;id\n"),
        ("echo $(id)", "$(id)\n"),
        ("echo `id`", "`id`\n"),
        ("echo *", "*\n"),
        ("echo a|id", "a|id\n"),
        ("echo a && id", "a && id\n"),
        ("echo $HOME ~", "$HOME ~\n"),
        ("echo 'quoted words'", "'quoted words'\n"),
    ] {
        assert_eq!(raw.run(line), ok(output), "{line}");
    }
}

#[test]
fn a_redirection_or_a_second_command_does_nothing() {
    let pki = Pki::new("no-shell-effects");
    let server = Server::start(&pki, &[]);
    let victim = pki.dir.write("x", "still here");
    let victim = victim.to_str().unwrap();
    let created = pki.dir.path("created");
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    // `ls` gets `;`, `rm`, `-rf` and the path as arguments: it lists the
    // one that exists, complains about the others, and removes nothing.
    match raw.run(&format!("ls ; rm -rf {victim}")) {
        Answer::Ok { status, output } => {
            assert_eq!(status, 2);
            let text = String::from_utf8(output).unwrap();
            assert!(text.contains(victim), "{text}");
            assert!(text.contains("';'"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(victim).unwrap(), "still here");
    let line = format!("echo hi > {}", created.display());
    assert_eq!(raw.run(&line), ok(&format!("hi > {}\n", created.display())));
    assert!(!created.exists());
}

#[test]
fn the_real_client_sends_the_line_as_typed() {
    let pki = Pki::new("no-shell-client");
    let server = Server::start(&pki, &[]);
    let out = util::client(&pki, &server, &["echo a;id", "echo $(whoami) *"]);
    out.expect_code(0);
    assert_eq!(out.stdout_text(), "a;id\n$(whoami) *\n");
}
