//! The verdict of `pbr verify`, `pbr audit` and `pbr report audit` (`docs/cli.md`,
//! "Verdicts"): whether trust in a ledger is established under the keys an auditor gives, and
//! the first line of output that says so.
//!
//! A verdict rests on the latest stored checkpoint. Trust is established only when the
//! auditor gave verifier keys (`--key`), that checkpoint covers what the command checked (the
//! whole log, or every issued statement), and every contract's quorum signed it under those
//! keys. The keys stored in a ledger are no trust anchor (whoever can rewrite the ledger can
//! rewrite them), so without given keys trust is never established, whatever they say.
//!
//! Plain data: signers are `name+keyid` strings, so that a report can take a check without
//! seeing a type of the log. One rule and one wording, for every command that gives a verdict.

/// Where the keys that checked the checkpoint signatures came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// Given by the auditor (`--key`), obtained from the parties: a trust anchor.
    Given,
    /// The keys stored in the ledger: no trust anchor.
    Ledger,
}

/// What the checkpoint a verdict rests on must cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cover {
    /// Every record of a log that holds `records` (`pbr verify`, `pbr report audit`).
    Log {
        /// The number of records in the log.
        records: u64,
    },
    /// Every issued statement with the events before it: the records through the last
    /// `settlement-issued` event, at seq `last` (`None` when no statement was issued)
    /// (`pbr audit`).
    Statements {
        /// The seq of the last `settlement-issued` event.
        last: Option<u64>,
    },
}

impl Cover {
    /// The number of records a checkpoint must cover.
    pub fn records(self) -> u64 {
        match self {
            Cover::Log { records } => records,
            Cover::Statements { last } => last.map_or(0, |seq| seq.saturating_add(1)),
        }
    }

    /// What is covered, in words: `the whole log`, `every issued statement`.
    fn what(self) -> &'static str {
        match self {
            Cover::Log { .. } => "the whole log",
            Cover::Statements { .. } => "every issued statement",
        }
    }

    /// What a checkpoint of `size` fails to cover, in words; `None` when it covers it.
    fn shortfall(self, size: u64) -> Option<String> {
        if size >= self.records() {
            return None;
        }
        Some(match self {
            Cover::Log { records } => format!(
                "the latest checkpoint (size {size}) does not cover the whole log ({records} \
                 records)"
            ),
            Cover::Statements { last } => format!(
                "the latest checkpoint (size {size}) does not cover the statement issued at seq \
                 {}",
                last.unwrap_or_default()
            ),
        })
    }
}

/// A contract's checkpoint quorum: its log key's signature and enough of its witnesses'
/// cosignatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumSigners {
    /// The contract.
    pub contract: String,
    /// The log key the terms name, as `name+keyid`; `None` for terms that name none (a
    /// ledger migrated from format 1 before its terms are amended).
    pub log: Option<String>,
    /// The witness keys of the quorum's parties, each as `name+keyid`.
    pub signers: Vec<String>,
    /// How many of `signers` must cosign.
    pub threshold: usize,
}

impl QuorumSigners {
    /// The keys missing from `signed`: the log key if it did not sign, and, if fewer than
    /// `threshold` witnesses cosigned, those that did not.
    pub fn missing(&self, signed: &[String]) -> Vec<String> {
        let mut missing = Vec::new();
        if let Some(log) = &self.log
            && !signed.contains(log)
        {
            missing.push(log.clone());
        }
        let cosigned = self.signers.iter().filter(|s| signed.contains(s)).count();
        if cosigned < self.threshold {
            missing.extend(self.signers.iter().filter(|s| !signed.contains(s)).cloned());
        }
        missing
    }
}

/// A checkpoint and the keys whose signatures on it verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedBy {
    /// The number of records it covers.
    pub size: u64,
    /// The keys that signed it, as `name+keyid`.
    pub signers: Vec<String>,
}

/// Whether trust is established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Under the given keys, the latest checkpoint covers what it must and carries every
    /// contract's quorum.
    Established,
    /// Keys were given, and the latest checkpoint does not cover what it must or lacks a
    /// quorum signer under them (or there is no checkpoint).
    Failed,
    /// No keys were given, or the verification failed before the checkpoints could be judged.
    NotEstablished,
}

impl Trust {
    /// `established`, `failed` or `not established`: the JSON `trust` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Established => "established",
            Trust::Failed => "failed",
            Trust::NotEstablished => "not established",
        }
    }
}

/// What a verification that passed says about trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustCheck {
    /// The keys the checkpoint signatures were checked against.
    pub keys: Keys,
    /// The latest stored checkpoint, the one a verdict rests on; `None` when there is none.
    pub latest: Option<SignedBy>,
    /// What it must cover.
    pub cover: Cover,
    /// The quorum of every registered contract that names one.
    pub quorums: Vec<QuorumSigners>,
}

impl TrustCheck {
    /// The quorum signers (of every contract, each once) whose signature the latest
    /// checkpoint lacks under the keys: all of them when there is no checkpoint.
    pub fn missing(&self) -> Vec<String> {
        let signed: &[String] = self.latest.as_ref().map_or(&[], |c| &c.signers);
        let mut missing: Vec<String> = Vec::new();
        for signer in self.quorums.iter().flat_map(|q| q.missing(signed)) {
            if !missing.contains(&signer) {
                missing.push(signer);
            }
        }
        missing
    }

