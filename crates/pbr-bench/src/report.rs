//! Printing: one aligned line per figure for people, then one JSON summary line for machines.
//! With `--json` only the JSON line is printed; progress always goes to stderr.

use std::path::Path;

use serde_json::{Map, Value, json};

const NAME_WIDTH: usize = 44;
const BYTES_PER_MIB: f64 = 1_048_576.0;

/// A rate compared with the raw rate of the same work; the ratio is `ours / raw`.
pub(crate) struct Throughput<'a> {
    /// The JSON key.
    pub(crate) key: &'a str,
    /// The printed name.
    pub(crate) name: &'a str,
    pub(crate) ours: f64,
    pub(crate) raw: f64,
    pub(crate) unit: &'a str,
    /// The target, as a fraction of the raw rate; `None`: the ratio is for information.
    pub(crate) min_ratio: Option<f64>,
}

/// A figure with an upper bound as its target (a wall time, a peak memory).
pub(crate) struct Bound<'a> {
    pub(crate) key: &'a str,
    pub(crate) name: &'a str,
    pub(crate) value: f64,
    pub(crate) unit: &'a str,
    /// The target: below this.
    pub(crate) max: f64,
}

/// A latency distribution in microseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Latency {
    pub(crate) median_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) max_us: f64,
}

/// A latency compared with the raw latency of the same work; the ratio is `raw / ours` at the
/// median, the share of the raw speed we reach, like a throughput ratio.
pub(crate) struct LatencyFigure<'a> {
    pub(crate) key: &'a str,
    pub(crate) name: &'a str,
    pub(crate) ours: Latency,
    pub(crate) raw: Latency,
    /// The target: p99 below this.
    pub(crate) max_p99_us: f64,
}

/// A peak memory at two input sizes; the growth is `large / small`, and the target is that
/// the peak does not depend on the input's size.
pub(crate) struct Growth<'a> {
    pub(crate) key: &'a str,
    pub(crate) name: &'a str,
    pub(crate) small_size: u64,
    pub(crate) small_mib: f64,
    pub(crate) large_size: u64,
    pub(crate) large_mib: f64,
    /// The target, growth at most this; none for a figure reported as context.
    pub(crate) max_growth: Option<f64>,
}

/// Everything printed, and the JSON summary collected on the way.
pub(crate) struct Report {
    json_only: bool,
    summary: Map<String, Value>,
    results: Vec<Value>,
    context: Map<String, Value>,
}

impl Report {
    pub(crate) fn new(json_only: bool) -> Report {
        Report {
            json_only,
            summary: Map::new(),
            results: Vec::new(),
            context: Map::new(),
        }
    }

    fn line(&self, text: &str) {
        if !self.json_only {
            println!("{text}");
        }
    }

    /// What runs where, and how busy the machine was when it started.
    pub(crate) fn header(&mut self, which: &str, base: &Path) {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let load = load_average();
        self.summary.insert("bench".into(), json!("pbr-bench"));
        self.summary.insert("which".into(), json!(which));
        self.summary.insert("cores".into(), json!(cores));
        self.summary
            .insert("load_average_start".into(), json!(load));
        self.line(&format!(
            "pbr-bench {which}: {cores} cores, load average {load} at start, ledgers under {}",
            base.display()
        ));
        self.line(
            "ratio = our speed / raw speed of the same work in this run (latency: raw / ours)",
        );
    }

    /// A section title.
    pub(crate) fn section(&self, title: &str) {
        self.line(&format!("\n== {title} =="));
    }

    /// A remark under the figures.
    pub(crate) fn note(&self, text: &str) {
        self.line(&format!("  note: {text}"));
    }

    /// Progress of a long step, on stderr.
    pub(crate) fn progress(&self, text: &str) {
        if !self.json_only {
            eprintln!("  .. {text}");
        }
    }

    /// A figure without a raw counterpart.
    pub(crate) fn context(&mut self, key: &str, label: &str, value: f64, unit: &str) {
        self.context
            .insert(key.into(), json!({ "value": round(value), "unit": unit }));
        self.line(&format!("{label:<NAME_WIDTH$} {value:>12.1} {unit}"));
    }

    /// A fact that is text, not a number (an exit status, a line a command printed).
    pub(crate) fn detail(&mut self, key: &str, label: &str, value: &str) {
        self.context.insert(key.into(), json!({ "value": value }));
        self.line(&format!("{label:<NAME_WIDTH$} {value}"));
    }

