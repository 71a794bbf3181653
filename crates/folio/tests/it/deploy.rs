//! The files in `deploy/`: the systemd unit passes `systemd-analyze verify`, and what the unit
//! and the Containerfile tell `folio` (settings, command lines, the health check) is accepted
//! by the real binary.

use std::path::{Path, PathBuf};

use crate::harness::{run_folio, TestApp};

fn deploy_file(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    (path, text)
}

fn pairs(assignments: impl Iterator<Item = String>) -> Vec<(String, String)> {
    assignments
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap_or_else(|| panic!("{a}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The `ENV` settings of a Containerfile (`ENV K=V \` continued over lines).
fn container_env(text: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    let mut in_env = false;
    for line in text.lines() {
        let line = line.trim();
        let rest = match line.strip_prefix("ENV ") {
            Some(rest) => rest,
            None if in_env => line,
            None => continue,
        };
        in_env = rest.ends_with('\\');
        words.extend(
            rest.trim_end_matches('\\')
                .split_whitespace()
                .map(str::to_owned),
        );
    }
    pairs(words.into_iter())
}

/// The words of a JSON-array instruction (`CMD ["serve"]`).
fn exec_form(text: &str, instruction: &str) -> Vec<String> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("no {instruction}"));
    serde_json::from_str(line.rsplit_once("CMD ").map_or(line, |(_, json)| json))
        .unwrap_or_else(|e| panic!("{instruction} {line}: {e}"))
}

#[tokio::test]
async fn the_systemd_unit_verifies_and_its_settings_load() {
    let (_, unit) = deploy_file("folio.service");
    // systemd's own check, on the unit with the binary under test in ExecStart.
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("folio.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let (binary, args) = exec.split_once(' ').expect("a command");
    assert_eq!(binary, "/usr/local/bin/folio");
    std::fs::write(&copy, unit.replace(binary, env!("CARGO_BIN_EXE_folio"))).expect("write");
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze (the machine's systemd)");
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && complaints.is_empty(),
        "{complaints}"
    );

    // Its command line and its settings, through the real binary.
    let mut help: Vec<&str> = args.split_whitespace().collect();
    help.push("--help");
    assert!(run_folio(&help, &[]).await.ok, "{args}");
    let env = pairs(
        unit.lines()
            .filter_map(|l| l.strip_prefix("Environment="))
            .map(str::to_owned),
    );
    assert!(env.iter().any(|(k, _)| k == "FOLIO_DATA_DIR"), "{env:?}");
    let printed = run_folio(&["config", "print"], &env).await;
    assert!(printed.ok, "{}", printed.stderr);
    assert!(
        printed.stdout.contains("data_dir = \"/var/lib/folio\""),
        "{}",
        printed.stdout
    );
}

#[tokio::test]
async fn the_containerfile_settings_command_and_health_check_work() {
    let (_, containerfile) = deploy_file("Containerfile");
    let env = container_env(&containerfile);
    let printed = run_folio(&["config", "print"], &env).await;
    assert!(printed.ok, "{}", printed.stderr);
    for expected in ["listen = \"0.0.0.0:8080\"", "listen = \"0.0.0.0:9464\""] {
        assert!(
            printed.stdout.contains(expected),
            "{expected}: {}",
            printed.stdout
        );
    }
    let entrypoint = exec_form(&containerfile, "ENTRYPOINT");
    let cmd = exec_form(&containerfile, "CMD");
    assert_eq!(entrypoint, ["folio"]);
    let mut help: Vec<&str> = cmd.iter().map(String::as_str).collect();
    help.push("--help");
    assert!(run_folio(&help, &[]).await.ok, "{cmd:?}");

    // The health check, against a library a server has made.
    let check = exec_form(&containerfile, "HEALTHCHECK");
    assert_eq!(check, ["folio", "health"]);
    let app = TestApp::start().await;
    let healthy = run_folio(&["health"], &app.cli_env()).await;
    assert!(healthy.ok, "{}", healthy.stderr);
}
