//! A command's answer on standard output, which may be closed early (`| head`)
//! or full: told as an error, never a panic (what `println!` does).

use std::io::{self, ErrorKind, Write};

use anyhow::Context;

/// Writes `text` and a newline. A reader that has gone (a broken pipe) wanted
/// no more and is not an error; any other failure is.
pub fn line(text: impl std::fmt::Display) -> anyhow::Result<()> {
    match write(text) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        written => written.context(UNWRITTEN),
    }
}

/// Writes `text` and a newline, which must reach the reader (a secret shown
/// once): a broken pipe is an error too.
pub fn required(text: impl std::fmt::Display) -> anyhow::Result<()> {
    write(text).context(UNWRITTEN)
}

/// What a failed write says.
const UNWRITTEN: &str = "cannot write to standard output";

fn write(text: impl std::fmt::Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

/// `println!` for a command's answer: a failed write is returned (`?`) where
/// `println!` panics.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::tools::stdout::line(format_args!($($arg)*))?
    };
}
