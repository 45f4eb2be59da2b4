//! `nudge simulate --target` resends a batch the target could not take: a
//! connection closed without an answer, a 503, a 429 after its `Retry-After`.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::helpers::nudge;

/// What the target does with each request, in turn; `None`: closes the
/// connection without answering. Past the script it answers 202.
const SCRIPT: [Option<&str>; 3] = [
    None,
    Some("503 Service Unavailable\r\ncontent-length: 0"),
    Some("429 Too Many Requests\r\nretry-after: 2\r\ncontent-length: 0"),
];

/// When a request came, its request line and its body.
type Request = (Instant, String, Vec<u8>);

/// Reads one request; answers its request line and body.
async fn request(connection: &mut TcpStream) -> (String, Vec<u8>) {
    let mut received = Vec::new();
    let mut buffer = [0; 64 * 1024];
    loop {
        let read = connection.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the client closed mid-request");
        received.extend_from_slice(&buffer[..read]);
        let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
        let length: usize =
            head.lines().find_map(|line| line.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
        if received.len() >= end + 4 + length {
            let line = head.lines().next().unwrap_or_default().to_owned();
            return (line, received[end + 4..end + 4 + length].to_vec());
        }
    }
}

#[tokio::test]
async fn simulate_resends_what_the_target_could_not_take() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // A base URL with a path: the events go under it.
    let target = format!("http://{}/nudge", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (mut connection, _) = listener.accept().await.unwrap();
            let (line, body) = request(&mut connection).await;
            let turn = {
                let mut log = log.lock().unwrap();
                log.push((Instant::now(), line, body));
                log.len() - 1
            };
            let answer = match SCRIPT.get(turn) {
                Some(None) => continue,
                Some(Some(answer)) => format!("HTTP/1.1 {answer}\r\nconnection: close\r\n\r\n"),
                None => "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\
                         connection: close\r\n\r\n{\"results\":[]}"
                    .to_owned(),
            };
            connection.write_all(answer.as_bytes()).await.unwrap();
        }
    });

    let truth = std::env::temp_dir().join(format!("nudge-simulate-{}.csv", uuid::Uuid::new_v4()));
    let mut command = nudge();
    command.args(["simulate", "--players", "20", "--days", "1", "--batch", "10000", "--concurrency", "1"]);
    command.args(["--target", &target, "--truth", truth.to_str().unwrap()]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    let _ = std::fs::remove_file(&truth);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), SCRIPT.len() + 1, "one batch, tried until taken");
    assert!(seen.iter().all(|(_, line, _)| line.starts_with("post /nudge/v1/events ")), "{:?}", seen[0].1);
    assert!(seen.iter().all(|(_, _, body)| body == &seen[0].2), "the same batch each time");
    assert!(seen[3].0 - seen[2].0 >= Duration::from_secs(2), "the 429's Retry-After is waited out");
}

#[test]
fn simulate_refuses_what_would_spoil_its_output() {
    let db = store::testing::TempSqlite::new().unwrap();
    let folder = db.path().parent().unwrap().to_owned();
    let folder = folder.as_path();
    let simulate = |args: &[&str]| {
        let output = nudge().current_dir(folder).args(["simulate", "--players", "5"]).args(args).output();
        String::from_utf8_lossy(&output.unwrap().stderr).into_owned()
    };
    assert!(simulate(&["--out", "same.nd", "--truth", "same.nd"]).contains("name the same file"));
    assert!(simulate(&["--out", "./same.nd", "--truth", "same.nd"]).contains("name the same file"));
    assert!(simulate(&["--out", "e.nd", "--truth", "nowhere/t.csv"]).contains("cannot create nowhere/t.csv"));
    assert!(simulate(&["--out", "e.nd", "--start", "9999-12-31"]).contains("from 1970-01-01 to 9989-12-31"));
    assert!(simulate(&["--out", "e.nd", "--mix", "casual=0.1,casual=0.9"]).contains("given twice"));
    assert!(simulate(&["--target", "ftp://127.0.0.1:1"]).contains("http:// or https://"));
    std::fs::create_dir(folder.join("d")).unwrap();
    assert!(simulate(&["--out", "d"]).contains("cannot create d"));
    let left: Vec<_> = std::fs::read_dir(folder).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["d"], "no truth file left behind");
}

#[test]
fn simulate_says_what_it_wrote_where() {
    let db = store::testing::TempSqlite::new().unwrap();
    let folder = db.path().parent().unwrap().to_owned();
    let output = nudge()
        .current_dir(&folder)
        .args(["simulate", "--players", "1", "--days", "1", "--out", "one.nd"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let said = String::from_utf8(output.stdout).unwrap();
    let lines = std::fs::read_to_string(folder.join("one.nd")).unwrap().lines().count();
    let events = if lines == 1 { "1 event".to_owned() } else { format!("{lines} events") };
    assert!(said.starts_with(&format!("{events} of 1 player over 1 day (")), "{said}");
    assert!(said.ends_with(") written to one.nd; ground truth in one.nd.truth.csv\n"), "{said}");
}
