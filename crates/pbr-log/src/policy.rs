//! C2SP `tlog-policy`: which log keys, which witnesses, and what quorum of them make a
//! checkpoint count (DESIGN §3 "Readings settled": the trust input of a verifier).
//!
//! `pbr contract policy` writes one from a contract's terms; verifiers read one. The text is
//! line based: `log <vkey> [<url>]`, `witness <name> <vkey> [<url>]`,
//! `group <name> all|any|<k> <name>...`, exactly one `quorum <name>|none`; `#` comments and
//! blank lines are ignored. A group names only witnesses and groups defined above it.

use crate::note::{NoteError, SignedCheckpoint, VerifierKey};

/// A malformed policy.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("policy line {line}: {reason}")]
pub struct PolicyError {
    /// The 1-based line (0 when the whole file is at fault).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

/// A parsed trust policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<VerifierKey>,
    witnesses: Vec<(String, VerifierKey)>,
    groups: Vec<Group>,
    quorum: Option<Member>,
}

/// What a policy says of one checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyCheck {
    /// The policy's witnesses whose cosignature verifies, by policy name.
    pub cosigned_by: Vec<String>,
    /// Whether the quorum rule holds.
    pub quorum_met: bool,
    /// Witnesses (by policy name) whose cosignature would count and is absent.
    pub missing: Vec<String>,
}

impl Policy {
    /// A policy of one log and `witnesses` (policy name, key), all of which must cosign
    /// when `threshold` is `None`, else at least `threshold` of them. No witnesses means
    /// `quorum none`.
    pub fn new(
        log: VerifierKey,
        witnesses: Vec<(String, VerifierKey)>,
        threshold: Option<usize>,
    ) -> Policy {
        let quorum = match witnesses.len() {
            0 => None,
            1 => Some(Member::Witness(0)),
            _ => Some(Member::Group(0)),
        };
        let groups = match quorum {
            Some(Member::Group(_)) => vec![Group {
                name: "quorum".into(),
                threshold: threshold.unwrap_or(witnesses.len()),
                members: (0..witnesses.len()).map(Member::Witness).collect(),
            }],
            _ => Vec::new(),
        };
        Policy {
            logs: vec![log],
            witnesses,
            groups,
            quorum,
        }
    }

    /// The log keys.
    pub fn logs(&self) -> &[VerifierKey] {
        &self.logs
    }

