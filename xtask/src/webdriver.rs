//! A small blocking W3C WebDriver client: sessions, navigation, elements, scripts,
//! keys and screenshots, over plain HTTP to a local chromedriver.

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long the `wait_*` helpers wait by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(15);

/// How often the `wait_*` helpers poll.
const POLL: Duration = Duration::from_millis(50);

/// WebDriver's codes for special keys (W3C WebDriver, "Keyboard actions").
pub mod keys {
    /// Enter.
    pub const ENTER: &str = "\u{E007}";
    /// Shift (held as a modifier until the end of a [`super::Session::press_keys`] sequence).
    pub const SHIFT: &str = "\u{E008}";
    /// Control (held like [`SHIFT`]).
    pub const CONTROL: &str = "\u{E009}";
}

/// One browser session on a WebDriver server.
#[derive(Debug)]
pub struct Session {
    agent: ureq::Agent,
    base: String,
}

/// An element of the current page.
#[derive(Debug)]
pub struct Element<'s> {
    session: &'s Session,
    id: String,
    /// The selector that found it, for error messages.
    selector: String,
}

impl Session {
    /// Starts a session on the WebDriver server at `server` (e.g. `http://127.0.0.1:9515`)
    /// with the given `alwaysMatch` capabilities.
    pub fn start(server: &str, capabilities: Value) -> Result<Session> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let server = server.trim_end_matches('/').to_owned();
        let body = json!({ "capabilities": { "alwaysMatch": capabilities } });
        let value = call(&agent, "POST", &format!("{server}/session"), Some(body))
            .context("starting a WebDriver session")?;
        let id = value
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("the new session has no sessionId: {value}"))?;
        Ok(Session {
            base: format!("{server}/session/{id}"),
            agent,
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        call(&self.agent, method, &format!("{}{path}", self.base), body)
    }

    /// Ends the session and closes its browser windows.
    pub fn quit(&self) -> Result<()> {
        self.cmd("DELETE", "", None).map(drop)
    }

    /// Navigates to `url` and waits for the document to load.
    pub fn goto(&self, url: &str) -> Result<()> {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .with_context(|| format!("opening {url}"))
            .map(drop)
    }

    /// Resizes the browser window (outer size, in CSS pixels).
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        let body = json!({ "width": width, "height": height });
        self.cmd("POST", "/window/rect", Some(body))
            .context("resizing the window")
            .map(drop)
    }

    /// The current page's title.
    pub fn title(&self) -> Result<String> {
        as_string(self.cmd("GET", "/title", None)?)
    }

    /// The first element matching a CSS selector, if any.
    pub fn find(&self, css: &str) -> Result<Option<Element<'_>>> {
        let body = json!({ "using": "css selector", "value": css });
        match self.cmd("POST", "/element", Some(body)) {
            Ok(value) => Ok(Some(self.element(&value, css)?)),
            Err(e) if is_no_such_element(&e) => Ok(None),
            Err(e) => Err(e.context(format!("finding `{css}`"))),
        }
    }

    /// Every element matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self.cmd("POST", "/elements", Some(body))?;
        value
            .as_array()
            .ok_or_else(|| anyhow!("find elements returned {value}"))?
            .iter()
            .map(|v| self.element(v, css))
            .collect()
    }

    fn element(&self, value: &Value, css: &str) -> Result<Element<'_>> {
        let id = value
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("not an element reference: {value}"))?;
        Ok(Element {
            session: self,
            id: id.to_owned(),
            selector: css.to_owned(),
        })
    }

    /// Waits until an element matches `css` and returns it.
    pub fn wait_for(&self, css: &str) -> Result<Element<'_>> {
        self.wait_for_within(css, DEFAULT_WAIT)
    }

    /// Waits up to `timeout` until an element matches `css` and returns it.
    pub fn wait_for_within(&self, css: &str, timeout: Duration) -> Result<Element<'_>> {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find(css)? {
                return Ok(e);
            }
            if start.elapsed() >= timeout {
                bail!("no element matches `{css}` after {timeout:?}");
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `condition` returns true (it is polled; errors end the wait).
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut condition: impl FnMut(&Session) -> Result<bool>,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            if condition(self)? {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                bail!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until the element matching `css` has exactly the text `expected`.
    pub fn wait_for_text(&self, css: &str, expected: &str) -> Result<()> {
        let mut last = String::new();
        let waited = self.wait_until(
            &format!("`{css}` to read {expected:?}"),
            DEFAULT_WAIT,
            |s| {
                last = match s.find(css)? {
                    Some(e) => e.text()?,
                    None => "<no such element>".into(),
                };
                Ok(last == expected)
            },
        );
        waited.with_context(|| format!("`{css}` reads {last:?}"))
    }

    /// The CSS selector for an element's `data-testid`.
    pub fn testid(id: &str) -> String {
        format!("[data-testid=\"{id}\"]")
    }

    /// Waits for the element with `data-testid` = `id` and clicks it.
    pub fn click_testid(&self, id: &str) -> Result<()> {
        self.click(&Self::testid(id))
    }

    /// Waits for the element matching `css` and clicks it.
    pub fn click(&self, css: &str) -> Result<()> {
        self.wait_for(css)?.click()
    }

    /// The visible text of the element with `data-testid` = `id`.
    pub fn text_testid(&self, id: &str) -> Result<String> {
        self.text(&Self::testid(id))
    }

    /// The visible text of the element matching `css` (waiting for it to appear).
    pub fn text(&self, css: &str) -> Result<String> {
        self.wait_for(css)?.text()
    }

    /// Runs a script in the page (`arguments` holds `args`) and returns its result.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .context("running a script in the page")
    }

    /// Presses and releases keys in order on the focused element; a modifier
    /// (see [`keys`]) stays down until the end of the sequence.
    pub fn press_keys(&self, sequence: &[&str]) -> Result<()> {
        let mut actions = Vec::new();
        let mut held = Vec::new();
        for key in sequence {
            actions.push(json!({ "type": "keyDown", "value": key }));
            if [keys::SHIFT, keys::CONTROL].contains(key) {
                held.push(*key);
            } else {
                actions.push(json!({ "type": "keyUp", "value": key }));
            }
        }
        for key in held.into_iter().rev() {
            actions.push(json!({ "type": "keyUp", "value": key }));
        }
        let body = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] });
        self.cmd("POST", "/actions", Some(body)).map(drop)
    }

    /// Sizes the window so that the page's viewport is `width` × `height` CSS pixels.
    pub fn set_viewport(&self, width: u32, height: u32) -> Result<()> {
        let mut outer = (width, height);
        for _ in 0..3 {
            self.cmd(
                "POST",
                "/window/rect",
                Some(json!({ "width": outer.0, "height": outer.1 })),
            )?;
            let inner = self.execute("return [window.innerWidth, window.innerHeight];", vec![])?;
            let got = |i: usize| inner.get(i).and_then(Value::as_u64).unwrap_or(0) as u32;
            if (got(0), got(1)) == (width, height) {
                return Ok(());
            }
            outer = (
                (outer.0 + width).saturating_sub(got(0)),
                (outer.1 + height).saturating_sub(got(1)),
            );
        }
        bail!("could not size the viewport to {width}x{height}")
    }

    /// Saves a PNG screenshot of the viewport as `target/screenshots/NAME.png`.
    pub fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let value = self.cmd("GET", "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(as_string(value)?)
            .context("decoding the screenshot")?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let file = dir.join(format!("{name}.png"));
        std::fs::write(&file, png).with_context(|| format!("writing {}", file.display()))?;
        Ok(file)
    }

    /// The browser console's messages since the last call (Chromium only).
    pub fn console_log(&self) -> Result<Vec<String>> {
        let value = self.cmd("POST", "/se/log", Some(json!({ "type": "browser" })))?;
        Ok(value
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        let level = e.get("level").and_then(Value::as_str).unwrap_or("?");
                        let message = e.get("message").and_then(Value::as_str).unwrap_or("");
                        format!("[{level}] {message}")
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// Clicks the element.
    pub fn click(&self) -> Result<()> {
        self.session
            .cmd("POST", &self.path("/click"), Some(json!({})))
            .with_context(|| format!("clicking `{}`", self.selector))
            .map(drop)
    }

    /// The element's rendered text.
    pub fn text(&self) -> Result<String> {
        as_string(self.session.cmd("GET", &self.path("/text"), None)?)
    }

    /// An attribute's value, `None` when absent.
    pub fn attribute(&self, name: &str) -> Result<Option<String>> {
        let value = self
            .session
            .cmd("GET", &self.path(&format!("/attribute/{name}")), None)?;
        Ok(value.as_str().map(str::to_owned))
    }
}

/// Where screenshots go.
pub fn screenshot_dir() -> PathBuf {
    crate::target_dir().join("screenshots")
}

/// Sends one WebDriver command and returns its `value`, or the WebDriver error as an error.
fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Result<Value> {
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(body)) => agent.post(url).send_json(body),
        (_, None) => agent.post(url).send_empty(),
    };
    let mut response = response.with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let reply: Value = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_json()
        .with_context(|| format!("{method} {url}: reading the reply"))?;
    let value = reply.get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        let message = value.get("message").and_then(Value::as_str).unwrap_or("");
        let first_line = message.lines().next().unwrap_or("");
        return Err(anyhow!(WebDriverError {
            error: error.to_owned(),
            message: first_line.to_owned(),
        }));
    }
    if !status.is_success() {
        bail!("{method} {url}: HTTP {status}: {reply}");
    }
    Ok(value)
}

/// An error reply from the WebDriver server.
#[derive(Debug)]
struct WebDriverError {
    error: String,
    message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "webdriver: {}: {}", self.error, self.message)
    }
}

impl std::error::Error for WebDriverError {}

fn is_no_such_element(e: &anyhow::Error) -> bool {
    e.downcast_ref::<WebDriverError>()
        .is_some_and(|w| w.error == "no such element")
}

fn as_string(value: Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s),
        other => bail!("expected a string from the browser, got {other}"),
    }
}

/// A screenshot file path for display, relative to the workspace when possible.
pub fn shown(path: &Path) -> String {
    path.strip_prefix(crate::workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}
