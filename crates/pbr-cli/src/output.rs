//! Terminal output: JSON, one-line errors and progress bars.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Prints a JSON value on one line of standard output.
pub(crate) fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// The error and its causes on one line, with no line breaks inside.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text.replace('\n', " ")
}

/// A progress bar on standard error, hidden when it is not a terminal or output is JSON.
pub(crate) fn progress(json: bool, what: &str) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    // The template is a constant; a failure here is a bug in it.
    let style = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({per_sec}, eta {eta})")
        .expect("valid progress template");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// Lowercase hex of a hash.
pub(crate) fn hex(hash: &[u8; 32]) -> String {
    pbr_log::hex::encode(hash)
}
