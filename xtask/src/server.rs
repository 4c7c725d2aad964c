//! A small static file server for `target/site` on the loopback interface.

use anyhow::{anyhow, Result};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use tiny_http::{Header, Method, Request, Response, Server};

/// Serves the files under a root directory.
pub struct SiteServer {
    server: Arc<Server>,
    root: PathBuf,
    port: u16,
}

impl std::fmt::Debug for SiteServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteServer")
            .field("root", &self.root)
            .field("port", &self.port)
            .finish()
    }
}

impl SiteServer {
    /// Listens on `127.0.0.1:port` (port 0 picks a free one).
    pub fn bind(root: &Path, port: u16) -> Result<SiteServer> {
        let server = Server::http(("127.0.0.1", port))
            .map_err(|e| anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| anyhow!("the server is not on an IP socket"))?;
        Ok(SiteServer {
            server: Arc::new(server),
            root: root.to_path_buf(),
            port,
        })
    }

    /// The site's address, ending in `/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Answers requests until the process ends, logging each one.
    pub fn serve_forever(&self) {
        for request in self.server.incoming_requests() {
            let (status, path) = respond(&self.root, request);
            println!("{status} {path}");
        }
    }

    /// Answers requests on a background thread until the returned handle is dropped.
    pub fn spawn(self) -> RunningServer {
        let server = Arc::clone(&self.server);
        let root = self.root.clone();
        let thread = std::thread::spawn(move || {
            for request in server.incoming_requests() {
                respond(&root, request);
            }
        });
        RunningServer {
            url: self.url(),
            server: self.server,
            thread: Some(thread),
        }
    }
}

/// A server answering on a background thread; dropping it stops the thread.
pub struct RunningServer {
    url: String,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The site's address, ending in `/`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("url", &self.url)
            .finish()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            // A panicked server thread has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

/// Answers one request; returns the status code and the requested path for logging.
fn respond(root: &Path, request: Request) -> (u16, String) {
    let path = request
        .url()
        .split(['?', '#'])
        .next()
        .unwrap_or("/")
        .to_owned();
    let (status, response) = if !matches!(request.method(), Method::Get | Method::Head) {
        (
            405,
            Response::from_string("method not allowed").with_status_code(405),
        )
    } else {
        match resolve(root, &path).and_then(|file| Some((std::fs::read(&file).ok()?, file))) {
            Some((body, file)) => {
                let mut response = Response::from_data(body);
                for (name, value) in [
                    ("Content-Type", mime_type(&file)),
                    ("Cache-Control", "no-cache"),
                ] {
                    // Both halves are ASCII constants, which always make a valid header.
                    if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                        response.add_header(h);
                    }
                }
                (200, response)
            }
            None => (
                404,
                Response::from_string("not found").with_status_code(404),
            ),
        }
    };
    // The client may have gone away; there is nobody left to tell.
    let _ = request.respond(response);
    (status, path)
}

/// Maps a URL path to a file under `root`; `None` for paths that leave it or name no file.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let relative = Path::new(url_path.trim_start_matches('/'));
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let mut file = root.join(relative);
    if file.is_dir() {
        file = file.join("index.html");
    }
    file.is_file().then_some(file)
}

/// The `Content-Type` for a file, by extension.
pub fn mime_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "asm" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_match_what_browsers_require() {
        assert_eq!(
            mime_type(Path::new("pkg/lab_ui_bg.wasm")),
            "application/wasm"
        );
        assert_eq!(
            mime_type(Path::new("pkg/lab_ui.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            mime_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(mime_type(Path::new("style.css")), "text/css; charset=utf-8");
        assert_eq!(mime_type(Path::new("icon.svg")), "image/svg+xml");
        assert_eq!(mime_type(Path::new("labs.json")), "application/json");
    }

    #[test]
    fn paths_outside_the_root_are_refused() {
        let root = std::env::temp_dir();
        assert_eq!(resolve(&root, "/../etc/passwd"), None);
        assert_eq!(resolve(&root, "/a/../../b"), None);
    }
}
