//! A headless Chromium driven over the W3C WebDriver protocol (Debian's `chromium` and
//! `chromium-driver`), for the dashboard's browser scenarios.
//!
//! A few JSON requests over the reqwest Hearth already builds: fantoccini and thirtyfour both
//! depend on Mozilla's `webdriver` crate, whose MPL-2.0 licence tests/dependencies.rs refuses.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

/// One Chromium at a time: two at once on a 2-core machine slow the other scenarios that run
/// beside them.
static ONE_AT_A_TIME: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    closed: bool,
    _driver: tokio::process::Child,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

fn find(env: &str, default: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session. Fails (never skips) when they are
    /// not installed: CI installs them (`.ci/run`).
    pub async fn start() -> Self {
        let turn = ONE_AT_A_TIME.clone().lock_owned().await;
        let driver_path = find("CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = find("CHROMIUM", "/usr/bin/chromium");
        for (path, package) in [(&driver_path, "chromium-driver"), (&chromium, "chromium")] {
            assert!(
                path.exists(),
                "{} is missing: the dashboard's browser tests need Debian's `{package}` package \
                 (apt-get install -y chromium chromium-driver; .ci/run installs it), or set \
                 CHROMEDRIVER / CHROMIUM to where they are",
                path.display()
            );
        }
        let port = free_port();
        let driver = tokio::process::Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(answer) = http.get(format!("{base}/status")).send().await {
                let status: Value =
                    serde_json::from_slice(&answer.bytes().await.unwrap_or_default())
                        .unwrap_or_default();
                if status["value"]["ready"] == json!(true) {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not become ready on port {port}");
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1100,900", "--no-first-run", "--disable-extensions"]
            }
        }}});
        let created = call(
            &http,
            "POST",
            &format!("{base}/session"),
            Some(capabilities),
        )
        .await;
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        let browser = Self {
            http,
            session: format!("{base}/session/{id}"),
            closed: false,
            _driver: driver,
            _turn: turn,
        };
        // Finding an element waits for it (a page loading after a click or a form post).
        browser
            .cmd("POST", "/timeouts", Some(json!({ "implicit": 5000 })))
            .await;
        browser
    }

    /// Waits until the page's text contains `needle` (after a click that navigates); returns
    /// the text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("`{needle}` never appeared on {}:\n{text}", self.url().await)
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(&self.http, method, &format!("{}{path}", self.session), body).await
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The visible text of the page ("" while a new page is replacing the old one).
    pub async fn text(&self) -> String {
        let script =
            json!({ "script": "return document.body ? document.body.innerText : '';", "args": [] });
        self.cmd("POST", "/execute/sync", Some(script))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .cmd(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        match found[ELEMENT].as_str() {
            Some(id) => id.to_owned(),
            None => panic!("no element `{css}` on {}: {found}", self.url().await),
        }
    }

    /// The text of the first element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        let element = self.element(css).await;
        self.cmd("GET", &format!("/element/{element}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.cmd(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// A cookie's value, if the browser holds it for the current page.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let all = self.cmd("GET", "/cookie", None).await;
        all.as_array()?
            .iter()
            .find(|c| c["name"] == name)
            .and_then(|c| c["value"].as_str())
            .map(str::to_owned)
    }

    /// The cookie's attributes as WebDriver reports them.
    pub async fn cookie_json(&self, name: &str) -> Value {
        self.cmd("GET", &format!("/cookie/{name}"), None).await
    }

    /// Saves a PNG of the viewport to `dir/name`.
    pub async fn screenshot(&self, dir: &Path, name: &str) {
        let shot = self.cmd("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        std::fs::create_dir_all(dir).expect("screenshot folder");
        std::fs::write(dir.join(name), png).expect("screenshot written");
    }

    /// Saves a PNG of the whole page (the window grown to the page's height for the shot, up to
    /// 4000 pixels) to `dir/name`.
    pub async fn screenshot_page(&self, dir: &Path, name: &str) {
        let height = self
            .cmd(
                "POST",
                "/execute/sync",
                Some(json!({ "script": "return document.documentElement.scrollHeight;", "args": [] })),
            )
            .await
            .as_u64()
            .unwrap_or(900)
            .clamp(900, 4000);
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": 1100, "height": height + 150 })),
        )
        .await;
        self.screenshot(dir, name).await;
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": 1100, "height": 900 })),
        )
        .await;
    }

    pub async fn close(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        self.closed = true;
    }
}

impl Drop for Browser {
    /// A failing test drops the browser without `close`: end the session so that chromedriver
    /// quits Chromium (killing chromedriver alone would leave Chromium running).
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let url = self.session.clone();
        let _ = std::thread::spawn(move || delete_blocking(&url)).join();
    }
}

/// `DELETE url` over a plain socket (no runtime is available in `drop`).
fn delete_blocking(url: &str) {
    use std::io::{Read as _, Write as _};
    let Some(rest) = url.strip_prefix("http://") else {
        return;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return;
    };
    let Ok(addr) = host.parse::<std::net::SocketAddr>() else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
    let request = format!("DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

async fn call(http: &reqwest::Client, method: &str, url: &str, body: Option<Value>) -> Value {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = http.request(method, url).timeout(Duration::from_secs(60));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let answer = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("WebDriver {url}: {e}"));
    let status = answer.status();
    let value: Value =
        serde_json::from_slice(&answer.bytes().await.unwrap_or_default()).unwrap_or_default();
    assert!(
        status.is_success(),
        "WebDriver {url} answered {status}: {value}"
    );
    value["value"].clone()
}
