//! The dashboard's browser tests' helpers: a fresh database filled with realistic builds
//! ([`demo`]), a `bel serve` started in-process, and headless Chromium driven through
//! chromedriver (WebDriver) with its console log read back.
pub mod demo;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bel_serve::{BearerToken, ServeConfig, ServeError, Server};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

/// The value of `var`; `None` (skip) outside CI, a panic in CI: CI must never pass a test
/// that did not run. scripts/test.sh sets BEL_TEST_DSN; scripts/setup.sh installs Chromium.
pub fn env_or_skip(test: &str, var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ => skip_or_fail(test, &format!("{var} is not set (scripts/test.sh browser sets it)")),
    }
}

fn skip_or_fail<T>(test: &str, why: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|ci| !ci.is_empty()) {
        panic!("{test}: {why}, and CI is set: run these tests through `bash scripts/test.sh browser`");
    }
    eprintln!("skipping {test}: {why}");
    None
}

/// An executable found on PATH (or the path in `override_var`).
fn executable(name: &str, override_var: &str) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(override_var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

pub async fn connect(dsn: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A new database `<name>` with the extension created; returns its DSN.
pub async fn fresh_db(base: &str, name: &str) -> String {
    let admin = connect(base).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.expect("drop db");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create db");
    // libpq key=value syntax: a later key overrides an earlier one.
    let dsn = format!("{base} dbname={name}");
    connect(&dsn).await.batch_execute("CREATE EXTENSION bel").await.expect("create extension");
    dsn
}

/// A `bel serve` running in this process on a free loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    pub async fn start(dsn: &str, token: Option<&str>) -> Self {
        let mut config = ServeConfig::new(dsn.parse().expect("dsn"));
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.token = token.map(|t| BearerToken::new(t).expect("token"));
        let server = Server::bind(config).await.expect("bind");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        TestServer { addr, stop: Some(stop), task }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let stopped = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        stopped.expect("the server stops within 10 s").expect("server task").expect("server result");
    }
}

/// Headless Chromium behind its own chromedriver, with a fresh profile.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

/// chromedriver's log endpoint (`/session/{id}/se/log`): the browser console since the last
/// call, with failed loads, uncaught exceptions and CSP violations as SEVERE entries.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// A free loopback port (bound and released; chromedriver takes a port number).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `None` (skip) when they are not
    /// installed outside CI, a panic in CI.
    pub async fn start(test: &str) -> Option<Browser> {
        let Some(chromium) = executable("chromium", "BEL_CHROMIUM") else {
            return skip_or_fail(test, "chromium is not installed (scripts/setup.sh installs it)");
        };
        let Some(chromedriver) = executable("chromedriver", "BEL_CHROMEDRIVER") else {
            return skip_or_fail(test, "chromedriver is not installed (scripts/setup.sh installs chromium-driver)");
        };
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!("bel-browser-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("profile directory");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1360,900",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(capabilities) = capabilities else { panic!("capabilities are an object") };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let mut builder = ClientBuilder::new(connector.clone());
            builder.capabilities(capabilities.clone());
            match builder.connect(&webdriver).await {
                Ok(client) => break client,
                // chromedriver is still starting.
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(error) => panic!("no WebDriver session within 30 s: {error}"),
            }
        };
        Some(Browser { client, driver, profile })
    }

    /// Console entries at level SEVERE since the last call (errors, failed loads, CSP).
    pub async fn console_errors(&self) -> Vec<String> {
        let entries = self.client.issue_cmd(BrowserLog).await.expect("read the browser log");
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Loads `url` and waits until the document is complete.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Waits (polling every 25 ms) until `script` returns true in the page, or panics after
    /// `timeout`. Returns how long it took. A script failing while a page is being replaced
    /// (after a click that navigates) counts as false.
    pub async fn wait_until(&self, script: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if self.client.execute(script, vec![]).await.ok() == Some(Value::Bool(true)) {
                return start.elapsed();
            }
            assert!(start.elapsed() < timeout, "not true within {timeout:?}: {script}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the page at a URL containing `part` has loaded.
    pub async fn wait_for_page(&self, part: &str) {
        let script = format!(
            "return document.readyState === 'complete' && location.href.includes({})",
            serde_json::to_string(part).expect("a string")
        );
        self.wait_until(&script, Duration::from_secs(30)).await;
    }

    /// The values of attribute `attribute` of the elements matching `selector`, in order.
    pub async fn attributes(&self, selector: &str, attribute: &str) -> Vec<String> {
        let script = format!(
            "return Array.from(document.querySelectorAll({})).map(e => e.getAttribute({}))",
            serde_json::to_string(selector).expect("a string"),
            serde_json::to_string(attribute).expect("a string")
        );
        let values = self.eval(&script).await;
        values.as_array().into_iter().flatten().map(|v| v.as_str().unwrap_or_default().to_owned()).collect()
    }

    /// The text of the first element matching `selector` ("" when there is none).
    pub async fn text(&self, selector: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent.trim() : ''",
            serde_json::to_string(selector).expect("a string")
        );
        self.eval(&script).await.as_str().unwrap_or_default().to_owned()
    }

    /// A PNG of the page `width` CSS pixels wide and as tall as the document (at most
    /// `max_height`): the window is resized so that its viewport has that size.
    pub async fn screenshot(&self, width: u32, max_height: u32) -> Vec<u8> {
        let number = |value: Value| value.as_u64().unwrap_or(0) as u32;
        self.client.set_window_size(width, 900).await.expect("resize the window");
        let (inner_width, inner_height) =
            (number(self.eval("return window.innerWidth").await), number(self.eval("return window.innerHeight").await));
        let height = number(self.eval("return Math.ceil(document.documentElement.scrollHeight)").await);
        let height = height.clamp(300, max_height);
        let (extra_width, extra_height) = (width.saturating_sub(inner_width), 900u32.saturating_sub(inner_height));
        self.client.set_window_size(width + extra_width, height + extra_height).await.expect("resize the window");
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.client.screenshot().await.expect("screenshot")
    }

    /// Ends the session (chromedriver quits Chromium) and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}

impl Drop for Browser {
    /// After a failed test (no `close`), Chromium would outlive chromedriver: end
    /// chromedriver and the browser started with this browser's own profile directory (its
    /// helper processes follow it), then remove the directory.
    fn drop(&mut self) {
        let _ = self.driver.start_kill();
        let profile = format!("--user-data-dir={}", self.profile.display());
        let pids: Vec<String> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
                cmdline.split(|b| *b == 0).any(|arg| arg == profile.as_bytes()).then(|| pid.to_string())
            })
            .collect();
        if !pids.is_empty() {
            let _ = std::process::Command::new("kill").arg("-KILL").args(&pids).status();
            // Until they are gone (or zombies), so that nothing writes into the profile.
            let running = |pid: &String| {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
            };
            for _ in 0..100 {
                if !pids.iter().any(running) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Helper processes may still write a file or two while they notice the browser is gone.
        for _ in 0..100 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
