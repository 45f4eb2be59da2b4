//! A command's answer on standard output, which may be closed early (`| head`)
//! or full: told as an error, never a panic (what `println!` does).

use std::io::{ErrorKind, Write};

/// Writes `text` and a newline. A reader that has gone (a broken pipe) wanted
/// no more and is not an error; any other failure is.
pub fn line(text: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to standard output"))
        }
        _ => Ok(()),
    }
}
