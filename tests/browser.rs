//! The demo report in a real browser: Debian's Chromium, headless. Ignored by default so
//! that `cargo test` passes on a machine without it; `.ci/run` installs Chromium and runs
//! these with `cargo test --test browser -- --ignored`.

use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium headless with a fresh profile and no background traffic.
fn chromium(profile: &Path) -> Command {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

fn demo_report(dir: &Path) -> std::path::PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_rolly"))
        .args(["demo", "--format", "report"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let file = dir.join("report.html");
    std::fs::write(&file, out.stdout).unwrap();
    file
}

#[test]
#[ignore = "needs Chromium (Debian package chromium at /usr/bin/chromium); .ci/run installs it"]
fn the_demo_report_opens_without_console_errors_with_one_bar_per_dated_item() {
    let dir = tempfile::tempdir().unwrap();
    let file = demo_report(dir.path());
    let out = chromium(&dir.path().join("profile"))
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let dated = rolly::demo_rollup()
        .entries
        .iter()
        .filter(|e| e.start_date.is_some() || e.due_date.is_some())
        .count();
    assert!(dated >= 3);
    assert_eq!(
        dom.matches("class=\"bar").count(),
        dated,
        "one bar per dated item"
    );
    assert!(dom.contains("class=\"today\""));
    assert!(
        dom.contains("class=\"phase current late\""),
        "the late phase is marked"
    );
}

#[test]
#[ignore = "needs Chromium (Debian package chromium at /usr/bin/chromium); .ci/run installs it"]
fn the_demo_report_prints_to_a4_pages() {
    let dir = tempfile::tempdir().unwrap();
    let file = demo_report(dir.path());
    let pdf = dir.path().join("report.pdf");
    let out = chromium(&dir.path().join("profile"))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg("--no-pdf-header-footer")
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let text = String::from_utf8_lossy(&bytes);
    // A4 is 595 x 842 points.
    assert!(
        text.contains("/MediaBox [0 0 595") || text.contains("/MediaBox [0 0 594"),
        "A4 pages"
    );
}