    /// A rate beside the raw rate.
    pub(crate) fn throughput(&mut self, figure: &Throughput<'_>) {
        let ratio = figure.ours / figure.raw;
        let met = figure.min_ratio.map(|min| ratio >= min);
        let unit = figure.unit;
        let target = match (figure.min_ratio, met) {
            (Some(min), Some(met)) => format!("target >= {:.0}%: {}", min * 100.0, verdict(met)),
            _ => "(no target)".into(),
        };
        self.line(&format!(
            "{:<NAME_WIDTH$} {:>12.0} {unit:<6} raw {:>12.0} {unit:<6} ratio {:>6.1}%  {target}",
            figure.name,
            figure.ours,
            figure.raw,
            ratio * 100.0,
        ));
        self.results.push(json!({
            "name": figure.key,
            "unit": unit,
            "ours": round(figure.ours),
            "raw": round(figure.raw),
            "ratio": round(ratio),
            "target_min_ratio": figure.min_ratio,
            "met": met,
        }));
    }

    /// A figure against its upper bound.
    pub(crate) fn bound(&mut self, figure: &Bound<'_>) {
        let met = figure.value < figure.max;
        let unit = figure.unit;
        self.line(&format!(
            "{:<NAME_WIDTH$} {:>12.1} {unit:<6} target < {} {unit}: {}",
            figure.name,
            figure.value,
            figure.max,
            verdict(met)
        ));
        self.results.push(json!({
            "name": figure.key,
            "unit": unit,
            "ours": round(figure.value),
            "target_max": figure.max,
            "met": met,
        }));
    }

    /// A latency distribution beside the raw one.
    pub(crate) fn latency(&mut self, figure: &LatencyFigure<'_>) {
        let ratio = figure.raw.median_us / figure.ours.median_us;
        let met = figure.ours.p99_us < figure.max_p99_us;
        self.line(&format!(
            "{:<NAME_WIDTH$} {} | raw {} | ratio {:>6.1}%  target p99 < {:.0} µs: {}",
            figure.name,
            show(figure.ours),
            show(figure.raw),
            ratio * 100.0,
            figure.max_p99_us,
            verdict(met)
        ));
        self.results.push(json!({
            "name": figure.key,
            "unit": "us",
            "ours": latency_json(figure.ours),
            "raw": latency_json(figure.raw),
            "ratio_at_median": round(ratio),
            "target_max_p99_us": figure.max_p99_us,
            "met": met,
        }));
    }

    /// A peak memory at two sizes, and whether it grew with the size.
    pub(crate) fn growth(&mut self, figure: &Growth<'_>) {
        let growth = figure.large_mib / figure.small_mib;
        let met = figure.max_growth.map(|max| growth <= max);
        // What each item between the two sizes added to the peak, on average.
        let per_item = (figure.large_mib - figure.small_mib) * BYTES_PER_MIB
            / figure.large_size.saturating_sub(figure.small_size).max(1) as f64;
        let target = match (figure.max_growth, met) {
            (Some(max), Some(met)) => format!("target <= {max:.2}x: {}", verdict(met)),
            _ => "(no target)".to_owned(),
        };
        self.line(&format!(
            "{:<NAME_WIDTH$} {:>12.1} MiB    at {} vs {:>8.1} MiB at {}: growth {:.2}x \
             ({:.0} bytes each between them)  {target}",
            figure.name,
            figure.large_mib,
            figure.large_size,
            figure.small_mib,
            figure.small_size,
            growth,
            per_item,
        ));
        self.results.push(json!({
            "name": figure.key,
            "unit": "MiB",
            "small_size": figure.small_size,
            "small": round(figure.small_mib),
            "large_size": figure.large_size,
            "large": round(figure.large_mib),
            "growth": round(growth),
            "bytes_per_item_between": per_item.round(),
            "target_max_growth": figure.max_growth,
            "met": met,
        }));
    }

    /// Prints the JSON summary line.
    pub(crate) fn finish(mut self) {
        let load = load_average();
        self.line(&format!("\nload average {load} at end"));
        self.summary.insert("load_average_end".into(), json!(load));
        self.summary
            .insert("context".into(), Value::Object(self.context));
        self.summary
            .insert("results".into(), Value::Array(self.results));
        println!("{}", Value::Object(self.summary));
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

fn show(latency: Latency) -> String {
    format!(
        "median {:>7.1} µs  p99 {:>7.1} µs  max {:>8.1} µs",
        latency.median_us, latency.p99_us, latency.max_us
    )
}

fn latency_json(latency: Latency) -> Value {
    json!({
        "median": round(latency.median_us),
        "p99": round(latency.p99_us),
        "max": round(latency.max_us),
    })
}

/// Three decimals are plenty and keep the JSON line short.
fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// The 1, 5 and 15 minute load averages, or "?" off Linux.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "?".into())
}
