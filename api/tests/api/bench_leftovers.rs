//! Real `nudge bench` runs, interrupted as an operator would (Ctrl-C) or
//! failing half-way, leave no temporary store, no `nudge serve` process and
//! no PostgreSQL schema behind; interrupted, they end at once.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use sqlx::Connection;
use store::testing::{TempSqlite, postgres_url};

use crate::helpers::{Nudge, nudge};

/// `nudge bench` with `args` and `env`, its standard error piped, killed if the test fails.
fn bench(args: &[&str], env: &[(&str, &str)]) -> Nudge {
    let mut command = nudge();
    command.env("RUST_LOG", "warn").args(["bench"]).args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    Nudge(command.spawn().unwrap(), Default::default())
}

/// Sends SIGINT, as Ctrl-C does, and answers the exit code and standard error.
fn interrupt(mut child: Nudge) -> (Option<i32>, String) {
    assert!(Command::new("kill").args(["-INT", &child.0.id().to_string()]).status().unwrap().success());
    let (status, stderr) = child.finish();
    (status.code(), stderr)
}

fn pause() {
    std::thread::sleep(Duration::from_millis(20));
}

#[test]
fn an_interrupted_benchmark_removes_its_temporary_store() {
    let tmp = TempSqlite::new().unwrap();
    let folder = tmp.path().parent().unwrap().to_owned();
    let benches = || -> Vec<std::path::PathBuf> {
        let entries = std::fs::read_dir(&folder).unwrap().map(|entry| entry.unwrap().path());
        entries
            .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("nudge-bench-")))
            .collect()
    };
    // Far more events than are sent before the interrupt, in a folder the test owns.
    let args = ["ingest", "--clients", "2", "--batch", "100", "--events", "2000000"];
    let child = bench(&args, &[("TMPDIR", folder.to_str().unwrap())]);
    // Once the store is made, the benchmark is under way.
    while !benches().iter().any(|bench| bench.join("nudge.db").exists()) {
        pause();
    }
    let (code, stderr) = interrupt(child);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: removed "), "{stderr}");
    assert!(benches().is_empty(), "left {:?}", benches());
}

/// Whether process `pid` has ended (gone, or a zombie its new parent has not reaped yet).
fn ended(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')))
}

#[tokio::test]
async fn an_interrupted_cluster_benchmark_stops_its_instances_and_drops_its_schema() {
    let url = postgres_url();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let schemas = "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'nudge\\_bench\\_%'";
    let before: Vec<String> = sqlx::query_scalar(schemas).fetch_all(&mut conn).await.unwrap();
    let child = bench(&["cluster", "--database", &url, "--events", "2000000"], &[]);
    // Once an instance has made its tables in a new schema, instances are running on it.
    let schema = loop {
        let made: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT table_schema::text FROM information_schema.tables WHERE table_schema LIKE 'nudge\\_bench\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        if let Some(schema) = made.into_iter().find(|schema| !before.contains(schema)) {
            break schema;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Each instance's store URL names the schema.
    let pids = Command::new("pgrep").args(["-f", &schema]).output().unwrap();
    let pids: Vec<String> = String::from_utf8_lossy(&pids.stdout).split_whitespace().map(str::to_owned).collect();
    assert!(!pids.is_empty(), "no instance on {schema}");
    let (code, stderr) = tokio::task::spawn_blocking(move || interrupt(child)).await.unwrap();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains(&format!("interrupted: dropped schema {schema}")), "{stderr}");
    let after: Vec<String> = sqlx::query_scalar(schemas).fetch_all(&mut conn).await.unwrap();
    assert!(!after.contains(&schema), "{schema} is left");
    for pid in &pids {
        assert!(ended(pid), "instance {pid} still runs");
    }
}

#[tokio::test]
async fn a_failed_cluster_benchmark_drops_its_schema_and_says_why_it_failed() {
    let url = postgres_url();
    // Its instances take the environment, and refuse it.
    let mut child = bench(&["cluster", "--database", &url], &[("NUDGE_PARTITIONS", "abc")]);
    let status = tokio::task::spawn_blocking(move || {
        let (status, stderr) = child.finish();
        (status.code(), stderr)
    });
    let (code, stderr) = status.await.unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("nudge serve exited (exit status: 2): error: invalid value 'abc'"), "{stderr}");
    let schema = stderr.split("the benchmark failed: dropped schema ").nth(1).and_then(|rest| rest.lines().next());
    let schema = schema.unwrap_or_else(|| panic!("no schema dropped: {stderr}"));
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = $1")
        .bind(schema)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "{schema} is left");
}
