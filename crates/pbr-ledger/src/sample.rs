//! A deterministic sample ledger: the same bytes on every machine, every run.
//!
//! It backs `pbr demo` and the golden vectors in `tests/vectors/` (a sample export, and
//! proofs exactly as `pbr proof --json` prints them). Its keys come from fixed seeds, so
//! they are *demo keys*: anyone can recompute them, and they must never sign a real ledger.

use pbr_log::{Record, SignedCheckpoint, SignerKey};

use crate::{Ledger, LedgerError};

/// The ledger id of the sample ledger.
pub const SAMPLE_ORIGIN: &str = "demo.pbr.example/impact60";
/// The checkpoint time of the sample ledger (2025-01-01T00:00:00Z), fixed for determinism.
pub const SAMPLE_TIME: u64 = 1_735_689_600;
/// The number of records of the sample ledger.
pub const SAMPLE_LEN: u64 = 120;

/// A demo key derived from its name; never use one outside a demo or a test.
pub fn demo_key(name: &str) -> SignerKey {
    let seed = blake3::derive_key("pbr demo key v1", name.as_bytes());
    // Invariant: the demo names below are valid key names.
    SignerKey::from_seed(name, seed).expect("demo key names are valid")
}

/// The demo parties, in signing order.
pub fn demo_keys() -> [SignerKey; 2] {
    [demo_key("aalborg-jobcenter"), demo_key("fokus-provider")]
}

/// The size of the sample's first checkpoint, which only the first party signs: the
/// witness a partner keeps, to ask later for a consistency proof.
pub const SAMPLE_FIRST_CHECKPOINT: u64 = 40;

/// Builds the sample log in a new ledger: `len` opaque events, alternately signed by the
/// two demo parties and appended in batches of 10; a checkpoint at
/// [`SAMPLE_FIRST_CHECKPOINT`] signed by the first party; and a checkpoint of the whole log
/// signed by the first party and co-signed by the second. The event bytes are opaque placeholders until the
/// event vocabulary exists (see `docs/format.md` §2).
pub fn build(ledger: &mut Ledger, len: u64) -> Result<SignedCheckpoint, LedgerError> {
    let keys = demo_keys();
    for key in &keys {
        ledger.log_mut().add_verifier_key(&key.verifier_key())?;
    }
    let records: Vec<Record> = (0..len)
        .map(|n| {
            let key = &keys[(n % 2) as usize];
            let event = format!("sample event {n} by {}", key.name()).into_bytes();
            Record::sign(event, key.signing_key()).map_err(|source| {
                LedgerError::Log(pbr_log::LogError::Rejected {
                    index: n as usize,
                    source,
                })
            })
        })
        .collect::<Result<_, _>>()?;
    for batch in records.chunks(10) {
        ledger.log_mut().append(batch)?;
        if ledger.log().len() == SAMPLE_FIRST_CHECKPOINT {
            ledger.sign_checkpoint(&keys[0], SAMPLE_TIME - 86_400)?;
        }
    }
    let mut note = ledger.sign_checkpoint(&keys[0], SAMPLE_TIME)?;
    note = ledger.cosign_checkpoint(&keys[1], Some(note.checkpoint.size))?;
    Ok(note)
}
