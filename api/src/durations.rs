//! Durations on the command line: one syntax, humantime's (`250ms`, `30s`,
//! `24h`, `3d`, `1h 30m`), for every duration flag of every command. For one
//! release a flag that took a plain number still takes it, in its old unit, and
//! the flags renamed for the new syntax keep their old names hidden; both are
//! named, with the new form, in a warning logged at start-up ([`deprecations`]).

use std::time::Duration;

use clap::{ArgMatches, Command, parser::ValueSource};

/// A millisecond.
pub const MS: Duration = Duration::from_millis(1);
/// A second.
pub const S: Duration = Duration::from_secs(1);
/// A minute.
pub const MINUTE: Duration = Duration::from_secs(60);
/// A day.
pub const DAY: Duration = Duration::from_secs(86_400);

/// Flags renamed for the new syntax: the old (hidden) argument's id, the new flag.
const RENAMED: [(&str, &str); 4] = [
    ("projection_batch_wait_ms", "projection-batch-wait"),
    ("projection_idle_seconds", "projection-idle"),
    ("hour_ms", "hour"),
    ("seconds", "duration"),
];

/// Reads a duration in humantime's syntax; a plain number only where the flag
/// had one (`legacy_unit`: its old unit), for one release.
pub fn parse(raw: &str, legacy_unit: Option<Duration>) -> Result<Duration, String> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        let unit = legacy_unit
            .ok_or_else(|| format!("`{raw}` has no unit: write a duration such as 250ms, 30s, 24h or 3d"))?;
        return raw
            .parse::<u32>()
            .ok()
            .and_then(|n| unit.checked_mul(n))
            .ok_or_else(|| format!("`{raw}` is too long a duration"));
    }
    humantime::parse_duration(raw).map_err(|e| format!("`{raw}` is not a duration such as 250ms, 30s, 24h or 3d: {e}"))
}

/// A clap value parser for a duration from `min` to `max`, reading a plain number
/// in `legacy_unit` if given (deprecated).
pub fn between(
    min: Duration,
    max: Duration,
    legacy_unit: Option<Duration>,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |raw| {
        let duration = parse(raw, legacy_unit)?;
        if duration < min || duration > max {
            let (raw, value) = (raw.trim(), written(duration));
            let value = if raw == value { format!("`{raw}`") } else { format!("`{raw}` ({value})") };
            return Err(format!("{value} is out of range: from {} to {}", written(min), written(max)));
        }
        Ok(duration)
    }
}

/// `duration` as the flags take it, in days, hours, minutes, seconds and
/// milliseconds (humantime's own output speaks of months and years, whose
/// lengths it fixes arbitrarily).
pub fn written(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let parts = [
        (seconds / 86_400, "d"),
        (seconds % 86_400 / 3_600, "h"),
        (seconds % 3_600 / 60, "m"),
        (seconds % 60, "s"),
        (u64::from(duration.subsec_millis()), "ms"),
    ];
    let text: Vec<String> = parts.iter().filter(|(n, _)| *n > 0).map(|(n, unit)| format!("{n}{unit}")).collect();
    if text.is_empty() { "0s".to_owned() } else { text.join(" ") }
}

