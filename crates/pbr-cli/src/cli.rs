//! The command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A tamper-evident ledger for Payment-by-Results contracts and Social Impact Bonds.
#[derive(Debug, Parser)]
#[command(name = "pbr", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// The ledger directory.
    #[arg(long, global = true, env = "PBR_LEDGER", value_name = "DIR")]
    pub(crate) ledger: Option<PathBuf>,
    /// Print machine-readable JSON instead of human text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// When another process holds the ledger, wait up to SECONDS for it instead of failing
    /// at once.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 0)]
    pub(crate) wait: u64,
    /// Submit what a write command records to the operator's server at URL instead of
    /// appending it here: it is prepared and signed against this ledger (the party's
    /// mirror) with the party's own key, and sent (docs/protocol.md).
    #[arg(long, global = true, env = "PBR_SERVER", value_name = "URL")]
    pub(crate) server: Option<String>,
    /// The party's read credential for the server (a file holding the token the operator
    /// issued): `pbr clone` keeps its path in MIRROR.json, read at every pull and never
    /// copied into the mirror; with --server, receipts are fetched with it (by default, the
    /// mirror's).
    #[arg(long, global = true, env = "PBR_TOKEN_FILE", value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// With --server, how long to wait for the receipts of what was submitted.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30)]
    pub(crate) receipt_wait: u64,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a new, empty ledger.
    Init {
        /// Where to create it (default: --ledger).
        dir: Option<PathBuf>,
        /// The ledger id that every checkpoint names (no spaces, no '+'); default: derived
        /// from the directory name.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Recompute every hash, Merkle root and signature and name the first bad record.
    Verify {
        /// Verify only what was appended since the last verified checkpoint.
        #[arg(long)]
        incremental: bool,
        /// Threads for signature checks (default: the machine's cores).
        #[arg(long)]
        threads: Option<usize>,
        /// A trusted verifier key (<name>+<key id>+<base64>), obtained from the party, to
        /// check checkpoint signatures against; repeat for several. Without one, the keys
        /// stored in the ledger are used, which is not a trust anchor.
        #[arg(long = "key", value_name = "VKEY")]
        keys: Vec<String>,
        /// A C2SP tlog-policy file (`pbr contract policy` writes one): its log and witness
        /// keys are trusted as if each were given with --key.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Write the log up to the latest checkpoint that meets every contract's quorum as JSON
    /// Lines (docs/format.md §5); nothing, and why, when none does.
    Export {
        /// Write to this file instead of standard output: whole or not at all (a temporary
        /// file beside it, moved into place when complete); an existing file is refused.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Replace the --out file if it exists.
        #[arg(long, requires = "out")]
        force: bool,
        /// Write the same records and checkpoint as a static C2SP tlog-tiles tree in DIR
        /// instead (checkpoint, hash tiles, entry bundles; docs/format.md §6.3). Tiles left
        /// by an earlier export stay and must agree with the tree.
        #[arg(long, value_name = "DIR", conflicts_with = "out")]
        tiles: Option<PathBuf>,
    },
    /// Print an inclusion or consistency proof against a stored checkpoint.
    Proof(ProofArgs),
    /// Sign, show or check checkpoints (the log key signs them).
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Cosign checkpoints as a party's witness (C2SP tlog-witness).
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Manage parties' keys.
    #[command(subcommand)]
    Party(PartyCommand),
    /// Register or amend contract terms (a TOML file).
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Append the facts of CSV or JSON Lines files: all of them, or none.
    Import {
        /// The files (.csv or .jsonl).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A private key file of an author the rows name; repeat for several authors (none
        /// for rows that carry records signed elsewhere, as an export's do).
        #[arg(long = "key", value_name = "FILE")]
        keys: Vec<PathBuf>,
        /// The commissioner's pseudonym secret, for rows that give CPR numbers.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
    },
    /// Show events, one line each, with decisions and reasons.
    Log(LogArgs),
    /// Record one fact (each is also an import row kind).
    #[command(flatten)]
    Fact(Fact),
    /// Print a period's settlement statement; with --issue, record it in the log.
    Settle {
        /// The contract (default: the ledger's only contract).
        #[arg(long)]
        contract: Option<String>,
        /// The period: 2025-Q3, 2025-07 or 2025, as the contract settles.
        #[arg(long)]
        period: String,
        /// Record the statement's hash, period and log position, signed with --key.
        #[arg(long, requires = "key")]
        issue: bool,
        /// The issuing party's private key file (a commissioner or intermediary).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Recompute every issued statement from the log and name any that differ.
    Audit {
        /// A trusted verifier key (<name>+<key id>+<base64>), obtained from the party; repeat
        /// for several. With keys, the log is verified against them first, and the audit
        /// passes only if the latest checkpoint covers every issued statement and carries
        /// every contract's quorum under them. Without one, trust is not established.
        #[arg(long = "key", value_name = "VKEY")]
        keys: Vec<String>,
        /// A C2SP tlog-policy file (`pbr contract policy` writes one): its log and witness
        /// keys are trusted as if each were given with --key.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Balances per party: accrued, paid, outstanding, invested, returned, exposure.
    Balance {
        /// The contract (default: the ledger's only contract).
        #[arg(long)]
        contract: Option<String>,
        /// What was known after the events with seq below N.
        #[arg(long, value_name = "N", conflicts_with = "known_at")]
        at_seq: Option<u64>,
        /// What was known at a time: RFC 3339, or a date meaning the end of that day (UTC).
        #[arg(long, value_name = "TIME")]
        known_at: Option<String>,
        /// Only what was in effect on this business date.
        #[arg(long, value_name = "DATE")]
        effective: Option<chrono::NaiveDate>,
    },
    /// Show how each amount of an issued statement was computed.
    Explain {
        /// The seq of the settlement-issued event.
        settlement: u64,
        /// Only the lines about this participant.
        #[command(flatten)]
        who: Who,
    },
    /// Which amounts and balances changed between two log positions, and which events
    /// changed them.
    Diff {
        /// The earlier log position (events with seq below it).
        #[arg(long)]
        from_seq: u64,
        /// The later log position (default: the whole log).
        #[arg(long)]
        to_seq: Option<u64>,
        /// Only this contract.
        #[arg(long)]
        contract: Option<String>,
        /// Compare entitlements through this period (default: the contract's final period).
        #[arg(long)]
        through: Option<String>,
    },
    /// Settle alternative terms over the same history, beside the real ones; writes nothing.
    WhatIf {
        /// The alternative terms (TOML).
        #[arg(long)]
        terms: PathBuf,
        /// Through this period.
        #[arg(long)]
        period: String,
        /// The contract whose history to use (default: the ledger's only contract).
        #[arg(long)]
        contract: Option<String>,
    },
    /// Reports derived from the log (docs/reports.md).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Write a dispute bundle: the records about a participant or behind an issued
    /// statement, with inclusion proofs, a signed checkpoint, the terms and the statements
    /// explained (docs/format.md §10); `pbr bundle verify FILE` checks one offline.
    Bundle(BundleArgs),
    /// Serve the ledger over HTTP to the parties of its contracts (docs/protocol.md): tlog-tiles
    /// reads behind tokens, POST /add of records signed elsewhere, receipts, checkpoints;
    /// `pbr serve token PARTY` issues a read token.
    Serve(ServeArgs),
    /// Build a sample ledger with demo keys, verify it and show what to try next.
    Demo {
        /// Where to build it: a new or empty directory, or an earlier demo's, whose ledger
        /// is replaced (nothing else there is deleted); default: pbr-demo in the system's
        /// temporary directory.
        dir: Option<PathBuf>,
        /// Run the demo contract through the network instead, on loopback: the operator's
        /// `pbr serve` and the four parties, each in a directory of its own under DIR with its
        /// key, its token and its mirror; every party submits the records it signed, pulls,
        /// and shows what it sees; every process started is stopped.
        #[arg(long, value_name = "DIR", conflicts_with = "dir")]
        network: Option<PathBuf>,
    },
    /// Rebuild a damaged ledger from an export: every record re-admitted as signed, checked
    /// against the export's checkpoint and against what the ledger committed; the damaged
    /// database is moved aside, never deleted.
    Restore {
        /// The export to rebuild from (the output of `pbr export`).
        #[arg(long, value_name = "EXPORT.jsonl")]
        from: PathBuf,
        /// The ledger to restore (default: --ledger); a new or empty directory also works.
        dir: Option<PathBuf>,
        /// Go on when the export ends before what the ledger committed, losing the records
        /// after it.
        #[arg(long)]
        accept_loss: bool,
    },
    /// Turn a format-1 ledger into a format-2 one in place: every record is checked against
    /// the ledger's own format-1 hashes and checkpoints and kept byte for byte, the caches are
    /// rebuilt, the format-1 checkpoints are kept as history; sign a new checkpoint after.
    Migrate {
        /// The ledger to migrate (default: --ledger).
        dir: Option<PathBuf>,
    },
    /// Make a verified mirror of an operator's log (C2SP tlog-tiles at URL): a new ledger in
    /// DIR with the log's origin and MIRROR.json, then `pbr pull`.
    Clone {
        /// The URL prefix of the operator's tiles (URL/checkpoint, URL/tile/…).
        url: String,
        /// The new mirror's directory (new or empty).
        dir: PathBuf,
        /// A C2SP tlog-policy file: its log key must sign, and its quorum of witnesses
        /// cosign, every checkpoint the mirror takes.
        #[arg(long, value_name = "FILE", required_unless_present = "log_key")]
        policy: Option<PathBuf>,
        /// The log's verifier key (<origin>+<key id>+<base64>), obtained from the operator:
        /// every checkpoint must carry its signature; no quorum is required.
        #[arg(long, value_name = "VKEY", conflicts_with = "policy")]
        log_key: Option<String>,
    },
    /// Fetch what the operator's log holds beyond this mirror, verify everything again
    /// (signature, quorum, consistency, root, every record and admission rule, every issued
    /// statement), and append it; a fork is refused and its evidence written.
    Pull,
    /// Check fork evidence that a mirror wrote (docs/format.md §11).
    #[command(subcommand)]
    Fork(ForkCommand),
    /// Make a commissioner's pseudonym secret, which turns CPR numbers into participant
    /// references and never enters the ledger.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (pbr.1 and one per command) into a directory.
    Man {
        /// The directory (created if missing; existing pages are replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// `pbr fork`.
#[derive(Debug, Subcommand)]
pub(crate) enum ForkCommand {
    /// Check an evidence file offline and print what it proves; exit 0 only if it holds.
    Verify {
        /// The evidence file (a mirror writes them to DIR/forks/).
        file: PathBuf,
        /// The log's verifier key, obtained from the operator.
        #[arg(long, value_name = "VKEY", required_unless_present = "policy")]
        log_key: Option<String>,
        /// A C2SP tlog-policy file whose log key signed the notes.
        #[arg(long, value_name = "FILE", conflicts_with = "log_key")]
        policy: Option<PathBuf>,
    },
}

/// `pbr secret`.
#[derive(Debug, Subcommand)]
pub(crate) enum SecretCommand {
    /// Write a new pseudonym secret: 32 random bytes as 64 hex digits and a newline (mode
    /// 0600); the whole file is the secret.
    New {
        /// The file to create (default: pseudonym.secret); an existing file is never replaced.
        file: Option<PathBuf>,
    },
}

/// The reports.
#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// ESF+ common indicators (EECO01-EECO19, EECR01-EECR06) by women, men, non-binary and
    /// total.
    Esf {
        /// The contract whose participants form the operation (default: the ledger's only
        /// contract).
        #[arg(long)]
        contract: Option<String>,
        /// The operation's name, printed in the report (default: the contract id).
        #[arg(long)]
        operation: Option<String>,
        /// FROM..TO (dates, both included), or YYYY, YYYY-Qn, YYYY-MM (default: all time).
        #[arg(long)]
        period: Option<String>,
        /// The output format (default: json with --json, else csv).
        #[arg(long, value_enum)]
        format: Option<ReportFormat>,
        /// Write to this file (required for xlsx): whole or not at all; an existing file is
        /// refused.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Replace the --out file if it exists.
        #[arg(long, requires = "out")]
        force: bool,
    },
    /// The INDIGO impact-bond data standard's project JSON: outcome metrics and prices,
    /// payment plans, outcome payments, transactions and results; no participant data.
    Indigo {
        /// The contract (default: the ledger's only contract).
        #[arg(long)]
        contract: Option<String>,
        /// The last settlement period included, e.g. 2014-Q1 (default: the contract's final
        /// period).
        #[arg(long)]
        through: Option<String>,
    },
    /// The budget view: per year and budget line, a party's expected and realised savings,
    /// outcome payments, repayments, grants, co-financing, facility flows, costs and net
    /// effect, signed as effect and as supplementary appropriation.
    Budget {
        /// The party whose budget it shows.
        #[arg(long)]
        party: String,
        /// The contract (default: the ledger's only contract).
        #[arg(long)]
        contract: Option<String>,
        /// Only this calendar year (default: every year of the contract).
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..=9999))]
        year: Option<i32>,
        /// long: a row per year and budget line, then a total row per line; wide: years as
        /// columns and budget lines as rows, with a total column.
        #[arg(long, value_enum, default_value = "long")]
        layout: BudgetLayout,
        /// The output format (default: json with --json, else csv).
        #[arg(long, value_enum)]
        format: Option<ReportFormat>,
        /// Write to this file (required for xlsx): whole or not at all; an existing file is
        /// refused.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Replace the --out file if it exists.
        #[arg(long, requires = "out")]
        force: bool,
    },
    /// The audit report: the log's verification and checkpoints with their signers, every
    /// issued statement recomputed and matched, the balances per party, and charts; exits 5
    /// (after writing the report) when anything fails.
    Audit {
        /// The contract (default: the ledger's only contract).
        #[arg(long)]
        contract: Option<String>,
        /// The output format (default: json with --json, else html).
        #[arg(long, value_enum)]
        format: Option<AuditFormat>,
        /// Write to this file (required for xlsx): whole or not at all; an existing file is
        /// refused.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Replace the --out file if it exists.
        #[arg(long, requires = "out")]
        force: bool,
        /// A trusted verifier key (<name>+<key id>+<base64>), obtained from the party, to
        /// check checkpoint signatures against; repeat for several. Without one, the keys
        /// stored in the ledger are used, which is not a trust anchor (the report says so).
        #[arg(long = "key", value_name = "VKEY")]
        keys: Vec<String>,
        /// A C2SP tlog-policy file (`pbr contract policy` writes one): its log and witness
        /// keys are trusted as if each were given with --key.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

/// The layouts of `pbr report budget`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BudgetLayout {
    /// One row per year and budget line, then one total row per line.
    Long,
    /// Years as columns and budget lines as rows (effect, then appropriation), with a total
    /// column.
    Wide,
}

/// The formats of `pbr report audit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AuditFormat {
    /// One self-contained HTML page with inline SVG charts; it loads nothing.
    Html,
    /// One JSON object.
    Json,
    /// An Excel workbook, a sheet per table (needs --out).
    Xlsx,
}

/// `pbr bundle`: write a dispute bundle, or `verify` one.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
#[command(group(clap::ArgGroup::new("about").required(true).args(["participant", "cpr", "settlement"])))]
pub(crate) struct BundleArgs {
    #[command(subcommand)]
    pub(crate) command: Option<BundleCommand>,
    /// Every record about this participant, and each issued statement with a line or
    /// decision about them.
    #[command(flatten)]
    pub(crate) who: Who,
    /// The statement issued at this seq (a settlement-issued event) and every record it
    /// cites.
    #[arg(long, value_name = "SEQ")]
    pub(crate) settlement: Option<u64>,
    /// The file to write: whole or not at all; an existing file is refused.
    #[arg(long, short, required = true, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Replace the --out file if it exists.
    #[arg(long, requires = "out")]
    pub(crate) force: bool,
    /// The contract (default: the ledger's only contract; for --settlement, the
    /// statement's).
    #[arg(long)]
    pub(crate) contract: Option<String>,
}

/// `pbr serve`: run the server, or issue a `token`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ServeArgs {
    #[command(subcommand)]
    pub(crate) command: Option<ServeCommand>,
    /// The address to listen on, e.g. 127.0.0.1:8080 (port 0: the system picks one; the
    /// first line of output names it).
    #[arg(long, required = true, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// The log key's private key file, which signs the checkpoints the server publishes.
    #[arg(long, required = true, value_name = "FILE")]
    pub(crate) log_key: Option<PathBuf>,
    /// Sign and publish a checkpoint this often when the log has grown.
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) checkpoint_every: u64,
    /// The largest body of POST /add, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_073_741_824))]
    pub(crate) max_body: u64,
    /// The time a client has to send a request's body; every request ends within twice this.
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub(crate) timeout: u64,
    /// Records per second a public key may submit (and at most this many in one body).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) rate: u32,
}

