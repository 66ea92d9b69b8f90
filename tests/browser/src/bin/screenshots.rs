//! Takes the dashboard screenshots of the README (docs/screenshots/*.png): fills a fresh
//! database with the demo data, starts bel serve in-process and photographs every page in
//! headless Chromium. Run by scripts/screenshots.sh:
//!
//!     BEL_TEST_DSN='host=... port=... user=postgres' cargo run -p bel-browser-tests --bin screenshots -- docs/screenshots
use std::path::PathBuf;
use std::time::Duration;

use bel_browser_tests::{connect, demo, fresh_db, Browser, TestServer};

/// Page width of the screenshots, in CSS pixels.
const WIDTH: u32 = 1360;
/// Longer pages are cut here (the live tail holds hundreds of rows).
const MAX_HEIGHT: u32 = 2400;

#[tokio::main]
async fn main() {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "docs/screenshots".into()));
    let base = std::env::var("BEL_TEST_DSN").expect("BEL_TEST_DSN: a superuser DSN of a cluster with bel installed");
    let dsn = fresh_db(&base, "bel_screenshots").await;
    let client = connect(&dsn).await;
    demo::fill(&client, chrono::Utc::now()).await;
    let server = TestServer::start(&dsn, None).await;
    let browser = Browser::start("screenshots").await.expect("chromium and chromedriver");
    std::fs::create_dir_all(&out).expect("output directory");
    let live = "return document.getElementById('tail-status').dataset.state === 'live'";
    // (file, page, what to wait for, longest picture)
    let pages = [
        ("overview", "/", None, MAX_HEIGHT),
        ("partitions", "/partitions?pattern=data/**&limit=25", None, MAX_HEIGHT),
        ("builds", "/builds", None, MAX_HEIGHT),
        ("build", "/builds/nightly-2026-11-02", None, MAX_HEIGHT),
        ("tail", "/tail", Some(live), 1300),
        ("diagrams", "/diagrams", None, MAX_HEIGHT),
    ];
    for (name, path, ready, max_height) in pages {
        browser.client.set_window_size(WIDTH, 900).await.expect("window size");
        browser.open(&server.url(path)).await;
        if let Some(ready) = ready {
            browser.wait_until(ready, Duration::from_secs(10)).await;
        }
        if name == "tail" {
            // Events appended while the page is open, to show the tail moving.
            let appended = demo::progress(&client, chrono::Utc::now()).await;
            let last = appended.last().copied().unwrap_or_default();
            let shown = format!("return document.querySelector('#tail tr[data-idx=\"{last}\"]') !== null");
            browser.wait_until(&shown, Duration::from_secs(5)).await;
        }
        let errors = browser.console_errors().await;
        assert!(errors.is_empty(), "{path}: console errors: {errors:?}");
        let png = browser.screenshot(WIDTH, max_height).await;
        let file = out.join(format!("{name}.png"));
        std::fs::write(&file, png).expect("write the screenshot");
        println!("{}", file.display());
    }
    browser.close().await;
    server.stop().await;
}