/// The deprecated forms used on this command line (or in the environment), each
/// a warning naming the flag and its new form.
pub fn deprecations(command: &Command, matches: &ArgMatches) -> Vec<String> {
    let mut notes = Vec::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        let given = matches!(matches.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
        let Some(long) = arg.get_long().filter(|_| given) else { continue };
        let Ok(Some(value)) = matches.try_get_one::<Duration>(id) else { continue };
        let written = written(*value);
        let env = arg.get_env().map(|name| format!(" ({})", name.to_string_lossy())).unwrap_or_default();
        if let Some((_, new)) = RENAMED.iter().find(|(old, _)| *old == id) {
            notes
                .push(format!("`--{long}`{env} is deprecated and goes in the next release: write `--{new} {written}`"));
        } else if matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .any(|raw| raw.to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        {
            notes.push(format!(
                "`--{long}`{env} as a plain number is deprecated and goes in the next release: write `--{long} {written}`"
            ));
        }
    }
    if let Some((name, sub_matches)) = matches.subcommand()
        && let Some(sub_command) = command.find_subcommand(name)
    {
        notes.extend(deprecations(sub_command, sub_matches));
    }
    notes
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::*;
    use crate::{
        cli::{Cli, Command as Commands},
        config::ServeArgs,
    };

    /// `nudge serve ARGS`: its settings' inputs and the deprecation warnings.
    fn serve(args: &[&str]) -> (ServeArgs, Vec<String>) {
        let matches = Cli::command().try_get_matches_from([&["nudge", "serve"], args].concat()).expect("parses");
        let notes = deprecations(&Cli::command(), &matches);
        match Cli::from_arg_matches(&matches).expect("parses").command {
            Commands::Serve(serve) => (*serve, notes),
            _ => panic!("serve"),
        }
    }

    #[test]
    fn the_old_forms_still_work_and_each_is_named_with_its_new_form() {
        let (args, notes) = serve(&[]);
        assert_eq!(notes, Vec::<String>::new());
        let settings = args.settings();
        assert_eq!(
            (settings.http.limits.request_timeout, settings.projection.batch_wait, settings.projection.idle),
            (30 * S, MS, 10 * MINUTE)
        );

        let (args, notes) = serve(&[
            "--request-timeout",
            "45",
            "--projection-batch-wait-ms",
            "20",
            "--projection-idle-seconds",
            "90",
            "--cooldown-cool-off",
            "120",
        ]);
        let settings = args.settings();
        assert_eq!(
            (settings.http.limits.request_timeout, settings.projection.batch_wait, settings.projection.idle),
            (45 * S, 20 * MS, 90 * S)
        );
        assert_eq!(args.policy.cooldown_cool_off, 2 * 60 * MINUTE);
        assert_eq!(
            notes,
            [
                "`--request-timeout` (NUDGE_REQUEST_TIMEOUT) as a plain number is deprecated and goes in the next release: write `--request-timeout 45s`",
                "`--projection-batch-wait-ms` (NUDGE_PROJECTION_BATCH_WAIT_MS) is deprecated and goes in the next release: write `--projection-batch-wait 20ms`",
                "`--projection-idle-seconds` (NUDGE_PROJECTION_IDLE_SECONDS) is deprecated and goes in the next release: write `--projection-idle 1m 30s`",
                "`--cooldown-cool-off` (NUDGE_COOLDOWN_COOL_OFF) as a plain number is deprecated and goes in the next release: write `--cooldown-cool-off 2h`",
            ]
        );
    }

    #[test]
    fn the_new_forms_are_humantime_and_draw_no_warning() {
        let (args, notes) = serve(&[
            "--request-timeout",
            "1m",
            "--projection-batch-wait",
            "250ms",
            "--projection-idle",
            "1h",
            "--webhook-retry-schedule",
            "1s,1m 30s,3d",
        ]);
        assert_eq!(notes, Vec::<String>::new());
        let settings = args.settings();
        assert_eq!(
            (settings.http.limits.request_timeout, settings.projection.batch_wait, settings.projection.idle),
            (MINUTE, 250 * MS, 60 * MINUTE)
        );
        assert_eq!(settings.webhooks.schedule.waits, [S, 90 * S, 3 * DAY]);
        let refused = |args: &[&str]| Cli::try_parse_from([&["nudge", "serve"], args].concat()).is_err();
        assert!(refused(&["--projection-batch-wait", "5"]), "a renamed flag takes no plain number");
        assert!(refused(&["--webhook-timeout", "15"]), "a flag that never took a plain number takes none");
        assert!(refused(&["--webhook-retry-schedule", "5s,0s"]));
        assert!(refused(&["--request-timeout", "2h"]));
        assert!(refused(&["--projection-batch-wait", "5ms", "--projection-batch-wait-ms", "5"]));
    }

    #[test]
    fn durations_are_humantime_and_plain_numbers_only_in_a_legacy_unit() {
        assert_eq!(parse("250ms", None), Ok(250 * MS));
        assert_eq!(parse("30s", None), Ok(30 * S));
        assert_eq!(parse("24h", None), Ok(24 * 60 * MINUTE));
        assert_eq!(parse("3d", None), Ok(3 * DAY));
        assert_eq!(parse("1h 30m", None), Ok(90 * MINUTE));
        assert_eq!(parse("30", Some(S)), Ok(30 * S));
        assert_eq!(parse("60", Some(MINUTE)), Ok(60 * MINUTE));
        assert_eq!(parse("5", Some(MS)), Ok(5 * MS));
        assert_eq!(parse("30s", Some(MINUTE)), Ok(30 * S));
        assert!(parse("30", None).is_err());
        assert!(parse("", Some(S)).is_err());
        assert!(parse("-5s", None).is_err());
        assert!(parse("5 parsecs", None).is_err());
        assert!(parse("99999999999", Some(S)).is_err());
    }

    #[test]
    fn a_range_bounds_both_forms() {
        let parser = between(S, 60 * MINUTE, Some(S));
        assert_eq!(parser("1h"), Ok(60 * MINUTE));
        assert_eq!(parser("3600"), Ok(60 * MINUTE));
        assert!(parser("61m").is_err());
        assert!(parser("500ms").is_err());
        assert!(parser("0").is_err());
        assert_eq!(
            between(Duration::ZERO, 365 * DAY, None)("400d"),
            Err("`400d` is out of range: from 0s to 365d".to_owned())
        );
        assert_eq!(
            between(Duration::ZERO, 365 * DAY, Some(MINUTE))("600000"),
            Err("`600000` (416d 16h) is out of range: from 0s to 365d".to_owned())
        );
    }

    #[test]
    fn durations_are_written_in_the_units_flags_take() {
        assert_eq!(written(Duration::ZERO), "0s");
        assert_eq!(written(250 * MS), "250ms");
        assert_eq!(written(90 * MINUTE), "1h 30m");
        assert_eq!(written(365 * DAY), "365d");
        assert_eq!(written(DAY + S + 5 * MS), "1d 1s 5ms");
    }
}