/// The subcommands of `pbr serve`.
#[derive(Debug, Subcommand)]
pub(crate) enum ServeCommand {
    /// Issue a read token for PARTY: printed once; the server keeps only its BLAKE3 hash, in
    /// DIR/server/tokens, and forgets the token when its line is deleted.
    Token {
        /// The party the token is for.
        party: String,
        /// The token may also ask for a checkpoint (POST /checkpoint).
        #[arg(long)]
        operator: bool,
    },
}

/// The subcommands of `pbr bundle`.
#[derive(Debug, Subcommand)]
pub(crate) enum BundleCommand {
    /// Check a dispute bundle offline: every record's signature, leaf hash and inclusion
    /// path, the checkpoint's signatures, the terms' hashes, each statement's hash and its
    /// explanation, and that every cited record is present.
    Verify {
        /// The bundle.
        file: PathBuf,
        /// A trusted verifier key (<name>+<key id>+<base64>), obtained from the party, to
        /// check the checkpoint's signatures against; repeat for several. Without one, the
        /// keys inside the bundle are used, which is not a trust anchor.
        #[arg(long = "key", value_name = "VKEY")]
        keys: Vec<String>,
        /// A C2SP tlog-policy file (`pbr contract policy` writes one): its log and witness
        /// keys are trusted as if each were given with --key.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Verify a dispute bundle, then show it as a person reads it: what was recorded when and
    /// by whom, the statement lines and their arithmetic, what the proofs establish and what
    /// they cannot. A bundle that does not verify is shown as a failure only.
    Show {
        /// The bundle.
        file: PathBuf,
        /// Plain text (the default) or one self-contained HTML page.
        #[arg(long, value_enum, default_value = "text")]
        format: ShowFormat,
        /// Write to this file instead of standard output: whole or not at all.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Replace the --out file if it exists.
        #[arg(long, requires = "out")]
        force: bool,
        /// A trusted verifier key, as for `bundle verify`; repeat for several.
        #[arg(long = "key", value_name = "VKEY")]
        keys: Vec<String>,
        /// A C2SP tlog-policy file, as for `bundle verify`.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

/// The formats of `pbr bundle show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ShowFormat {
    /// Plain text, one fact a line.
    Text,
    /// One self-contained HTML page that loads nothing.
    Html,
}

/// The formats of `pbr report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object.
    Json,
    /// An Excel workbook with the CSV's cells (needs --out).
    Xlsx,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["seq", "consistency"])))]
