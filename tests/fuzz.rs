//! A few thousand generated malformed model folders (tests/fuzzing): every one loads or is
//! refused with an error, none panics or hangs. `cargo run --release --example fuzz` runs millions.

mod fuzzing;

use std::time::Duration;

#[test]
fn malformed_folders_never_panic() {
    let cases = std::env::var("DDPM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let report = fuzzing::run(0..cases, Duration::from_secs(30), |_| {});
    let mut errors: Vec<_> = report.errors.iter().collect();
    errors.sort_by(|a, b| b.1.cmp(a.1));
    eprintln!(
        "{} cases: {} loaded and stepped, {} refused; slowest {:?}; commonest errors: {:?}",
        report.cases,
        report.loaded,
        report.refused,
        report.slowest,
        &errors[..errors.len().min(8)]
    );
    for (number, seed, mutations, message) in report.panics.iter().take(20) {
        eprintln!("case {number} ({seed}; {}): panicked: {message}", mutations.join(", "));
    }
    assert!(report.panics.is_empty(), "{} of {} cases panicked (listed above)", report.panics.len(), report.cases);
    assert!(report.slow.is_empty(), "cases over 30 s: {:?}", report.slow);
    // The generator reaches both ends: folders that still load and run, and many kinds of error.
    assert!(report.loaded > cases / 20, "only {} cases loaded", report.loaded);
    assert!(report.errors.len() > 30, "only {} kinds of error", report.errors.len());
}

#[test]
fn cases_replay_by_number() {
    let seeds = fuzzing::seeds();
    let (a, files_a, mutations_a) = fuzzing::case(&seeds, 12345);
    let (b, files_b, mutations_b) = fuzzing::case(&seeds, 12345);
    assert_eq!((a, mutations_a), (b, mutations_b));
    assert_eq!(files_a, files_b);
}
