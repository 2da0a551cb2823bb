//! The exit codes of `pbr`, a stable machine interface (listed in `docs/cli.md`).

/// Success.
pub const OK: i32 = 0;
/// The command line is malformed (clap's own code).
pub const USAGE: i32 = 2;
/// Bad input: a file, a key, a value, a request outside the log; a ledger in another format
/// (format 1, which only `pbr migrate` takes, or a newer one).
pub const INPUT: i32 = 3;
/// Another process holds the ledger.
pub const LEDGER_IN_USE: i32 = 4;
/// Verification failed: a bad record, cache or checkpoint, or a rewritten history; damaged
/// storage, or a ledger that holds less than, or else than, what it committed; a format-1
/// ledger that does not match its own format-1 hashes or checkpoints.
pub const VERIFY_FAILED: i32 = 5;
/// No space left on the device: nothing of the command was written (or, for an append that
/// was committed, the message says so).
pub const NO_SPACE: i32 = 6;
/// A mirror was shown evidence against the operator: two validly signed, inconsistent
/// checkpoints, or a signed log holding a record that breaks an admission rule. The evidence
/// file is named in the message (`pbr fork verify` checks it).
pub const FORK: i32 = 7;
/// The operator's server could not be reached, refused the token, or answered with an error
/// (`5xx`); a submission the server refuses (`4xx`: a bad signature, a rule the record
/// breaks) is [`INPUT`].
pub const NETWORK: i32 = 8;
/// A bug or an unexpected storage failure.
pub const INTERNAL: i32 = 255;
