//! What the HTTP benchmarks share: the engine as a child process (`hotline serve --roles
//! http` on a scratch database), a one-connection HTTP/1.1 client that can sign in like a
//! browser, and percentiles.

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use hyper_util::rt::TokioIo;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
    pub count: usize,
}

impl Percentiles {
    pub fn of(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort();
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Percentiles {
            p50: at(0.5),
            p99: at(0.99),
            count: samples.len(),
        }
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// `hotline serve --roles http` as a child process.
pub struct Engine {
    child: tokio::process::Child,
    pub addr: String,
}

impl Engine {
    /// Starts it on `database_url` (port 0) with `HOTLINE_API_TOKENS` = `tokens`.
    pub async fn start(database_url: &str, tokens: &str) -> anyhow::Result<Engine> {
        let exe = std::env::current_exe()?;
        let mut child = tokio::process::Command::new(exe)
            .args(["serve", "--roles", "http"])
            .env("HOTLINE_DATABASE_URL", database_url)
            .env("HOTLINE_HTTP_ADDR", "127.0.0.1:0")
            .env_remove("HOTLINE_METRICS_ADDR")
            .env_remove("HOTLINE_API_TOKENS_FILE")
            .env("HOTLINE_API_TOKENS", tokens)
            .env("RUST_LOG", "warn,hotline::serve=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting hotline serve --roles http")?;
        let stderr = child.stderr.take().context("piped stderr")?;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if line.contains("HTTP listening")
                    && let Some(rest) = line.split("addr=").nth(1)
                {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    return Ok(addr.to_owned());
                }
            }
            anyhow::bail!("the engine exited before it listened")
        })
        .await
        .context("the engine did not listen within a minute")??;
        // Keep reading its log, so that it never blocks on a full pipe; its warnings and
        // errors are shown (a benchmark that fails should say why).
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains(" WARN ") || line.contains(" ERROR ") {
                    eprintln!("[engine] {line}");
                }
            }
        });
        println!("engine (http role) listening on {addr}");
        Ok(Engine { child, addr })
    }

    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: a signal to our own child process.
            unsafe { kill(pid as i32, 15) };
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

unsafe extern "C" {
    fn kill(pid: i32, signal: i32) -> i32;
}

/// One keep-alive HTTP/1.1 connection, one request at a time.
pub struct Client {
    sender: hyper::client::conn::http1::SendRequest<Body>,
    host: String,
}

impl Client {
    pub async fn connect(addr: &str) -> anyhow::Result<Client> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Client {
            sender,
            host: addr.to_owned(),
        })
    }

    /// `GET path` with a bearer token; the body of a 200 answer.
    pub async fn get(&mut self, path: &str, token: &str) -> anyhow::Result<Bytes> {
        let request = axum::http::Request::get(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())?;
        Ok(self.send(request, StatusCode::OK).await?.1)
    }

    /// `GET path` with a cookie header; the body of a 200 answer.
    pub async fn get_with_cookie(&mut self, path: &str, cookie: &str) -> anyhow::Result<Bytes> {
        let request = axum::http::Request::get(path)
            .header("host", &self.host)
            .header("cookie", cookie)
            .body(Body::empty())?;
        Ok(self.send(request, StatusCode::OK).await?.1)
    }

    /// Signs in at `/signin` with `token` as a browser would; the session cookie
    /// (`hotline_session=…`) to send with the pages' requests.
    pub async fn sign_in(&mut self, token: &str) -> anyhow::Result<String> {
        let request = axum::http::Request::get("/signin")
            .header("host", &self.host)
            .body(Body::empty())?;
        let (headers, _) = self.send(request, StatusCode::OK).await?;
        let form_cookie = first_cookie(&headers, "hotline_signin")?;
        let form_token = form_cookie
            .split_once('=')
            .map(|(_, v)| v)
            .unwrap_or_default();
        let body = format!("token={token}&csrf={form_token}&next=%2F");
        let request = axum::http::Request::post("/signin")
            .header("host", &self.host)
            .header("cookie", &form_cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))?;
        let (headers, _) = self.send(request, StatusCode::SEE_OTHER).await?;
        first_cookie(&headers, "hotline_session")
    }

    async fn send(
        &mut self,
        request: axum::http::Request<Body>,
        expected: StatusCode,
    ) -> anyhow::Result<(axum::http::HeaderMap, Bytes)> {
        let what = format!("{} {}", request.method(), request.uri());
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX).await?;
        anyhow::ensure!(
            status == expected,
            "{what}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok((headers, body))
    }
}

/// `name=value` of the first `Set-Cookie` setting `name`.
fn first_cookie(headers: &axum::http::HeaderMap, name: &str) -> anyhow::Result<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
        .with_context(|| format!("no {name} cookie set"))
}
