//! Writing to stdout and stderr without panicking: a closed stdout (`fugong history | head -2`) is an
//! `io::Error` of kind `BrokenPipe` that ends the command quietly (exit 0), never a panic.

use std::fmt::Display;
use std::io::Write;

/// Write a line to stdout.
pub fn line(text: impl Display) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

/// Write a line to stderr (progress and notes); a closed stderr is ignored.
pub fn note(text: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
