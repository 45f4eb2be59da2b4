//! Storage faults under load: the database becomes unwritable, then writable
//! again. Meanwhile ingest answers 503 with `Retry-After` (never 500) and
//! `/readyz` says not ready; afterwards both recover without a restart, every
//! event answered 202 is stored once, and the projection catches up.

use std::{
    collections::HashMap,
    io::Write,
    path::PathBuf,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::helpers::{STRUCTURED, TestApp, bet};

/// Longest the test waits for any change it expects: far past the 5 s recovery asked for.
const GUARD: Duration = Duration::from_secs(60);

/// A small tmpfs of the test's own (mounting needs root, as CI runs), unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let dir = std::env::temp_dir().join(format!("nudge-full-disk-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(mounted, "this test mounts a small tmpfs: run it as root");
        Self(dir)
    }

    /// Fills what is left with a file; answers its path.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.write_all(&[0]);
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Posts single events with fresh ids until stopped; records each answer's status by id.
fn load(app: &TestApp, stop: CancellationToken, answers: Arc<Mutex<Vec<(String, u16, bool)>>>) {
    let (client, url) = (app.client.clone(), format!("{}/v1/events", app.address));
    tokio::spawn(async move {
        for n in 0.. {
            if stop.is_cancelled() {
                return;
            }
            let id = format!("load-{n}");
            let sent = client.post(&url).header("content-type", STRUCTURED).body(bet(&id, "p1", 1).to_string());
            let Ok(answer) = sent.send().await else { continue };
            let retry_after = answer.headers().contains_key("retry-after");
            answers.lock().unwrap().push((id, answer.status().as_u16(), retry_after));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

async fn ready(app: &TestApp) -> u16 {
    app.get("/readyz").await.status().as_u16()
}

/// Waits until `check` holds, polling; fails after [`GUARD`].
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < GUARD, "{what} did not happen within {GUARD:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count(answers: &Mutex<Vec<(String, u16, bool)>>, status: u16) -> usize {
    answers.lock().unwrap().iter().filter(|(_, s, _)| *s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_on_sqlite_is_503_and_not_ready_until_freed_then_ingest_recovers() {
    let disk = SmallDisk::mount(16);
    let app = TestApp::at(&format!("sqlite://{}", disk.0.join("nudge.db").display())).await;
    rides_out(&app, || disk.fill(), |filler| std::fs::remove_file(filler).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_postgres_is_503_and_not_ready_until_started_then_ingest_recovers() {
    let cluster = Cluster::start();
    let app = TestApp::at(&cluster.url()).await;
    rides_out(&app, || cluster.pg_ctl("stop"), |()| cluster.pg_ctl("start")).await;
}

/// Under load, `fault` makes the database unwritable and `cure` (given what
/// `fault` answered) writable again: meanwhile every refusal is 503 with
/// `Retry-After` and `/readyz` says not ready; then both recover, every event
/// answered 202 is stored once, and the projection catches up.
async fn rides_out<T>(app: &TestApp, fault: impl FnOnce() -> T, cure: impl FnOnce(T)) {
    let (stop, answers) = (CancellationToken::new(), Arc::new(Mutex::new(Vec::new())));
    load(app, stop.clone(), Arc::clone(&answers));
    until("ingest", || async { count(&answers, 202).await >= 20 }).await;

    let broken = fault();
    until("a refusal", || async { answers.lock().unwrap().iter().any(|(_, s, _)| *s != 202) }).await;
    until("not ready", || async { ready(app).await == 503 }).await;

    cure(broken);
    let cured = Instant::now();
    let accepted = count(&answers, 202).await;
    until("recovery", || async { count(&answers, 202).await > accepted }).await;
    until("ready", || async { ready(app).await == 200 }).await;
    eprintln!("ingest and /readyz recovered {:?} after the cause was removed", cured.elapsed());
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let answers = answers.lock().unwrap().clone();
    let refused: Vec<_> = answers.iter().filter(|(_, s, _)| *s != 202).collect();
    assert!(refused.iter().all(|(_, status, retry_after)| *status == 503 && *retry_after), "{refused:?}");
    stored_once(app, &answers).await;
}

/// A PostgreSQL cluster of the test's own, listening on a Unix socket only (no
/// port to collide with), run as the `postgres` user; stopped and removed when dropped.
struct Cluster(PathBuf);

/// A PostgreSQL program, from `/usr/lib/postgresql/*/bin`.
fn postgres_bin(name: &str) -> PathBuf {
    std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|entry| Some(entry.ok()?.path().join("bin").join(name)))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("no {name} in /usr/lib/postgresql/*/bin"))
}

/// Runs a command as the `postgres` user; answers whether it succeeded.
fn as_postgres(program: PathBuf, args: &[&std::ffi::OsStr]) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Cluster {
    fn start() -> Self {
        let cluster = Self(std::env::temp_dir().join(format!("nudge-pg-{}", uuid::Uuid::new_v4())));
        std::fs::create_dir_all(&cluster.0).unwrap();
        assert!(Command::new("chown").arg("postgres").arg(&cluster.0).status().unwrap().success());
        let data = cluster.0.join("data");
        let args = ["-A", "trust", "-U", "postgres", "-D"].map(std::ffi::OsStr::new);
        assert!(as_postgres(postgres_bin("initdb"), &[&args[..], &[data.as_os_str()]].concat()), "initdb failed");
        cluster.pg_ctl("start");
        cluster
    }

    fn url(&self) -> String {
        format!("postgres://postgres@localhost/postgres?host={}&port=5999", self.0.display())
    }

    /// Runs `pg_ctl {action}` (`start`, `stop`) on the cluster and waits for it to finish.
    fn pg_ctl(&self, action: &str) {
        assert!(self.try_pg_ctl(action), "pg_ctl {action} failed");
    }

    fn try_pg_ctl(&self, action: &str) -> bool {
        let (data, log) = (self.0.join("data"), self.0.join("log"));
        let options = format!("-c listen_addresses='' -k {} -p 5999", self.0.display());
        let args: [&std::ffi::OsStr; 10] = [
            "-w".as_ref(),
            "-m".as_ref(),
            "fast".as_ref(),
            "-D".as_ref(),
            data.as_os_str(),
            "-l".as_ref(),
            log.as_os_str(),
            "-o".as_ref(),
            options.as_ref(),
            action.as_ref(),
        ];
        as_postgres(postgres_bin("pg_ctl"), &args)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.try_pg_ctl("stop");
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every event answered 202 is stored exactly once, and the projection reaches the head.
async fn stored_once(app: &TestApp, answers: &[(String, u16, bool)]) {
    let mut stored: HashMap<String, usize> = HashMap::new();
    for event in app.store.read_all(None, 1_000_000, "").await.unwrap() {
        *stored.entry(event.cloud_event().unwrap()["id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    for (id, status, _) in answers {
        if *status == 202 {
            assert_eq!(stored.get(id), Some(&1), "{id} was answered 202");
        }
    }
    assert!(stored.values().all(|n| *n == 1));
    until("the projection to catch up", || async {
        let status: Value = app.get("/v1/projections").await.json().await.unwrap();
        status["projections"].as_array().unwrap().iter().all(|p| p["lag_events"] == 0)
    })
    .await;
}
