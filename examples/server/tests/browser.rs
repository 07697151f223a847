//! The dashboard in a real browser: runs the `node --test` files of `examples/server/e2e` (playwright-core driving
//! Debian's headless chromium against this package's `callbook` binary) when `CALLBOOK_TEST_BROWSER=1`, which
//! `.ci/setup.d/90-browser.sh` exports after installing chromium and the e2e folder's `node_modules`. Without it
//! the test skips and says so on stderr. Node's output is streamed as it runs; the test fails when node fails.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[test]
fn dashboard_browser_suite() {
    if std::env::var("CALLBOOK_TEST_BROWSER").as_deref() != Ok("1") {
        eprintln!(
            "skipping the dashboard browser tests: set CALLBOOK_TEST_BROWSER=1 after `apt-get install -y chromium` and \
             `npm ci` in examples/server/e2e (.ci/setup.d/90-browser.sh does both)"
        );
        return;
    }
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e");
    assert!(
        e2e.join("node_modules").join("playwright-core").is_dir(),
        "CALLBOOK_TEST_BROWSER=1 but {} has no node_modules/playwright-core: run `npm ci` there",
        e2e.display()
    );
    let started = Instant::now();
    // Inherited stdout/stderr: node's report streams into the test log as each file finishes, and is visible
    // even though the test harness captures this test's own prints.
    let status = Command::new("node")
        .current_dir(&e2e)
        .args([
            "--test",
            "--test-concurrency=1",
            "--test-timeout=300000",
            "--test-reporter=spec",
        ])
        .env("CALLBOOK_BIN", env!("CARGO_BIN_EXE_callbook"))
        .status();
    let status = match status {
        Ok(status) => status,
        Err(error) => panic!("cannot run `node` (is Node.js 20+ installed?): {error}"),
    };
    eprintln!(
        "dashboard browser tests: node exited with {status} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success(),
        "the browser tests failed ({status}); node's report is above"
    );
}
