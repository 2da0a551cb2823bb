//! Terminal output: JSON, one-line errors and progress bars.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Writes to standard output. A reader that went away (`pbr log | head`) ends the process
/// quietly with success, as for any Unix filter; any other write error is internal.
pub(crate) fn write_out(args: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(error) = written {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(crate::exit_code::OK);
        }
        eprintln!("pbr: error: cannot write to standard output: {error}");
        std::process::exit(crate::exit_code::INTERNAL);
    }
}

/// `println!` that survives a closed pipe (see [`write_out`]).
macro_rules! outln {
    () => { $crate::output::write_out(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::write_out(format_args!($($arg)*), true) };
}

/// `print!` that survives a closed pipe (see [`write_out`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_out(format_args!($($arg)*), false) };
}

pub(crate) use {out, outln};

/// Prints a JSON value on one line of standard output.
pub(crate) fn print_json(value: &serde_json::Value) {
    outln!("{value}");
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

/// A counter on standard error for work whose total is not known in advance (the rows of a
/// streamed import): how many, and how fast; hidden like [`progress`].
pub(crate) fn counter(json: bool, what: &str, unit: &str) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    // The template is a constant; a failure here is a bug in it.
    let template = format!("{{spinner}} {{msg}} {{human_pos}} {unit} ({{rate}}, {{elapsed}})");
    let style = ProgressStyle::with_template(&template)
        .expect("valid counter template")
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                // Whole units a second: the decimals of an estimate are noise.
                let _ = write!(w, "{}/s", indicatif::HumanCount(state.per_sec() as u64));
            },
        );
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Lowercase hex of a hash.
pub(crate) fn hex(hash: &[u8; 32]) -> String {
    pbr_log::hex::encode(hash)
}