    /// Whether trust is established.
    pub fn trust(&self) -> Trust {
        if self.keys == Keys::Ledger {
            Trust::NotEstablished
        } else if self.failure().is_some() {
            Trust::Failed
        } else {
            Trust::Established
        }
    }

    /// Why trust failed under the given keys, one sentence; `None` when it is established,
    /// or when the keys are the ledger's own (then it is not established at all).
    pub fn failure(&self) -> Option<String> {
        if self.keys == Keys::Ledger {
            return None;
        }
        let missing = self.missing();
        let mut reasons = Vec::new();
        match &self.latest {
            None if missing.is_empty() => reasons.push("the ledger has no checkpoint".to_owned()),
            None => reasons.push(format!(
                "quorum not met, missing {}: the ledger has no checkpoint",
                missing.join(", ")
            )),
            Some(latest) => {
                let signed = if latest.signers.is_empty() {
                    format!(
                        "the latest checkpoint (size {}) carries no signature of the given keys",
                        latest.size
                    )
                } else {
                    format!(
                        "the latest checkpoint (size {}) is signed by {} under the given keys",
                        latest.size,
                        latest.signers.join(", ")
                    )
                };
                if !missing.is_empty() {
                    reasons.push(format!(
                        "quorum not met, missing {}: {signed}",
                        missing.join(", ")
                    ));
                } else if latest.signers.is_empty() {
                    reasons.push(signed);
                }
                reasons.extend(self.cover.shortfall(latest.size));
            }
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// What established trust, one sentence; `None` unless it is established.
    pub fn established(&self) -> Option<String> {
        if self.trust() != Trust::Established {
            return None;
        }
        let latest = self.latest.as_ref()?;
        let head = format!(
            "the latest checkpoint (size {}) covers {}",
            latest.size,
            self.cover.what()
        );
        let contracts: Vec<&str> = self.quorums.iter().map(|q| q.contract.as_str()).collect();
        Some(match contracts.as_slice() {
            [] => format!(
                "{head} and is signed by {} under the given keys (no contract names a quorum)",
                latest.signers.join(", ")
            ),
            [one] => format!("{head} and carries the quorum of {one} under the given keys"),
            many => format!(
                "{head} and carries the quorums of {} under the given keys",
                many.join(", ")
            ),
        })
    }
}

/// The outcome of a command's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything the command checked holds, and trust is established under given keys.
    Passed,
    /// Something failed: a check of the command, or trust under the given keys (exit 5).
    Failed,
    /// Nothing failed, but no keys were given, so trust is not established (exit 0).
    TrustNotEstablished,
}

/// A command's verdict: its outcome and the first line of its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Passed, failed, or trust not established.
    pub outcome: Outcome,
    /// The first line: `passed: …`, `FAILED: …` or `trust not established: …`.
    pub line: String,
    /// Whether trust is established.
    pub trust: Trust,
}

/// What the verdict line says when no key was given.
pub const NO_KEY: &str = "trust not established: no --key given, and the keys stored in the \
                          ledger are not a trust anchor";

