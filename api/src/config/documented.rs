//! The README's configuration table against `nudge serve`'s flags as clap
//! knows them, so that neither drifts from the other.

use std::collections::BTreeMap;

use clap::{ArgAction, CommandFactory};

use crate::{cli::Cli, readme};

/// A row of the README's configuration table: environment variable and default.
#[derive(Debug)]
struct Row {
    env: &'static str,
    default: &'static str,
}

/// The rows of the table under `## Configuration`, by flag.
fn table() -> BTreeMap<&'static str, Row> {
    readme::table("Configuration")
        .into_iter()
        .filter_map(|cells| {
            let flag = cells.first()?.strip_prefix("`--")?.strip_suffix('`')?;
            Some((flag, Row { env: cells.get(1)?.trim_matches('`'), default: cells.get(2)? }))
        })
        .collect()
}

/// `nudge serve`'s flags that are not hidden, its own and the global ones:
/// long name, environment variable and default as the README writes it.
fn flags() -> Vec<(String, Option<String>, Option<String>)> {
    let mut cli = Cli::command();
    cli.build();
    let Some(serve) = cli.find_subcommand("serve") else { panic!("nudge has no serve command") };
    serve
        .get_arguments()
        .filter(|arg| !arg.is_hide_set())
        .filter_map(|arg| {
            let long = arg.get_long()?.to_owned();
            let env = arg.get_env().map(|env| env.to_string_lossy().into_owned());
            // A switch's default is `false`; the README says `off`.
            let default = match arg.get_action() {
                ArgAction::SetTrue => Some("off".to_owned()),
                _ => arg.get_default_values().first().map(|value| format!("`{}`", value.to_string_lossy())),
            };
            Some((long, env, default))
        })
        .filter(|(long, _, _)| !matches!(long.as_str(), "help" | "version"))
        .collect()
}

#[test]
fn every_serve_flag_is_in_the_readme_with_its_environment_variable_and_default() {
    let table = table();
    for (long, env, default) in flags() {
        let Some(row) = table.get(long.as_str()) else { panic!("README's Configuration table lacks --{long}") };
        assert_eq!(Some(row.env), env.as_deref(), "--{long}'s environment variable");
        match default {
            Some(default) => assert_eq!(row.default, default, "--{long}'s default"),
            None => {
                let bare = row.default.len() > 1 && row.default.starts_with('`') && row.default.ends_with('`');
                assert!(!bare, "--{long} has no default, README gives {}", row.default);
            }
        }
    }
}

#[test]
fn every_flag_in_the_readme_table_is_a_serve_flag() {
    let flags: Vec<String> = flags().into_iter().map(|(long, _, _)| long).collect();
    let table = table();
    assert!(table.len() > 40, "the table was read: {} rows", table.len());
    for flag in table.keys() {
        assert!(flags.iter().any(|long| long == flag), "README documents --{flag}, which nudge serve does not take");
    }
}
