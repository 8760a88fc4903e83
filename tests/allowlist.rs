//! The example service (`examples/allowlist`) built by the real tool as a
//! static musl binary and driven over HTTP: lookups, additions, address
//! normalization, JSON errors and graceful shutdown, with in-memory storage
//! and with a real Redis server started for the test.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long the service may take to start or to stop.
const PROMPT: Duration = Duration::from_secs(10);

/// The service binary, built once per test run; None when the musl
/// toolchain is missing (the test is skipped, or fails in strict mode).
fn service_binary() -> Option<PathBuf> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if !common::require_musl_toolchains() {
                return None;
            }
            let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/allowlist");
            let run = common::run(common::chef().args([
                "build",
                "--release",
                "--quiet",
                "--path",
                project.to_str().unwrap(),
            ]));
            run.ok();
            let exe = PathBuf::from(run.stdout.lines().next().expect("build prints the binary"));
            assert!(exe.is_file(), "{} is not a file", exe.display());
            Some(exe)
        })
        .clone()
}

/// Whether Debian's redis-server is there (skips, or fails in strict mode).
fn require_redis() -> bool {
    common::require(
        "redis-server",
        common::have("redis-server"),
        "apt-get install redis-server",
    )
}

/// A running service; killed when dropped if the test did not stop it.
struct Service {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Service {
    /// Starts `exe` on a free loopback port with extra environment.
    fn start(exe: &Path, env: &[(&str, &str)]) -> Service {
        let mut cmd = Command::new(exe);
        cmd.env_remove("REDIS_URL")
            .env("BIND", "127.0.0.1")
            .env("PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the service starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                if let Some(rest) = line.trim().split("listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(addr.parse::<SocketAddr>().ok());
                }
                log.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let addr = match rx.recv_timeout(PROMPT) {
            Ok(Some(addr)) => addr,
            other => {
                let _ = child.kill();
                let status = child.wait().unwrap();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "the service did not report its address ({other:?}, {status}); stderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        Service {
            child,
            addr,
            stderr,
        }
    }

    /// An HTTP request; the status and the JSON body.
    fn request(&self, method: &str, path: &str) -> (u16, Value) {
        http(self.addr, method, path)
    }

    /// Sends `signal` and waits for the exit, at most [`PROMPT`].
    fn stop(mut self, signal: &str) -> (ExitStatus, Duration, String) {
        let started = Instant::now();
        send_signal(self.child.id(), signal);
        let status = wait_for(&mut self.child, PROMPT)
            .unwrap_or_else(|| panic!("the service did not exit within {PROMPT:?} of {signal}"));
        let elapsed = started.elapsed();
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        let log = self.stderr.lock().unwrap().clone();
        (status, elapsed, log)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connects to the service");
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reads the response");
    let text = String::from_utf8(raw).expect("the response is UTF-8");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {text:?}"));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let head_lower = head.to_ascii_lowercase();
    assert!(
        head_lower.contains("content-type: application/json"),
        "{method} {path}: not JSON:\n{head}"
    );
    assert!(
        !head_lower.contains("transfer-encoding: chunked"),
        "{method} {path}: chunked bodies are not expected:\n{head}"
    );
    let value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {body:?}"));
    (status, value)
}

/// The behaviour both backends share, on an empty store.
fn exercise(svc: &Service, storage: &str) {
    assert_eq!(
        svc.request("GET", "/healthz"),
        (200, json!({"status": "ok", "storage": storage}))
    );

    // Unknown address.
    let (status, body) = svc.request("GET", "/0xABC");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "not_allowed");
    assert_eq!(body["address"], "0xabc");
    assert!(
        body["message"].as_str().unwrap().contains("0xabc"),
        "{body}"
    );

    // Added once (201), then again under other spellings (200).
    assert_eq!(
        svc.request("POST", "/0x00AbC"),
        (
            201,
            json!({"address": "0xabc", "allowed": true, "added": true})
        )
    );
    for spelling in ["abc", "0XABC", "000abc"] {
        assert_eq!(
            svc.request("POST", &format!("/{spelling}")),
            (
                200,
                json!({"address": "0xabc", "allowed": true, "added": false})
            ),
            "POST /{spelling}"
        );
    }
    for spelling in [
        "0xabc",
        "0X0ABC",
        "abc",
        "0x0000000000000000000000000000000000000abc",
    ] {
        assert_eq!(
            svc.request("GET", &format!("/{spelling}")),
            (200, json!({"address": "0xabc", "allowed": true})),
            "GET /{spelling}"
        );
    }

    // A full-length address, and the zero address.
    let full = "0xDe0B295669a9FD93d5F28D9Ec85E40f4cb697BAe";
    let canonical = full.to_ascii_lowercase();
    assert_eq!(svc.request("POST", &format!("/{full}")).0, 201);
    assert_eq!(
        svc.request("GET", &format!("/{canonical}")),
        (200, json!({"address": canonical, "allowed": true}))
    );
    assert_eq!(svc.request("POST", "/0x000").1["address"], "0x0");
    assert_eq!(svc.request("GET", "/0").0, 200);
    // Distinct values stay distinct.
    assert_eq!(svc.request("GET", "/0xabc0").0, 404);

    // Invalid addresses: 400 with a JSON error saying why.
    let too_long = format!("/0x{}", "1".repeat(41));
    let cases: [(&str, &str, &str); 6] = [
        ("GET", "/0xabg", "'g' at position 4 is not a hex digit"),
        ("POST", "/0xabg", "'g' at position 4"),
        ("GET", &too_long, "41 hex digits"),
        ("POST", "/0x", "no hex digits"),
        ("GET", "/0x%20ab", "' ' at position 2"),
        ("GET", "/%FF", "0x"),
    ];
    for (method, path, says) in cases {
        let (status, body) = svc.request(method, path);
        assert_eq!(status, 400, "{method} {path}: {body}");
        assert_eq!(body["error"], "invalid_address", "{method} {path}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{method} {path}: {message:?}");
        assert!(
            message.contains("expected up to 40 hex digits"),
            "{method} {path}: {message:?}"
        );
    }
    // A rejected POST added nothing.
    assert_eq!(svc.request("GET", "/0xab").0, 404);

    // Unknown routes and methods are JSON errors too.
    let (status, body) = svc.request("GET", "/0xabc/extra");
    assert_eq!((status, &body["error"]), (404, &json!("no_such_route")));
    let (status, body) = svc.request("DELETE", "/0xabc");
    assert_eq!(
        (status, &body["error"]),
        (405, &json!("method_not_allowed"))
    );
    // ...and did not disturb the set.
    assert_eq!(svc.request("GET", "/abc").0, 200);
}

#[test]
fn memory_backend_serves_normalized_addresses() {
    let Some(exe) = service_binary() else { return };
    let svc = Service::start(&exe, &[]);
    exercise(&svc, "memory");
    let (status, _, log) = svc.stop("TERM");
    assert!(status.success(), "{status}; stderr:\n{log}");
    assert!(log.contains("storage: memory"), "{log}");
}

#[test]
fn memory_backend_forgets_on_restart() {
    let Some(exe) = service_binary() else { return };
    let svc = Service::start(&exe, &[]);
    assert_eq!(svc.request("POST", "/0x1").0, 201);
    drop(svc);
    let svc = Service::start(&exe, &[]);
    assert_eq!(svc.request("GET", "/0x1").0, 404);
}

#[test]
fn many_concurrent_clients_see_every_addition() {
    let Some(exe) = service_binary() else { return };
    let svc = Service::start(&exe, &[]);
    let addr = svc.addr;
    let workers: Vec<_> = (0..8u32)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..50u32 {
                    let path = format!("/0x{t:x}{i:04x}");
                    assert_eq!(http(addr, "POST", &path).0, 201, "POST {path}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    for t in 0..8u32 {
        for i in 0..50u32 {
            let path = format!("/0x{t:x}{i:04x}");
            assert_eq!(http(addr, "GET", &path).0, 200, "GET {path}");
        }
    }
}

/// A Redis server for one test: a free port, a temporary directory, no
/// persistence; stopped when dropped.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempfile::Builder::new()
            .prefix("allowlist-redis-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path())
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut redis = Redis {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + PROMPT;
        loop {
            if let Ok(reply) = redis.command("PING")
                && reply == "+PONG"
            {
                return redis;
            }
            if let Some(status) = redis.child.try_wait().unwrap() {
                panic!("redis-server exited at startup ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// One inline command; the first line of the reply.
    fn command(&self, line: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(PROMPT))?;
        stream.write_all(format!("{line}\r\n").as_bytes())?;
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply)?;
        Ok(reply.trim_end().to_string())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn redis_backend_serves_and_keeps_addresses() {
    let Some(exe) = service_binary() else { return };
    if !require_redis() {
        return;
    }
    let redis = Redis::start();
    let url = redis.url();
    let svc = Service::start(&exe, &[("REDIS_URL", &url)]);
    exercise(&svc, "redis");

    // The canonical forms are what Redis holds.
    assert_eq!(
        redis
            .command("SISMEMBER allowlist:addresses 0xabc")
            .unwrap(),
        ":1"
    );
    assert_eq!(redis.command("SCARD allowlist:addresses").unwrap(), ":3");

    // A second instance sees what the first added, and its own additions
    // reach the first.
    let other = Service::start(&exe, &[("REDIS_URL", &url)]);
    assert_eq!(other.request("GET", "/ABC").0, 200);
    assert_eq!(other.request("POST", "/0xfeed").0, 201);
    assert_eq!(svc.request("GET", "/0xFEED").0, 200);
    let (status, _, log) = other.stop("INT");
    assert!(status.success(), "{status}; stderr:\n{log}");

    // Addresses survive a restart of the service.
    let (status, _, log) = svc.stop("TERM");
    assert!(status.success(), "{status}; stderr:\n{log}");
    assert!(log.contains("storage: redis"), "{log}");
    let svc = Service::start(&exe, &[("REDIS_URL", &url)]);
    assert_eq!(svc.request("GET", "/0xabc").0, 200);

    // Redis going away is a 503 with a JSON error, not a hang or a crash.
    drop(redis);
    let started = Instant::now();
    let (status, body) = svc.request("GET", "/0xabc");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "storage_unavailable");
    assert!(started.elapsed() < PROMPT);
    let (status, body) = svc.request("GET", "/healthz");
    assert_eq!(
        (status, &body["error"]),
        (503, &json!("storage_unavailable"))
    );
    let (status, _, log) = svc.stop("TERM");
    assert!(status.success(), "{status}; stderr:\n{log}");
}

#[test]
fn unreachable_redis_fails_at_startup_with_a_hint() {
    let Some(exe) = service_binary() else { return };
    let port = free_port();
    let out = common::run(
        Command::new(&exe)
            .env("BIND", "127.0.0.1")
            .env("PORT", "0")
            .env("REDIS_URL", format!("redis://127.0.0.1:{port}/")),
    );
    out.failed();
    assert!(
        out.stderr.contains("cannot connect to Redis"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: check REDIS_URL"),
        "{}",
        out.stderr
    );

    let out = common::run(Command::new(&exe).env("REDIS_URL", "not a url"));
    out.failed();
    assert!(out.stderr.contains("invalid REDIS_URL"), "{}", out.stderr);
}

#[test]
fn bad_listen_settings_are_explained() {
    let Some(exe) = service_binary() else { return };
    let out = common::run(
        Command::new(&exe)
            .env_remove("REDIS_URL")
            .env("PORT", "http"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("PORT=http is not a port number"),
        "{}",
        out.stderr
    );

    // A port already taken.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = common::run(
        Command::new(&exe)
            .env_remove("REDIS_URL")
            .env("BIND", "127.0.0.1")
            .env("PORT", &port),
    );
    out.failed();
    assert!(out.stderr.contains("cannot listen on"), "{}", out.stderr);
}

#[test]
fn sigterm_and_sigint_stop_the_service_promptly_with_status_0() {
    let Some(exe) = service_binary() else { return };
    for signal in ["TERM", "INT"] {
        let svc = Service::start(&exe, &[]);
        assert_eq!(svc.request("POST", "/0x1").0, 201);
        // An idle keep-alive connection must not hold the shutdown up.
        let mut idle = TcpStream::connect(svc.addr).unwrap();
        write!(idle, "GET /0x1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut first = [0u8; 12];
        idle.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");

        let (status, elapsed, log) = svc.stop(signal);
        assert_eq!(
            status.code(),
            Some(0),
            "SIG{signal}: {status}; stderr:\n{log}"
        );
        assert!(
            elapsed < Duration::from_secs(3),
            "SIG{signal}: took {elapsed:?}"
        );
        assert!(log.contains(&format!("SIG{signal} received")), "{log}");
        assert!(log.contains("allowlist: stopped"), "{log}");
    }
}