impl Verdict {
    /// The verdict of a command whose own checks found `failures` (one sentence each, empty
    /// when they hold) and, when they hold, established `facts`; `trust` is the check of
    /// the verification, `None` when the verification failed (then it is one of
    /// `failures`), and `keys` the keys it was asked to use.
    ///
    /// A trust failure comes first, so that the line reads `FAILED: quorum not met, missing
    /// …`; without given keys the line always says that trust was not established.
    pub fn of(keys: Keys, trust: Option<&TrustCheck>, failures: &[String], facts: &str) -> Verdict {
        let trust_failure = trust.and_then(TrustCheck::failure);
        let state = trust.map_or(Trust::NotEstablished, TrustCheck::trust);
        let mut all: Vec<String> = trust_failure.into_iter().collect();
        all.extend(failures.iter().cloned());
        if !all.is_empty() {
            if keys == Keys::Ledger {
                all.push("trust not established: no --key given".to_owned());
            }
            return Verdict {
                outcome: Outcome::Failed,
                line: format!("FAILED: {}", all.join("; ")),
                trust: state,
            };
        }
        match trust.and_then(TrustCheck::established) {
            Some(established) => Verdict {
                outcome: Outcome::Passed,
                line: format!("passed: {facts}; {established}"),
                trust: state,
            },
            None => Verdict {
                outcome: Outcome::TrustNotEstablished,
                line: match keys {
                    Keys::Ledger => format!("{NO_KEY}; {facts}"),
                    Keys::Given => {
                        format!("trust not established: the checkpoints were not judged; {facts}")
                    }
                },
                trust: Trust::NotEstablished,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOBCENTRE: &str = "aalborg-jobcenter+29d3dfbd";
    const PROVIDER: &str = "fokus-provider+2fe9f922";

    fn check(keys: Keys, latest: Option<(u64, &[&str])>, cover: Cover) -> TrustCheck {
        TrustCheck {
            keys,
            latest: latest.map(|(size, signers)| SignedBy {
                size,
                signers: signers.iter().map(|s| (*s).to_owned()).collect(),
            }),
            cover,
            quorums: vec![QuorumSigners {
                contract: "impact60-demo".into(),
                log: None,
                signers: vec![JOBCENTRE.into(), PROVIDER.into()],
                threshold: 2,
            }],
        }
    }

    const LOG: Cover = Cover::Log { records: 618 };

    #[test]
    fn the_quorum_under_given_keys_passes() {
        let check = check(Keys::Given, Some((618, &[JOBCENTRE, PROVIDER])), LOG);
        assert_eq!(check.trust(), Trust::Established);
        assert!(check.missing().is_empty());
        let verdict = Verdict::of(Keys::Given, Some(&check), &[], "618 records verified");
        assert_eq!(verdict.outcome, Outcome::Passed);
        assert_eq!(
            verdict.line,
            "passed: 618 records verified; the latest checkpoint (size 618) covers the whole \
             log and carries the quorum of impact60-demo under the given keys"
        );
    }

    #[test]
    fn a_missing_signer_fails_and_is_named_first() {
        let check = check(Keys::Given, Some((618, &[JOBCENTRE])), LOG);
        assert_eq!(check.trust(), Trust::Failed);
        assert_eq!(check.missing(), [PROVIDER]);
        let failures = ["1 of 8 issued statements do not match".to_owned()];
        let verdict = Verdict::of(Keys::Given, Some(&check), &failures, "unused");
        assert_eq!(verdict.outcome, Outcome::Failed);
        assert_eq!(
            verdict.line,
            "FAILED: quorum not met, missing fokus-provider+2fe9f922: the latest checkpoint \
             (size 618) is signed by aalborg-jobcenter+29d3dfbd under the given keys; 1 of 8 \
             issued statements do not match"
        );
    }

    #[test]
    fn no_signature_of_the_given_keys_misses_every_quorum_signer() {
        let check = check(Keys::Given, Some((618, &[])), LOG);
        assert_eq!(check.missing(), [JOBCENTRE, PROVIDER]);
        assert_eq!(
            check.failure().as_deref(),
            Some(
                "quorum not met, missing aalborg-jobcenter+29d3dfbd, fokus-provider+2fe9f922: the \
                 latest checkpoint (size 618) carries no signature of the given keys"
            )
        );
        let mut none = check.clone();
        none.quorums.clear();
        assert_eq!(
            none.trust(),
            Trust::Failed,
            "a checkpoint nobody trusted signed"
        );
    }

    #[test]
    fn the_latest_checkpoint_must_cover_what_was_checked() {
        let short = check(Keys::Given, Some((40, &[JOBCENTRE, PROVIDER])), LOG);
        assert_eq!(
            short.failure().as_deref(),
            Some("the latest checkpoint (size 40) does not cover the whole log (618 records)")
        );
        let statements = Cover::Statements { last: Some(39) };
        let covered = check(Keys::Given, Some((40, &[JOBCENTRE, PROVIDER])), statements);
        assert_eq!(covered.trust(), Trust::Established);
        let statements = Cover::Statements { last: Some(40) };
        let late = check(Keys::Given, Some((40, &[JOBCENTRE, PROVIDER])), statements);
        assert_eq!(
            late.failure().as_deref(),
            Some("the latest checkpoint (size 40) does not cover the statement issued at seq 40")
        );
        let none = check(Keys::Given, None, Cover::Statements { last: None });
        assert_eq!(
            none.failure().as_deref(),
            Some(
                "quorum not met, missing aalborg-jobcenter+29d3dfbd, fokus-provider+2fe9f922: the \
                 ledger has no checkpoint"
            )
        );
    }

    #[test]
    fn without_given_keys_trust_is_never_established() {
        // Even when the ledger's own keys carry the quorum.
        let check = check(Keys::Ledger, Some((618, &[JOBCENTRE, PROVIDER])), LOG);
        assert_eq!(check.trust(), Trust::NotEstablished);
        assert_eq!(check.failure(), None);
        let verdict = Verdict::of(Keys::Ledger, Some(&check), &[], "618 records verified");
        assert_eq!(verdict.outcome, Outcome::TrustNotEstablished);
        assert!(
            verdict
                .line
                .starts_with("trust not established: no --key given")
        );
        assert!(verdict.line.ends_with("; 618 records verified"));
        let failed = Verdict::of(Keys::Ledger, None, &["verification failed".into()], "");
        assert_eq!(
            failed.line,
            "FAILED: verification failed; trust not established: no --key given"
        );
        assert_eq!(failed.trust, Trust::NotEstablished);
    }

    #[test]
    fn a_failed_verification_establishes_no_trust() {
        let verdict = Verdict::of(Keys::Given, None, &["verification failed".into()], "");
        assert_eq!(verdict.outcome, Outcome::Failed);
        assert_eq!(verdict.trust, Trust::NotEstablished);
        assert_eq!(verdict.line, "FAILED: verification failed");
    }
}
