//! The long fuzz run: `cargo run --release --example fuzz -- [--cases N] [--start S]`
//! (default 1 000 000 cases from 0). Prints progress every 10 000 cases and a report; exits 1 on
//! any panic or hang (a case over 10 s). A failing case replays alone with `--start S --cases 1`;
//! `DDPM_FUZZ_TRACE=1` names each case before it runs (for one that aborts the process, say by
//! exhausting memory, which no `catch_unwind` sees).

#[path = "../tests/fuzzing/mod.rs"]
mod fuzzing;

use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    let (start, cases) = (arg("--start", 0), arg("--cases", 1_000_000));
    let began = Instant::now();
    let report = fuzzing::run(start..start + cases, Duration::from_secs(10), |r| {
        eprintln!("{:>9} cases, {} panics, {:.0} cases/s", r.cases, r.panics.len(), r.cases as f64 / began.elapsed().as_secs_f64());
    });
    let mut errors: Vec<_> = report.errors.iter().collect();
    errors.sort_by(|a, b| b.1.cmp(a.1));
    println!(
        "cases {start}..{}: {} loaded and stepped, {} refused with an error, {} panics, {} hangs (> 10 s)",
        start + cases,
        report.loaded,
        report.refused,
        report.panics.len(),
        report.slow.len()
    );
    println!(
        "slowest case {:?}; {:.1} s in all ({:.0} cases/s); {} kinds of error, the commonest:",
        report.slowest,
        began.elapsed().as_secs_f64(),
        report.cases as f64 / began.elapsed().as_secs_f64(),
        errors.len()
    );
    for (words, count) in errors.iter().take(15) {
        println!("  {count:>8}  {words} …");
    }
    for (number, seed, mutations, message) in &report.panics {
        println!("PANIC case {number} ({seed}; {}): {message}", mutations.join(", "));
    }
    for (number, took) in &report.slow {
        println!("HANG case {number}: {took:?}");
    }
    if !report.panics.is_empty() || !report.slow.is_empty() {
        std::process::exit(1);
    }
}
