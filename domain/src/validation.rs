//! Validation failures, each naming the offending field by JSON pointer.

use std::fmt;

/// One invalid field of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer into the event, e.g. `/subject` or `/data/stake`.
    pub pointer: String,
    /// What is wrong, for the API user.
    pub message: String,
}

impl FieldError {
    /// An error at `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), message: message.into() }
    }
}

/// Every problem found in one event (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.pointer, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}
