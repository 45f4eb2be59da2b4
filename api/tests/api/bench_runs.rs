//! Real `nudge bench` runs to their end, each against the `nudge serve` it
//! starts on a temporary embedded store: the benchmarks' own HTTP client sends
//! every request and reads every answer of the run.

use store::testing::TempSqlite;

use crate::helpers::nudge;

/// Runs `nudge bench` with `args` in a folder of its own; answers its standard output.
fn bench(args: &[&str]) -> String {
    let tmp = TempSqlite::new().unwrap();
    let path = tmp.path();
    let folder = path.parent().unwrap();
    let output = nudge().env("RUST_LOG", "warn").env("TMPDIR", folder).arg("bench").args(args).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    stdout.into_owned()
}

#[test]
fn an_ingest_benchmark_sends_every_event_one_a_request_or_in_batches() {
    for batch in ["1", "7"] {
        let args = ["ingest", "--clients", "3", "--batch", batch, "--events", "300", "--players", "20"];
        let stdout = bench(&args);
        assert!(stdout.contains("300 events in "), "{stdout}");
        assert!(stdout.contains("projection: "), "{stdout}");
    }
}

#[test]
fn a_feature_read_benchmark_reads_without_an_error() {
    let stdout = bench(&["features", "--players", "20", "--connections", "2", "--duration", "1s"]);
    assert!(stdout.contains("; errors 0"), "{stdout}");
    assert!(!stdout.contains(" 0 requests in "), "{stdout}");
}
