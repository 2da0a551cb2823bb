//! Things the storage did on its own that the person running a command should hear of: an
//! unfinished sled snapshot removed, a ledger adopted into `COMMITTED`, an account that a
//! crash left one commit behind brought up to date.
//!
//! They are collected here rather than returned, because they happen inside an open or a
//! commit whose result is about something else; the caller takes them when it reports
//! (`pbr` prints each as `pbr: note: …` on standard error).

use std::sync::Mutex;

static NOTICES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records a notice: one sentence, lowercase, without a final period.
pub(crate) fn push(notice: String) {
    // A poisoned lock only means another thread panicked while pushing; the list is intact.
    let mut notices = NOTICES.lock().unwrap_or_else(|e| e.into_inner());
    notices.push(notice);
}

/// Takes the notices recorded so far, oldest first.
pub fn take() -> Vec<String> {
    let mut notices = NOTICES.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut *notices)
}
