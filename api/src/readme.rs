//! The README's tables, for the tests that hold them to the code.

/// The README this crate's binary ships with.
const README: &str = include_str!("../../README.md");

/// The rows of the table in the section headed `## {section}`, each as its
/// cells, trimmed (the header row and the rule under it left out).
pub(crate) fn table(section: &str) -> Vec<Vec<&'static str>> {
    let heading = format!("\n## {section}\n");
    let body = README.split(heading.as_str()).nth(1).and_then(|rest| rest.split("\n## ").next());
    let Some(body) = body else { panic!("README has no section {section}") };
    body.lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .collect()
}
