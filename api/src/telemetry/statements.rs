//! sqlx's statement logs, shortened: sqlx logs each statement (at `debug`) and
//! each slow one (a warning past a second) with its whole SQL text, and a
//! multi-row insert of the event store or the read model is more than 100 KB of
//! `?, ?, ?`. [`Statements`] writes those events on one short line instead: the
//! statement's first [`SHOWN`] characters, its length, its time and its rows.
//! Every other event goes to the usual format untouched.

use std::fmt::{self, Write as _};

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, format::Writer},
    registry::LookupSpan,
};

/// The target sqlx logs its statements under.
const SQLX: &str = "sqlx::query";

/// Characters of a statement's text that a log line shows.
pub const SHOWN: usize = 100;

/// An event format that shortens sqlx's statement events and hands every other
/// event to the format it wraps.
pub struct Statements<F> {
    inner: F,
    json: bool,
}

impl<F> Statements<F> {
    /// Around a text format.
    pub fn text(inner: F) -> Self {
        Self { inner, json: false }
    }

    /// Around a JSON format: sqlx's events become JSON objects too.
    pub fn json(inner: F) -> Self {
        Self { inner, json: true }
    }
}

impl<S, N, F> FormatEvent<S, N> for Statements<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        if event.metadata().target() != SQLX {
            return self.inner.format_event(ctx, writer, event);
        }
        let mut statement = Statement::default();
        event.record(&mut statement);
        let spans: Vec<(String, String)> = ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
            .map(|span| {
                let extensions = span.extensions();
                let fields = extensions.get::<FormattedFields<N>>().map(|f| f.fields.clone()).unwrap_or_default();
                (span.name().to_owned(), fields)
            })
            .collect();
        let level = event.metadata().level();
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        if self.json {
            let spans: Vec<serde_json::Value> = spans
                .iter()
                .map(|(name, fields)| {
                    let mut span = serde_json::from_str(fields).unwrap_or_else(|_| serde_json::json!({}));
                    if let Some(object) = span.as_object_mut() {
                        object.insert("name".to_owned(), name.clone().into());
                    }
                    span
                })
                .collect();
            let line = serde_json::json!({
                "timestamp": time,
                "level": level.as_str(),
                "fields": statement.json(),
                "target": SQLX,
                "spans": spans,
            });
            writeln!(writer, "{line}")
        } else {
            write!(writer, "{time} {level:>5} ")?;
            for (name, fields) in &spans {
                if fields.is_empty() { write!(writer, "{name}:")? } else { write!(writer, "{name}{{{fields}}}:")? }
            }
            if !spans.is_empty() {
                writer.write_char(' ')?;
            }
            writeln!(writer, "{SQLX}: {}", statement.text())
        }
    }
}

/// The fields of one of sqlx's statement events that are worth a line.
#[derive(Debug, Default)]
struct Statement {
    message: String,
    /// The whole SQL text (sqlx gives it only when it is longer than its
    /// four-word summary), else the summary.
    sql: String,
    summary: String,
    elapsed_secs: Option<f64>,
    rows_affected: Option<u64>,
    rows_returned: Option<u64>,
}

impl Statement {
    /// The SQL text with its white space collapsed, cut to [`SHOWN`] characters.
    fn shown(&self) -> (String, usize) {
        let sql = if self.sql.trim().is_empty() { &self.summary } else { &self.sql };
        let words: Vec<&str> = sql.split_whitespace().collect();
        let length = words.iter().map(|w| w.chars().count() + 1).sum::<usize>().saturating_sub(1);
        let mut shown: String = words.join(" ").chars().take(SHOWN).collect();
        if length > SHOWN {
            shown.push('…');
        }
        (shown, length)
    }

    fn elapsed_ms(&self) -> Option<f64> {
        self.elapsed_secs.map(|s| (s * 1_000_000.0).round() / 1_000.0)
    }

    /// sqlx gives a message to slow statements only.
    fn message(&self) -> &str {
        if self.message.is_empty() { "statement" } else { &self.message }
    }

    fn text(&self) -> String {
        let (shown, length) = self.shown();
        let mut line = format!("{} statement={shown:?} sql_length={length}", self.message());
        if let Some(ms) = self.elapsed_ms() {
            let _ = write!(line, " elapsed_ms={ms}");
        }
        if let Some(rows) = self.rows_affected {
            let _ = write!(line, " rows_affected={rows}");
        }
        if let Some(rows) = self.rows_returned {
            let _ = write!(line, " rows_returned={rows}");
        }
        line
    }

    fn json(&self) -> serde_json::Value {
        let (shown, length) = self.shown();
        serde_json::json!({
            "message": self.message(),
            "statement": shown,
            "sql_length": length,
            "elapsed_ms": self.elapsed_ms(),
            "rows_affected": self.rows_affected,
            "rows_returned": self.rows_returned,
        })
    }
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "db.statement" => self.sql = value.to_owned(),
            "summary" => self.summary = value.to_owned(),
            "message" => self.message = value.to_owned(),
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = Some(value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "rows_affected" => self.rows_affected = Some(value),
            "rows_returned" => self.rows_returned = Some(value),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            // Strings recorded through Debug come quoted: keep their text only.
            "db.statement" | "summary" => {
                self.record_str(field, &format!("{value:?}").trim_matches('"').replace("\\n", " "))
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
