//! The real `nudge` binary: start-up, configuration errors, graceful shutdown.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use store::testing::TempSqlite;

use crate::helpers::{Nudge, STRUCTURED, bet, nudge, serve};

#[tokio::test]
async fn sigterm_stops_nudge_cleanly_with_every_answered_event_stored() {
    let db = TempSqlite::new().unwrap();
    let (mut child, address) = serve(&db.url(), &[]);
    let client = reqwest::Client::new();
    for i in 0..20 {
        let response = client
            .post(format!("{address}/v1/events"))
            .header("content-type", STRUCTURED)
            .body(bet(&format!("e{i}"), "p1", 100).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || child.0.wait()).await.unwrap().unwrap();
    assert!(status.success(), "exit status {status}");

    let store = db.open().await.unwrap();
    assert_eq!(store::EventStore::read_stream(&store, "player-p1", 0, 100).await.unwrap().len(), 20);
}

/// `nudge serve` with `args`, in an empty folder of its own: its standard error,
/// having failed and left nothing in the folder.
fn refused(args: &[&str]) -> String {
    let (output, left) = in_empty_folder(&[&["serve"], args].concat());
    assert!(!output.status.success(), "{args:?} started");
    assert!(left.is_empty(), "{args:?} left {left:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `nudge` with `args`, in an empty folder of its own: what it printed, and
/// what it left in the folder.
fn in_empty_folder(args: &[&str]) -> (std::process::Output, Vec<std::ffi::OsString>) {
    let db = TempSqlite::new().unwrap();
    let folder = db.path().parent().unwrap().to_owned();
    let output = nudge().current_dir(&folder).env("RUST_BACKTRACE", "1").args(args).output().unwrap();
    let left = std::fs::read_dir(&folder).unwrap().map(|entry| entry.unwrap().file_name()).collect();
    (output, left)
}

#[test]
fn commands_that_only_read_make_no_database_where_there_is_none() {
    for args in [&["train", "--out", "model.json"][..], &["backtest", "--model", "v1"]] {
        let (output, left) = in_empty_folder(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(left.is_empty(), "{args:?} left {left:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("no event store at data/nudge.db: nothing to replay"), "{args:?}: {stderr}");
    }
    let (output, left) = in_empty_folder(&["keys", "list"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(left.is_empty(), "keys list left {left:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr, "no API keys in sqlite://data/nudge-read-models.db\n");
}

#[test]
fn a_bad_store_url_is_refused_with_a_clear_error() {
    let bad = [
        ("mysql://db/nudge", "sqlite://, postgres:// or kurrentdb://"),
        ("sqlite://", "sqlite:// names no file"),
        ("postgres://postgres@127.0.0.1:5432/", "the URL names no database"),
        ("postgres://postgres@127.0.0.1:1/nudge", "refused"),
        ("postgres://postgres@127.0.0.1:1/nudge?sslmode=bogus", "invalid store url: postgres://"),
    ];
    for (url, reason) in bad {
        let stderr = refused(&["--listen", "127.0.0.1:0", "--store", url]);
        assert!(stderr.contains(reason), "{url}: {stderr}");
        assert_eq!(stderr.matches(reason).count(), 1, "{url}: told once, {stderr}");
        assert!(!stderr.contains("stack backtrace"), "{url}: {stderr}");
    }
    // Its SQLite read models' lock is taken before the store is reached.
    let (output, _) =
        in_empty_folder(&["serve", "--listen", "127.0.0.1:0", "--store", "kurrentdb://127.0.0.1:1?tls=false"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("no KurrentDB node answered: gRPC connection error"),
        "{stderr}"
    );
    let stderr = refused(&["--listen", "127.0.0.1:0", "--read-models", "bogus://x"]);
    assert!(stderr.contains("the scheme must be sqlite:// or postgres://"), "{stderr}");
    let stderr = refused(&["--listen", "127.0.0.1:0", "--store", ""]);
    assert!(stderr.contains("the URL is empty (--store, NUDGE_STORE)"), "{stderr}");
    let db = TempSqlite::new().unwrap();
    let stderr = refused(&["--listen", "127.0.0.1:0", "--store", &db.url(), "--read-models", "sqlite://"]);
    assert!(stderr.contains("sqlite:// names no file"), "{stderr}");
    let stderr = refused(&["--listen", "127.0.0.1:0", "--store", "sqlite://data/nudge.db?mode=ro"]);
    assert!(stderr.contains("opens the file read-only (mode=ro): nudge writes to it"), "{stderr}");
    let stderr = refused(&["--listen", "127.0.0.1:0", "--read-models", "sqlite://data/r.db?cache=shared&immutable=1"]);
    assert!(stderr.contains("opens the file read-only (immutable=1)"), "{stderr}");
    let folder = format!("sqlite://{}", db.path().parent().unwrap().display());
    let stderr = refused(&["--listen", "127.0.0.1:0", "--store", &folder]);
    assert!(stderr.contains("names a folder: name a file in it"), "{stderr}");
}

#[test]
fn switches_take_the_usual_words_for_yes_and_no_from_the_environment() {
    let refuse = |value: &str| {
        let folder = TempSqlite::new().unwrap();
        let output = nudge()
            .current_dir(folder.path().parent().unwrap())
            .env("NUDGE_ALLOW_PRIVATE_WEBHOOKS", value)
            .args(["serve", "--listen", "0.0.0.0:0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    for yes_or_no in ["true", "1", "yes", "on", "false", "0", "no", "off"] {
        // Read, then refused for what comes after: a reachable address with no API key.
        assert!(refuse(yes_or_no).contains("without an API key"), "{yes_or_no}: {}", refuse(yes_or_no));
    }
    assert!(refuse("maybe").contains("--allow-private-webhooks"));
}

#[test]
fn flags_that_contradict_each_other_are_refused_before_anything_is_made() {
    let stderr = refused(&["--listen", "127.0.0.1:18999", "--metrics-listen", "127.0.0.1:18999"]);
    assert!(stderr.contains("takes --listen's port"), "{stderr}");
    let stderr = refused(&["--request-timeout", "1h"]);
    assert!(stderr.contains("--idle-timeout (1m) must be longer than --request-timeout (1h)"), "{stderr}");
}

#[test]
fn settings_are_validated_at_start_up() {
    let output = nudge().args(["serve", "--max-batch", "0"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--max-batch"));
    let output = nudge().env("NUDGE_LISTEN", "not-an-address").arg("serve").output().unwrap();
    assert!(!output.status.success());
}

#[tokio::test]
async fn a_second_process_on_one_sqlite_database_is_refused_while_readers_keep_working() {
    let db = TempSqlite::new().unwrap();
    let (_first, address) = serve(&db.url(), &[]);
    let client = reqwest::Client::new();
    let body = bet("e1", "p1", 100).to_string();
    let stored = client.post(format!("{address}/v1/events")).header("content-type", STRUCTURED).body(body).send();
    assert_eq!(stored.await.unwrap().status(), 202);

    let second = nudge().args(["serve", "--listen", "127.0.0.1:0", "--store", &db.url()]).output().unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another process holds the SQLite database"), "{stderr}");
    assert!(stderr.contains("several instances need PostgreSQL"), "{stderr}");

    let folder = db.path().parent().unwrap().to_owned();
    let demo = nudge().args(["demo", "--listen", "127.0.0.1:0", "--folder"]).arg(&folder).output().unwrap();
    assert!(!demo.status.success());
    assert!(String::from_utf8_lossy(&demo.stderr).contains("another process holds"));

    let keys = nudge().args(["keys", "--store", &db.url(), "list"]).output().unwrap();
    assert!(keys.status.success(), "{}", String::from_utf8_lossy(&keys.stderr));
    let store = db.open().await.unwrap();
    assert_eq!(store::EventStore::read_stream(&store, "player-p1", 0, 10).await.unwrap().len(), 1);
}

#[test]
fn partitions_are_fixed_when_the_database_is_made() {
    let db = TempSqlite::new().unwrap();
    let (mut first, _) = serve(&db.url(), &["--partitions", "8"]);
    first.kill();
    let output =
        nudge().args(["serve", "--listen", "127.0.0.1:0", "--store", &db.url(), "--partitions", "16"]).output();
    let output = output.unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("made with 8 partitions") && stderr.contains("16 (--partitions, NUDGE_PARTITIONS)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn train_checks_its_costs_its_store_and_its_output_before_it_trains() {
    let db = TempSqlite::new().unwrap();
    let folder = db.path().parent().unwrap().to_owned();
    let train = |args: &[&str]| nudge().current_dir(&folder).arg("train").args(args).output().unwrap();
    let empty = || std::fs::read_dir(&folder).unwrap().next().is_none();
    for cost in ["nan", "inf", "-3"] {
        let refused = train(&[&format!("--harm-false-alarm-cost={cost}")]);
        assert!(String::from_utf8_lossy(&refused.stderr).contains("finite number of 0 or more"), "{cost}");
    }
    let refused = train(&["--read-models", "foo://bar"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("the scheme must be sqlite:// or postgres://"));
    assert!(empty(), "nothing made before the refusal");
    store::connect(&format!("sqlite://{}", folder.join("data/nudge.db").display())).await.unwrap();
    let refused = train(&["--out", "/proc/nope/artifact.json"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot write /proc/nope/artifact.json"));
    assert!(!folder.join("data/nudge-read-models.db").exists(), "checked before the read models are opened");
    let refused = train(&[]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not enough data to train"));
}

#[test]
fn the_demo_refuses_a_file_for_its_folder() {
    let db = TempSqlite::new().unwrap();
    let file = db.path().parent().unwrap().join("afile");
    std::fs::write(&file, "kept").unwrap();
    let output = nudge().args(["demo", "--listen", "127.0.0.1:0", "--folder"]).arg(&file).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("is a file: name a folder"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept");
}

#[test]
fn a_refused_value_from_the_environment_names_its_variable() {
    let stderr = |output: std::process::Output| String::from_utf8_lossy(&output.stderr).into_owned();
    let told = "the value came from the environment variable NUDGE_PARTITIONS";
    let from_env = stderr(nudge().args(["serve"]).env("NUDGE_PARTITIONS", "abc").output().unwrap());
    assert!(from_env.contains("'--partitions <PARTITIONS>'") && from_env.contains(told), "{from_env}");
    let given = stderr(nudge().args(["serve", "--partitions=0"]).env("NUDGE_PARTITIONS", "abc").output().unwrap());
    assert!(given.contains("0 is not in 1..=4096") && !given.contains(told), "the flag's own value: {given}");
    let bench = stderr(nudge().args(["bench", "ingest"]).env("NUDGE_BENCH_CLIENTS", "0").output().unwrap());
    assert!(bench.contains("the value came from the environment variable NUDGE_BENCH_CLIENTS"), "{bench}");
}

/// `nudge` with `args`, as a user whom file permissions stop (nobody, through
/// `setpriv`, when the tests run as root): its standard error, having failed
/// without serving; `None` when nobody cannot run the binary here.
fn refused_by_permissions(args: &[&str]) -> Option<String> {
    let root = Command::new("id").arg("-u").output().unwrap().stdout.starts_with(b"0\n");
    let mut command = if root {
        let mut setpriv = Command::new("setpriv");
        setpriv.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_nudge")]);
        setpriv.env_remove("RUST_LOG").env("NO_COLOR", "1");
        setpriv
    } else {
        nudge()
    };
    let spawned = command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Killed on drop, should the test fail with it serving.
    let mut child = Nudge(spawned, Default::default());
    for line in BufReader::new(child.0.stdout.take().unwrap()).lines() {
        assert!(!line.unwrap().contains("nudge is serving"), "it started on a database it cannot write");
    }
    let (status, stderr) = child.finish();
    if root && stderr.contains("Permission denied") && !stderr.contains("nudge") {
        eprintln!("skipped: nobody cannot run {}: {stderr}", env!("CARGO_BIN_EXE_nudge"));
        return None;
    }
    assert!(!status.success(), "it started");
    Some(stderr)
}

#[tokio::test]
async fn a_sqlite_file_this_process_cannot_write_is_refused_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let db = TempSqlite::new().unwrap();
    drop(db.open().await.unwrap());
    let folder = db.path().parent().unwrap().to_owned();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let read_only = std::fs::Permissions::from_mode(0o444);
    std::fs::set_permissions(db.path(), read_only.clone()).unwrap();
    let read_models = folder.join("read-models.db");
    let read_models_url = format!("sqlite://{}", read_models.display());
    let args = ["serve", "--listen", "127.0.0.1:0", "--store", &db.url(), "--read-models", &read_models_url];
    let Some(stderr) = refused_by_permissions(&args) else { return };
    let told = format!("the event store {} cannot be written by this process", db.path().display());
    assert!(stderr.contains(&told), "{stderr}");
    // The other way round: the store writable, the read models made, then read-only.
    std::fs::set_permissions(db.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
    drop(database::Database::connect(&read_models_url).await.unwrap());
    std::fs::set_permissions(&read_models, read_only).unwrap();
    let Some(stderr) = refused_by_permissions(&args) else { return };
    let told = format!("the read-model database {} cannot be written by this process", read_models.display());
    assert!(stderr.contains(&told), "{stderr}");
}
