//! The server as a browser meets it: raw HTTP/1.1 over loopback against a folder made here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    addr: String,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn site(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("ddpm-serve-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(dir.join("pkg/core.wasm"), b"\0asm\x01\0\0\0 the original").unwrap();
    std::fs::write(dir.join("pkg/core.wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(dir.join("pkg/core.wasm.gz"), b"gzip bytes").unwrap();
    TempDir(dir)
}

fn start(name: &str, extra: &[&str]) -> Server {
    let dir = site(name);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ddpm-serve"))
        .arg(&dir.0)
        .args(["--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("ddpm-serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    // "ddpm-serve: http://127.0.0.1:PORT/ serving …"
    let addr = line.split("http://").nth(1).and_then(|rest| rest.split('/').next()).expect("the address is printed").to_string();
    Server { child, addr, _dir: dir }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header that may repeat (Vary), lower-cased, as one list.
    fn all(&self, name: &str) -> String {
        let values: Vec<&str> = self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect();
        values.join(", ").to_ascii_lowercase()
    }
}

fn get(server: &Server, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request += &format!("Host: {}\r\n", server.addr);
    }
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    stream.write_all(format!("{request}\r\n").as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete header");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(": ")).map(|(n, v)| (n.to_string(), v.to_string())).collect();
    Reply { status, headers, body: raw[split + 4..].to_vec() }
}

#[test]
fn precompressed_files_by_accept_encoding_and_wasm_streams() {
    let server = start("encoding", &[]);
    let br = get(&server, "GET", "/pkg/core.wasm", &[("Accept-Encoding", "gzip, deflate, br")]);
    assert_eq!(br.status, 200);
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.header("content-type"), Some("application/wasm"));
    assert_eq!(br.body, b"brotli bytes");
    let gz = get(&server, "GET", "/pkg/core.wasm", &[("Accept-Encoding", "gzip")]);
    assert_eq!((gz.header("content-encoding"), gz.body.as_slice()), (Some("gzip"), b"gzip bytes".as_slice()));
    let plain = get(&server, "GET", "/pkg/core.wasm", &[]);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.body.ends_with(b"the original"));
    // Caches must keep the variants apart.
    assert!(br.all("vary").contains("accept-encoding"), "Vary: {}", br.all("vary"));
}

#[test]
fn revalidation_gives_304_and_a_tag_per_representation() {
    let server = start("etag", &[]);
    let first = get(&server, "GET", "/pkg/core.wasm", &[("Accept-Encoding", "br")]);
    let tag = first.header("etag").expect("an ETag").to_string();
    assert_eq!(first.header("cache-control"), Some("no-cache"));
    assert!(first.header("last-modified").is_some());
    let again = get(&server, "GET", "/pkg/core.wasm", &[("Accept-Encoding", "br"), ("If-None-Match", &tag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    let other = get(&server, "GET", "/pkg/core.wasm", &[("Accept-Encoding", "gzip")]);
    assert_ne!(other.header("etag"), Some(tag.as_str()), "the gzip variant is another representation");
    let stale = get(&server, "GET", "/pkg/core.wasm", &[("Accept-Encoding", "br"), ("If-None-Match", "W/\"0-0-br\"")]);
    assert_eq!(stale.status, 200);
}

#[test]
fn cross_origin_embedding_isolation_and_csp() {
    let server = start("headers", &[]);
    let page = get(&server, "GET", "/", &[("Origin", "http://blog.example")]);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("access-control-allow-origin"), Some("*"));
    assert_eq!(page.header("cross-origin-resource-policy"), Some("cross-origin"));
    assert_eq!(page.header("cross-origin-opener-policy"), Some("same-origin"));
    assert_eq!(page.header("cross-origin-embedder-policy"), Some("require-corp"));
    assert_eq!(page.header("content-security-policy"), Some(ddpm_serve::STRICT_CSP));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // Over plain http from a LAN name browsers ignore COOP/COEP and log an error: not sent there.
    let lan = get(&server, "GET", "/", &[("Host", "ddpm.lan:8080")]);
    assert_eq!(lan.status, 200);
    assert_eq!(lan.header("cross-origin-opener-policy"), None);
    assert_eq!(lan.header("cross-origin-embedder-policy"), None);
    let proxied = get(&server, "GET", "/", &[("Host", "ddpm.example"), ("X-Forwarded-Proto", "https")]);
    assert_eq!(proxied.header("cross-origin-embedder-policy"), Some("require-corp"));
    let preflight =
        get(&server, "OPTIONS", "/pkg/core.wasm", &[("Origin", "http://blog.example"), ("Access-Control-Request-Method", "GET")]);
    assert!(preflight.status == 200 || preflight.status == 204, "preflight: {}", preflight.status);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn missing_files_and_paths_outside_the_folder_are_404() {
    let server = start("missing", &[]);
    assert_eq!(get(&server, "GET", "/nope.js", &[]).status, 404);
    assert_eq!(get(&server, "GET", "/../../etc/passwd", &[]).status, 404);
    assert_eq!(get(&server, "GET", "/%2e%2e/%2e%2e/etc/passwd", &[]).status, 404);
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_ddpm-serve")).arg("/no/such/folder").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a folder"));
    let out = Command::new(env!("CARGO_BIN_EXE_ddpm-serve")).args([".", "--port", "http"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port needs a number"));
}
