//! Resident memory of this process, or of a child, from `/proc/<pid>/status` (Linux; `None`
//! elsewhere).
//!
//! `VmHWM` is a process-wide high-water mark. Writing `5` to `/proc/self/clear_refs` (Linux
//! 4.0 and later) resets it to the current RSS; where that is not permitted the marks are
//! cumulative, and the report says so.

use crate::report::Report;

const KIB_PER_MIB: f64 = 1024.0;

fn status_kib(process: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let value = line.strip_prefix(field)?.strip_prefix(':')?;
    value.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// The peak resident set size so far (since the last reset), in KiB.
pub(crate) fn peak_kib() -> Option<u64> {
    status_kib("self", "VmHWM")
}

/// The peak resident set size of process `pid` so far, in KiB; `None` once it has exited
/// (a zombie's status has no memory fields) or off Linux.
pub(crate) fn peak_kib_of(pid: u32) -> Option<u64> {
    status_kib(&pid.to_string(), "VmHWM")
}

/// The current resident set size, in KiB.
pub(crate) fn current_kib() -> Option<u64> {
    status_kib("self", "VmRSS")
}

/// Resets the peak to the current RSS; false where the kernel does not permit it.
pub(crate) fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// KiB as MiB, for printing.
pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / KIB_PER_MIB
}

/// Reports the peak RSS of the benchmark just run and resets it for the next one.
pub(crate) fn report_peak(report: &mut Report, benchmark: &str, resettable: bool) {
    let Some(peak) = peak_kib() else {
        report.note("peak RSS unavailable (no /proc/self/status)");
        return;
    };
    let label = if resettable {
        format!("peak RSS of this process during {benchmark}")
    } else {
        format!("peak RSS up to the end of {benchmark} (cumulative)")
    };
    report.context(
        &format!("peak_rss_{benchmark}_mib"),
        &label,
        mib(peak),
        "MiB",
    );
    if resettable {
        reset_peak();
    }
}