pub(crate) struct ProofArgs {
    /// Prove that the record with this seq is in the log.
    #[arg(long)]
    pub(crate) seq: Option<u64>,
    /// The size of the checkpoint to prove against (default: the latest checkpoint).
    #[arg(long, requires = "seq")]
    pub(crate) tree_size: Option<u64>,
    /// Prove that the log of size --to extends the log of size --from.
    #[arg(long, requires = "from")]
    pub(crate) consistency: bool,
    /// The older tree size.
    #[arg(long, requires = "consistency")]
    pub(crate) from: Option<u64>,
    /// The newer tree size, that of a stored checkpoint (default: the latest checkpoint).
    #[arg(long, requires = "consistency")]
    pub(crate) to: Option<u64>,
    /// `tlog-proof`: the inclusion proof as a C2SP tlog-proof@v1 receipt (docs/format.md
    /// §6.2), the text a submitter keeps.
    #[arg(
        long,
        value_name = "FORMAT",
        requires = "seq",
        conflicts_with = "consistency",
        value_parser = ["tlog-proof"]
    )]
    pub(crate) format: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CheckpointCommand {
    /// Sign a new checkpoint of the whole log with the log key.
    Sign {
        /// The log key's private key file (`pbr party keygen ORIGIN --kind log`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Print a stored checkpoint note, to keep as a witness.
    Show {
        /// The size of the checkpoint (default: the latest).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Check a kept checkpoint against today's log with a consistency proof.
    Check {
        /// The saved note.
        note: PathBuf,
        /// A trusted verifier key (<name>+<key id>+<base64>); repeat for several.
        #[arg(long = "key", value_name = "VKEY", required_unless_present = "policy")]
        keys: Vec<String>,
        /// A C2SP tlog-policy file (`pbr contract policy` writes one): its log and witness
        /// keys are trusted as if each were given with --key.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum WitnessCommand {
    /// Cosign a stored checkpoint (cosignature/v1), only if a consistency proof shows it
    /// extends the last checkpoint this witness cosigned for the log.
    Cosign {
        /// The witness's private key file (`pbr party keygen NAME --kind witness`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The witness's state directory: what it cosigned, per log. Keep it outside the
        /// ledger, with the key.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// The log key to check the checkpoint's signature against (default: the one the
        /// registered terms name).
        #[arg(long = "log-key", value_name = "VKEY")]
        log_key: Option<String>,
        /// The size of the checkpoint to cosign (default: the latest).
        #[arg(long)]
        size: Option<u64>,
        /// The cosignature's time in Unix seconds (default: now).
        #[arg(long)]
        time: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContractCommand {
    /// Register a contract's terms; the author must be a commissioner the terms name.
    Register {
        /// The terms.
        terms: PathBuf,
        /// The commissioner's private key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The business date (default: the contract's start).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// Check terms without a ledger, as registering them would (the schema and the
    /// cross-checks of docs/contracts.md); prints the terms hash.
    Check {
        /// The terms.
        terms: PathBuf,
    },
    /// Print the C2SP tlog-policy of a contract's terms: its log key, its quorum's witness
    /// keys and the threshold, the trust input of an outside verifier.
    Policy {
        /// The contract (default: the only one).
        #[arg(long)]
        contract: Option<String>,
    },
    /// Amend a contract: the new terms govern from --effective on.
    Amend {
        /// The new terms, whole.
        terms: PathBuf,
        /// The commissioner's private key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The first business day the new terms govern.
        #[arg(long)]
        effective: chrono::NaiveDate,
    },
}

/// Filters of `pbr log`.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Only events about this participant.
    #[command(flatten)]
    pub(crate) who: Who,
    /// Only events of this kind (e.g. outcome-rejected).
    #[arg(long)]
    pub(crate) kind: Option<String>,
    /// From this seq.
    #[arg(long)]
    pub(crate) from_seq: Option<u64>,
    /// Up to, not including, this seq.
    #[arg(long)]
    pub(crate) to_seq: Option<u64>,
}

/// A participant as people know one: by reference, by a unique prefix of it (as tables show
/// the first 12 digits), or by CPR number with the pseudonym secret.
#[derive(Debug, Args)]
pub(crate) struct Who {
    /// The participant's reference (64 hex digits) or a unique prefix of it (4 or more).
    #[arg(long, value_name = "REF")]
    pub(crate) participant: Option<String>,
    /// Or the participant's CPR number, turned into the reference with --secret-file and
    /// never stored or printed.
    #[arg(long, conflicts_with = "participant", requires = "secret_file")]
    pub(crate) cpr: Option<String>,
    /// The commissioner's pseudonym secret, with --cpr.
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,
}

/// What a one-fact command about no participant takes (a decision names its claim, a
/// correction or dispute its event).
#[derive(Debug, Args)]
pub(crate) struct Basic {
    /// The contract id.
    #[arg(long)]
    pub(crate) contract: String,
    /// The business date.
    #[arg(long)]
    pub(crate) date: chrono::NaiveDate,
    /// The author's private key file; the author is the key's name.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// A client event id (32 hex digits or any token); default: derived from the fact (its
    /// author and every field), so that running the same command twice records it once. An
    /// id the ledger holds for the same fact records nothing; for another fact, an error.
    #[arg(long)]
    pub(crate) id: Option<String>,
}

impl From<Basic> for Common {
    fn from(basic: Basic) -> Common {
        Common {
            basic,
            participant: None,
            cpr: None,
            secret_file: None,
        }
    }
}

/// What every one-fact command about a participant takes.
#[derive(Debug, Args)]
pub(crate) struct Common {
    #[command(flatten)]
    pub(crate) basic: Basic,
    /// The participant's reference (64 hex digits) or a unique prefix of it (4 or more).
    #[arg(long)]
    pub(crate) participant: Option<String>,
    /// The participant's CPR number, turned into the reference with --secret-file and never
    /// stored.
    #[arg(long)]
    pub(crate) cpr: Option<String>,
    /// The commissioner's pseudonym secret, with --cpr.
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,
}

/// The one-fact commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Fact {
    /// Enrol (refer) a participant; the date is the start date.
    Enroll {
        #[command(flatten)]
        common: Common,
        /// woman, man or non-binary.
        #[arg(long)]
        gender: Option<String>,
        /// Age in whole years at entry.
        #[arg(long)]
        age_at_entry: Option<u8>,
        /// unemployed, long-term-unemployed, inactive or employed.
        #[arg(long)]
        entry_status: Option<String>,
        /// ISCED level, 0 to 8.
        #[arg(long)]
        isced: Option<u8>,
        /// The party that pays this participant's outcomes, when the contract says so.
        #[arg(long)]
        home_party: Option<String>,
        /// With disabilities (ESF+ EECO12): yes or no.
        #[arg(long, value_name = "YES|NO")]
        disability: Option<String>,
        /// Third-country national (EECO13): yes or no.
        #[arg(long, value_name = "YES|NO")]
        third_country_national: Option<String>,
        /// Foreign background (EECO14): yes or no.
        #[arg(long, value_name = "YES|NO")]
        foreign_background: Option<String>,
        /// A minority (EECO15): yes or no.
        #[arg(long, value_name = "YES|NO")]
        minority: Option<String>,
        /// Homeless or affected by housing exclusion (EECO16): yes or no.
        #[arg(long, value_name = "YES|NO")]
        homeless: Option<String>,
        /// From a rural area (EECO17): yes or no.
        #[arg(long, value_name = "YES|NO")]
        rural: Option<String>,
    },
    /// Record a participant's leaving: the ESF+ leaving record (the situation within four
    /// weeks); the date is the leaving date.
    Leave {
        #[command(flatten)]
        common: Common,
        /// The situation on leaving: employed, education, job-searching, unemployed or
        /// inactive.
        #[arg(long)]
        status: String,
        /// Whether a qualification was gained (ESF+ EECR03): yes or no.
        #[arg(long, value_name = "YES|NO")]
        qualification_gained: String,
    },
    /// Record the ESF+ follow-up six months after leaving; the date is the date the
    /// situation refers to.
    FollowUp {
        #[command(flatten)]
        common: Common,
        /// The situation six months after leaving: employed, education, job-searching,
        /// unemployed or inactive.
        #[arg(long)]
        status: String,
        /// Whether an employed participant's situation improved (EECR06): yes or no;
        /// leave it out when not known.
        #[arg(long, value_name = "YES|NO")]
        improved: Option<String>,
    },
    /// Claim an outcome for a participant or a company.
    Claim {
        #[command(flatten)]
        common: Common,
        /// The outcome code.
        #[arg(long)]
        outcome: String,
        /// The company, for company outcomes.
        #[arg(long)]
        company: Option<String>,
        /// When it was achieved.
        #[arg(long)]
        achieved: chrono::NaiveDate,
        /// When the activity behind a sustainment clock started.
        #[arg(long)]
        activity_start: Option<chrono::NaiveDate>,
        /// BLAKE3 of the evidence document (64 hex digits).
        #[arg(long)]
        evidence: Option<String>,
    },
    /// Decide a claim: the ledger applies the contract's rules and records the outcome.
    Decide {
        #[command(flatten)]
        basic: Basic,
        /// The claim's seq.
        #[arg(long)]
        claim: u64,
        /// The verifier's judgement of the evidence: valid or invalid.
        #[arg(long)]
        evidence: String,
    },
    /// Record a retention check.
    Retention {
        #[command(flatten)]
        common: Common,
        /// employment, self-employment or education.
        #[arg(long)]
        activity: String,
        /// Hours a week.
        #[arg(long)]
        hours_per_week: Option<u16>,
        /// First day.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day.
        #[arg(long)]
        to: chrono::NaiveDate,
    },
    /// Record a month's self-sufficiency status.
    Status {
        #[command(flatten)]
        common: Common,
        /// The month, YYYY-MM.
        #[arg(long)]
        month: String,
        /// full, partial or none.
        #[arg(long)]
        status: String,
    },
    /// Record money moved under a commitment (investment, grant, facility draw, …).
    Disburse {
        #[command(flatten)]
        common: Common,
        /// Payer.
        #[arg(long)]
        from: String,
        /// Payee.
        #[arg(long)]
        to: String,
        /// Amount in the contract's currency.
        #[arg(long)]
        amount: String,
        /// working-capital, grant, conditional-grant, co-financing, facility-draw,
        /// repayment, outcome-payment or fee.
        #[arg(long)]
        purpose: String,
    },
    /// Record a delivery cost.
    Cost {
        #[command(flatten)]
        common: Common,
        /// Whose cost.
        #[arg(long)]
        party: String,
        /// Amount in the contract's currency.
        #[arg(long)]
        amount: String,
    },
    /// Record a payment.
    Pay {
        #[command(flatten)]
        common: Common,
        /// Payer.
        #[arg(long)]
        from: String,
        /// Payee.
        #[arg(long)]
        to: String,
        /// Amount in the contract's currency.
        #[arg(long)]
        amount: String,
        /// The settlement it pays.
        #[arg(long)]
        settlement_seq: Option<u64>,
    },
    /// Retract an earlier event (it stays in the log).
    Correct {
        #[command(flatten)]
        basic: Basic,
        /// The seq to retract.
        #[arg(long)]
        retracts_seq: u64,
        /// data-entry, duplicate, wrong-subject, wrong-date or dispute-upheld.
        #[arg(long)]
        reason: String,
    },
    /// Open, evidence or resolve a dispute.
    #[command(subcommand)]
    Dispute(DisputeCommand),
}

/// The dispute commands.
#[derive(Debug, Subcommand)]
pub(crate) enum DisputeCommand {
    /// Dispute an event.
    Open {
        #[command(flatten)]
        basic: Basic,
        /// The disputed seq.
        #[arg(long)]
        about_seq: u64,
        /// amount, outcome, evidence or date.
        #[arg(long)]
        reason: String,
    },
    /// Attach evidence (its BLAKE3 hash) to a dispute.
    Evidence {
        #[command(flatten)]
        basic: Basic,
        /// The dispute's seq.
        #[arg(long)]
        dispute_seq: u64,
        /// BLAKE3 of the document (64 hex digits).
        #[arg(long)]
        evidence: String,
    },
    /// Resolve a dispute.
    Resolve {
        #[command(flatten)]
        basic: Basic,
        /// The dispute's seq.
        #[arg(long)]
        dispute_seq: u64,
        /// upheld, dismissed or settled.
        #[arg(long)]
        resolution: String,
    },
}

impl Fact {
    /// The command's common arguments, its row kind and its own fields by row name.
    pub(crate) fn into_fields(
        self,
    ) -> (
        Common,
        &'static str,
        std::collections::BTreeMap<String, String>,
    ) {
        fn text(value: &impl ToString) -> String {
            value.to_string()
        }
        fn opt(value: &Option<impl ToString>) -> String {
            value.as_ref().map_or_else(String::new, ToString::to_string)
        }
        let (common, kind, pairs): (Common, &'static str, Vec<(&str, String)>) = match self {
            Fact::Enroll {
                common,
                gender,
                age_at_entry,
                entry_status,
                isced,
                home_party,
                disability,
                third_country_national,
                foreign_background,
                minority,
                homeless,
                rural,
            } => (
                common,
                "participant-enrolled",
                vec![
                    ("gender", opt(&gender)),
                    ("age_at_entry", opt(&age_at_entry)),
                    ("entry_status", opt(&entry_status)),
                    ("isced", opt(&isced)),
                    ("home_party", opt(&home_party)),
                    ("disability", opt(&disability)),
                    ("third_country_national", opt(&third_country_national)),
                    ("foreign_background", opt(&foreign_background)),
                    ("minority", opt(&minority)),
                    ("homeless", opt(&homeless)),
                    ("rural", opt(&rural)),
                ],
            ),
            Fact::Leave {
                common,
                status,
                qualification_gained,
            } => (
                common,
                "participant-left",
                vec![
                    ("status", status),
                    ("qualification_gained", qualification_gained),
                ],
            ),
            Fact::FollowUp {
                common,
                status,
                improved,
            } => (
                common,
                "participant-followed-up",
                vec![("status", status), ("improved", opt(&improved))],
            ),
            Fact::Claim {
                common,
                outcome,
                company,
                achieved,
                activity_start,
                evidence,
            } => (
                common,
                "outcome-claimed",
                vec![
                    ("outcome", outcome),
                    ("company", opt(&company)),
                    ("achieved", text(&achieved)),
                    ("activity_start", opt(&activity_start)),
                    ("evidence", opt(&evidence)),
                ],
            ),
            Fact::Decide {
                basic,
                claim,
                evidence,
            } => (
                basic.into(),
                "decision",
                vec![("claim", text(&claim)), ("evidence", evidence)],
            ),
            Fact::Retention {
                common,
                activity,
                hours_per_week,
                from,
                to,
            } => (
                common,
                "retention-recorded",
                vec![
                    ("activity", activity),
                    ("hours_per_week", opt(&hours_per_week)),
                    ("from", text(&from)),
                    ("to", text(&to)),
                ],
            ),
            Fact::Status {
                common,
                month,
                status,
            } => (
                common,
                "monthly-status-recorded",
                vec![("month", month), ("status", status)],
            ),
            Fact::Disburse {
                common,
                from,
                to,
                amount,
                purpose,
            } => (
                common,
                "funds-disbursed",
                vec![
                    ("from", from),
                    ("to", to),
                    ("amount", amount),
                    ("purpose", purpose),
                ],
            ),
            Fact::Cost {
                common,
                party,
                amount,
            } => (
                common,
                "cost-recorded",
                vec![("party", party), ("amount", amount)],
            ),
            Fact::Pay {
                common,
                from,
                to,
                amount,
                settlement_seq,
            } => (
                common,
                "payment-recorded",
                vec![
                    ("from", from),
                    ("to", to),
                    ("amount", amount),
                    ("settlement_seq", opt(&settlement_seq)),
                ],
            ),
            Fact::Correct {
                basic,
                retracts_seq,
                reason,
            } => (
                basic.into(),
                "correction",
                vec![("retracts_seq", text(&retracts_seq)), ("reason", reason)],
            ),
            Fact::Dispute(DisputeCommand::Open {
                basic,
                about_seq,
                reason,
            }) => (
                basic.into(),
                "dispute-opened",
                vec![("about_seq", text(&about_seq)), ("reason", reason)],
            ),
            Fact::Dispute(DisputeCommand::Evidence {
                basic,
                dispute_seq,
                evidence,
            }) => (
                basic.into(),
                "dispute-evidence-attached",
                vec![("dispute_seq", text(&dispute_seq)), ("evidence", evidence)],
            ),
            Fact::Dispute(DisputeCommand::Resolve {
                basic,
                dispute_seq,
                resolution,
            }) => (
                basic.into(),
                "dispute-resolved",
                vec![
                    ("dispute_seq", text(&dispute_seq)),
                    ("resolution", resolution),
                ],
            ),
        };
        let fields = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        (common, kind, fields)
    }
}

/// The three kinds of key (docs/format.md §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KeyKind {
    /// A party's event key, type 0x01.
    Event,
    /// A party's witness key, type 0x04 (cosignature/v1).
    Witness,
    /// The operator's log key, type 0x01, named after the origin.
    Log,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PartyCommand {
    /// Add a party to a registered contract (signed by a commissioner).
    Add {
        /// The party id.
        party: String,
        /// Its role.
        #[arg(long)]
        role: String,
        /// Its verifier key, as `pbr party keygen` printed it.
        #[arg(long, value_name = "VKEY")]
        vkey: String,
        #[command(flatten)]
        basic: Basic,
    },
    /// Generate a party's key pair: the private key goes to a new file (mode 0600, never
    /// inside a ledger), the verifier key is printed.
    Keygen {
        /// The key name (no whitespace, no '+'): the party id for an event key, the origin
        /// for a log key, any name for a witness key (e.g. aalborg-jobcenter-witness).
        name: String,
        /// Which kind of key: event (signs a party's records), witness (cosigns checkpoints)
        /// or log (the operator's, signs checkpoints). Never use one key for two kinds.
        #[arg(long, value_enum, default_value = "event")]
        kind: KeyKind,
        /// The private key file to create (default: NAME.key), whole or not at all; an
        /// existing file is never replaced.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own checks of the whole grammar (unique argument names and the like), which
    /// otherwise run only when a command is used, and in debug builds only.
    #[test]
    fn the_grammar_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
