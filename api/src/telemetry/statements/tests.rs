//! sqlx logs on the SQLite worker thread, so these tests log through one global
//! subscriber (set once for this test binary) that keeps only sqlx's events,
//! written by [`Statements`] as text and as JSON into two buffers.

use std::{
    io,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use sqlx::{ConnectOptions, Connection, sqlite::SqliteConnectOptions};
use tracing::Level;
use tracing_subscriber::{Layer, filter::Targets, fmt, fmt::MakeWriter, prelude::*};

use super::*;

/// The longest log line a benchmark may print.
const LONGEST_LINE: usize = 2 * 1024;

/// Log text written into memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The text and JSON logs of every sqlx statement from here on, at `debug` (so
/// every statement is logged, not only the slow ones).
fn logs() -> &'static (Captured, Captured) {
    static LOGS: OnceLock<(Captured, Captured)> = OnceLock::new();
    LOGS.get_or_init(|| {
        let (text, json) = (Captured::default(), Captured::default());
        let only_sqlx = || Targets::new().with_target(SQLX, Level::DEBUG);
        let subscriber = tracing_subscriber::registry()
            .with(
                fmt::layer()
                    .with_ansi(false)
                    .event_format(Statements::text(fmt::format()))
                    .with_writer(text.clone())
                    .with_filter(only_sqlx()),
            )
            .with(
                fmt::layer()
                    .json()
                    .event_format(Statements::json(fmt::format().json()))
                    .with_writer(json.clone())
                    .with_filter(only_sqlx()),
            );
        // Another test of this binary may have set one first: then nothing is captured and the test says so.
        let _ = tracing::subscriber::set_global_default(subscriber);
        (text, json)
    })
}

fn assert_short(lines: &str) {
    for line in lines.lines() {
        assert!(line.len() <= LONGEST_LINE, "a log line of {} bytes: {}…", line.len(), &line[..200]);
    }
}

#[tokio::test]
async fn a_large_batch_insert_is_logged_on_short_lines_naming_the_statement() -> Result<(), Box<dyn std::error::Error>>
{
    let (text, json) = logs();
    // A multi-row upsert as the read models write them: 128 rows of nine `?`.
    let mut conn = SqliteConnectOptions::new().in_memory(true).connect().await?;
    sqlx::query("CREATE TABLE batch_probe (a, b, c, d, e, f, g, h, i)").execute(&mut conn).await?;
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; 128].join(", ");
    let sql = format!("INSERT INTO batch_probe (a, b, c, d, e, f, g, h, i) VALUES {rows}");
    let mut insert = sqlx::query(&sql);
    for i in 0..128 * 9 {
        insert = insert.bind("g".repeat(200 + i % 7));
    }
    insert.execute(&mut conn).await?;
    conn.close().await?;

    let text = text.text();
    assert_short(&text);
    let insert = text.lines().find(|l| l.contains("statement=\"INSERT INTO batch_probe (a, b"));
    let insert = insert.ok_or("no line names the batch insert")?;
    assert!(insert.contains(" elapsed_ms=") && insert.contains(" rows_affected=128"), "{insert}");
    assert!(insert.contains('…'), "the statement is cut: {insert}");

    let json = json.text();
    assert_short(&json);
    let lines = json.lines().map(serde_json::from_str::<serde_json::Value>).collect::<Result<Vec<_>, _>>()?;
    let insert = lines
        .iter()
        .find(|l| l["fields"]["statement"].as_str().is_some_and(|s| s.starts_with("INSERT INTO batch_probe (a")))
        .ok_or("no JSON line names the batch insert")?;
    // 128 rows of nine `?`: 3,800 characters once its white space is collapsed.
    assert!(insert["fields"]["sql_length"].as_u64().is_some_and(|n| n > 3_000), "{insert}");
    assert!(insert["fields"]["elapsed_ms"].is_number(), "{insert}");
    Ok(())
}

#[tokio::test]
async fn a_slow_statement_warning_names_the_statement_and_its_time() -> Result<(), Box<dyn std::error::Error>> {
    let (text, _) = logs();
    // Every statement is slow past a threshold of zero.
    let mut conn = SqliteConnectOptions::new()
        .in_memory(true)
        .log_slow_statements(log::LevelFilter::Warn, Duration::ZERO)
        .connect()
        .await?;
    sqlx::query("CREATE TABLE slow_probe (a, b, c)").execute(&mut conn).await?;
    let rows = vec!["(?, ?, ?)"; 500].join(", ");
    let sql = format!("INSERT INTO slow_probe (a, b, c) VALUES {rows}");
    let mut insert = sqlx::query(&sql);
    for i in 0..1_500 {
        insert = insert.bind(i);
    }
    insert.execute(&mut conn).await?;
    conn.close().await?;

    let text = text.text();
    assert_short(&text);
    let warning = text
        .lines()
        .find(|l| l.contains("WARN") && l.contains("statement=\"INSERT INTO slow_probe (a, b, c) VALUES (?, ?, ?)"))
        .ok_or("no slow-statement warning for the insert")?;
    assert!(warning.contains("slow statement") && warning.contains(" elapsed_ms="), "{warning}");
    Ok(())
}

#[test]
fn a_statement_is_cut_to_its_first_characters_with_white_space_collapsed() {
    let statement = Statement {
        sql: format!("\n\nSELECT   a,\n  b FROM t WHERE x IN ({})\n", "?, ".repeat(1_000)),
        ..Default::default()
    };
    let (shown, length) = statement.shown();
    assert!(shown.starts_with("SELECT a, b FROM t WHERE x IN (?, ?"), "{shown}");
    assert_eq!(shown.chars().count(), SHOWN + 1);
    assert!(length > 3_000);
    let short = Statement { summary: "SELECT 1".to_owned(), ..Default::default() };
    assert_eq!(short.shown(), ("SELECT 1".to_owned(), 8));
}