    /// The witnesses, by policy name.
    pub fn witnesses(&self) -> &[(String, VerifierKey)] {
        &self.witnesses
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut policy = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut quorum_seen = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let fail = |reason: String| PolicyError { line, reason };
            let words: Vec<&str> = raw.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            if words.is_empty() || words[0].starts_with('#') {
                continue;
            }
            let vkey = |text: &str| VerifierKey::parse(text).map_err(|e| fail(e.0));
            match words.as_slice() {
                ["log", key] | ["log", key, _] => {
                    let key = vkey(key)?;
                    if key.is_witness() {
                        return Err(fail("a log key has type 0x01, not 0x04".into()));
                    }
                    policy.check_new_key(&key).map_err(fail)?;
                    policy.logs.push(key);
                }
                ["witness", name, key] | ["witness", name, key, _] => {
                    let key = vkey(key)?;
                    if !key.is_witness() {
                        return Err(fail("a witness key has type 0x04 (cosignature/v1)".into()));
                    }
                    policy.check_new_name(name).map_err(fail)?;
                    policy.check_new_key(&key).map_err(fail)?;
                    policy.witnesses.push(((*name).to_owned(), key));
                }
                ["group", name, threshold, members @ ..] if !members.is_empty() => {
                    policy.check_new_name(name).map_err(fail)?;
                    let members = members
                        .iter()
                        .map(|m| {
                            policy
                                .member(m)
                                .ok_or_else(|| fail(format!("{m} is not defined above")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let threshold = match *threshold {
                        "all" => members.len(),
                        "any" => 1,
                        k => k
                            .parse::<usize>()
                            .ok()
                            .filter(|k| (1..=members.len()).contains(k))
                            .ok_or_else(|| {
                                fail(format!(
                                    "threshold {k} is not all, any or 1 … {}",
                                    members.len()
                                ))
                            })?,
                    };
                    policy.groups.push(Group {
                        name: (*name).to_owned(),
                        threshold,
                        members,
                    });
                }
                ["quorum", name] => {
                    if quorum_seen {
                        return Err(fail("a second quorum line".into()));
                    }
                    quorum_seen = true;
                    policy.quorum = match *name {
                        "none" => None,
                        name => Some(
                            policy
                                .member(name)
                                .ok_or_else(|| fail(format!("{name} is not defined above")))?,
                        ),
                    };
                }
                _ => return Err(fail(format!("not a policy line: {raw:?}"))),
            }
        }
        if !quorum_seen {
            return Err(PolicyError {
                line: 0,
                reason: "no quorum line".into(),
            });
        }
        Ok(policy)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" || self.member(name).is_some() {
            return Err(format!("the name {name} is already taken"));
        }
        Ok(())
    }

    fn check_new_key(&self, key: &VerifierKey) -> Result<(), String> {
        let taken = self
            .logs
            .iter()
            .chain(self.witnesses.iter().map(|(_, k)| k))
            .any(|k| k.public_key == key.public_key);
        if taken {
            return Err(format!("the public key of {} is listed twice", key.name));
        }
        Ok(())
    }

    fn member(&self, name: &str) -> Option<Member> {
        if let Some(i) = self.witnesses.iter().position(|(n, _)| n == name) {
            return Some(Member::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(Member::Group)
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for log in &self.logs {
            text.push_str(&format!("log {log}\n"));
        }
        for (name, key) in &self.witnesses {
            text.push_str(&format!("witness {name} {key}\n"));
        }
        for group in &self.groups {
            let threshold = if group.threshold == group.members.len() {
                "all".to_owned()
            } else if group.threshold == 1 {
                "any".to_owned()
            } else {
                group.threshold.to_string()
            };
            let members: Vec<&str> = group.members.iter().map(|m| self.name_of(m)).collect();
            text.push_str(&format!(
                "group {} {threshold} {}\n",
                group.name,
                members.join(" ")
            ));
        }
        match &self.quorum {
            None => text.push_str("quorum none\n"),
            Some(member) => text.push_str(&format!("quorum {}\n", self.name_of(member))),
        }
        text
    }

    fn name_of(&self, member: &Member) -> &str {
        match member {
            Member::Witness(i) => &self.witnesses[*i].0,
            Member::Group(i) => &self.groups[*i].name,
        }
    }

    /// Checks a checkpoint: signed by one of the policy's logs (named after its origin),
    /// and which witnesses cosigned it. A failing line from a known key is an error.
    pub fn check(&self, note: &SignedCheckpoint) -> Result<PolicyCheck, NoteError> {
        let logs: Vec<VerifierKey> = self
            .logs
            .iter()
            .filter(|k| k.name == note.checkpoint.origin)
            .cloned()
            .collect();
        if note.signers(&logs)?.is_empty() {
            return Err(NoteError(format!(
                "no signature from a trusted log key of {}",
                note.checkpoint.origin
            )));
        }
        let keys: Vec<VerifierKey> = self.witnesses.iter().map(|(_, k)| k.clone()).collect();
        let signed = note.signers(&keys)?;
        let cosigned: Vec<bool> = self
            .witnesses
            .iter()
            .map(|(_, k)| signed.contains(k))
            .collect();
        let quorum_met = self
            .quorum
            .as_ref()
            .is_none_or(|member| self.holds(member, &cosigned));
        let mut missing = Vec::new();
        if let Some(member) = &self.quorum {
            self.collect_missing(member, &cosigned, &mut missing);
        }
        Ok(PolicyCheck {
            cosigned_by: self
                .witnesses
                .iter()
                .zip(&cosigned)
                .filter(|(_, c)| **c)
                .map(|((n, _), _)| n.clone())
                .collect(),
            quorum_met,
            missing,
        })
    }

    fn holds(&self, member: &Member, cosigned: &[bool]) -> bool {
        match member {
            Member::Witness(i) => cosigned[*i],
            Member::Group(i) => {
                let group = &self.groups[*i];
                group
                    .members
                    .iter()
                    .filter(|m| self.holds(m, cosigned))
                    .count()
                    >= group.threshold
            }
        }
    }

    fn collect_missing(&self, member: &Member, cosigned: &[bool], out: &mut Vec<String>) {
        match member {
            Member::Witness(i) => {
                if !cosigned[*i] && !out.contains(&self.witnesses[*i].0) {
                    out.push(self.witnesses[*i].0.clone());
                }
            }
            Member::Group(i) => {
                if !self.holds(member, cosigned) {
                    for m in &self.groups[*i].members {
                        self.collect_missing(m, cosigned, out);
                    }
                }
            }
        }
    }
}
