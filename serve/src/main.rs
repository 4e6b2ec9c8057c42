//! `ddpm-serve [DIR] [--port N] [--host ADDR] [--csp POLICY]`: see the library's documentation.

use std::net::SocketAddr;
use std::path::PathBuf;

use ddpm_serve::{STRICT_CSP, app};

struct Options {
    root: PathBuf,
    addr: SocketAddr,
    csp: String,
}

fn parse_args() -> Result<Options, String> {
    let mut root = None;
    let mut port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse().map_err(|_| format!("PORT={p} is not a port number"))?,
        Err(_) => 8080,
    };
    let mut host = "127.0.0.1".to_string();
    let mut csp = STRICT_CSP.to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => port = value("--port")?.parse().map_err(|_| "--port needs a number from 0 to 65535".to_string())?,
            "--host" => host = value("--host")?,
            "--csp" => csp = value("--csp")?,
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            dir if root.is_none() => root = Some(PathBuf::from(dir)),
            extra => return Err(format!("one folder only (got a second: {extra})")),
        }
    }
    let root = root.unwrap_or_else(|| PathBuf::from("."));
    if !root.is_dir() {
        return Err(format!("{}: not a folder", root.display()));
    }
    let addr = format!("{host}:{port}").parse().map_err(|_| format!("{host}:{port} is not an address to listen on"))?;
    Ok(Options { root, addr, csp })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = match parse_args() {
        Ok(o) => o,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("ddpm-serve: {message}");
            }
            eprintln!("usage: ddpm-serve [DIR] [--port N (or PORT=N; 8080)] [--host ADDR (127.0.0.1)] [--csp POLICY]");
            std::process::exit(if message.is_empty() { 0 } else { 2 });
        }
    };
    let app = match app(options.root.clone(), &options.csp) {
        Ok(app) => app,
        Err(message) => {
            eprintln!("ddpm-serve: {message}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(options.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ddpm-serve: cannot listen on {}: {e}", options.addr);
            std::process::exit(1);
        }
    };
    let bound = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| options.addr.to_string());
    println!("ddpm-serve: http://{bound}/ serving {} (Ctrl-C stops)", options.root.display());
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        eprintln!("ddpm-serve: {e}");
        std::process::exit(1);
    }
}
