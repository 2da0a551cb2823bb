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
    },
    /// Write the log up to the latest checkpoint as JSON Lines (docs/format.md §5).
    Export {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Print an inclusion or consistency proof against a stored checkpoint.
    Proof(ProofArgs),
    /// Sign, co-sign, show or check checkpoints.
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Manage parties' keys.
    #[command(subcommand)]
    Party(PartyCommand),
    /// Build a sample ledger with demo keys, verify it and show what to try next.
    Demo {
        /// Where to build it (default: pbr-demo in the system's temporary directory; an
        /// earlier demo ledger there is replaced).
        dir: Option<PathBuf>,
    },
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
}

#[derive(Debug, Subcommand)]
pub(crate) enum CheckpointCommand {
    /// Sign a new checkpoint of the whole log.
    Sign {
        /// The private key file of the signing party.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The checkpoint time in Unix seconds (default: now).
        #[arg(long)]
        time: Option<u64>,
    },
    /// Add a signature to a stored checkpoint, leaving its body unchanged.
    Cosign {
        /// The private key file of the co-signing party.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The size of the checkpoint to co-sign (default: the latest).
        #[arg(long)]
        size: Option<u64>,
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
        #[arg(long = "key", value_name = "VKEY", required = true)]
        keys: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PartyCommand {
    /// Generate a party's key pair: the private key goes to a new file (mode 0600, never
    /// inside a ledger), the verifier key is printed.
    Keygen {
        /// The key name (no whitespace, no '+'), e.g. aalborg-jobcenter.
        name: String,
        /// The private key file to create (default: NAME.key).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}
