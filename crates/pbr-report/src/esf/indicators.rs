//! The ESF+ common indicators as reference data: one table, [`INDICATORS`], holding every
//! code, its Annex I text and the rule that computes it from the micro-records.
//!
//! The texts and their order follow `domain.md` §3.2 (Regulation (EU) 2021/1057, Annex I).
//! The code numbers assume that SFC2021 numbers the indicators in Annex order, which
//! `domain.md` could confirm only for EECR01 and EECR04: check them against the SFC2021
//! indicator list before filing a report, and correct them here, in this table only.

use pbr_core::event::{EntryStatus, ResultStatus};

/// When an indicator is measured, which decides the record and date it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measured {
    /// At entry: the enrolment's attributes; counted in the period holding the entry date.
    Entry,
    /// On leaving (the situation within four weeks): the leaving record; counted in the
    /// period holding the leaving date.
    Leaving,
    /// Six months after leaving: the follow-up record; counted in the period holding the
    /// follow-up date.
    SixMonths,
    /// Per supported entity, not per participant.
    Entity,
}

/// A yes/no attribute recorded at entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// Participant with disabilities.
    Disability,
    /// Third-country national.
    ThirdCountryNational,
    /// Foreign background.
    ForeignBackground,
    /// Minority, including marginalised communities such as Roma.
    Minority,
    /// Homeless or affected by housing exclusion.
    Homeless,
    /// From a rural area.
    Rural,
}

/// An entity an entity indicator counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    /// A public administration or public service at national, regional or local level.
    PublicAdministration,
    /// A micro, small or medium-sized enterprise (including cooperative and social ones).
    Sme,
}

/// How an indicator is computed from a micro-record: whether the participant is in its
/// category, or unknown when an attribute it reads is not recorded
/// (`MicroRecord::member_of`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The entry status is one of these. Every participant has at most one entry status,
    /// so EECO01 (which includes EECO02), EECO03 and EECO04, with those whose status is
    /// unknown, partition the participants.
    EntryStatus(&'static [EntryStatus]),
    /// The age at entry in whole years is within `min..=max`.
    Age {
        /// The youngest age counted.
        min: u8,
        /// The oldest age counted.
        max: u8,
    },
    /// The ISCED 2011 level at entry is within `min..=max`.
    Isced {
        /// The lowest level counted.
        min: u8,
        /// The highest level counted.
        max: u8,
    },
    /// Every participant, complete or not: the grand total; never unknown.
    Participants,
    /// The flag is recorded as yes; unknown when it is not recorded. Not collected when no
    /// record in scope carries the flag at all.
    Flag(Flag),
    /// The situation on leaving is this one.
    LeavingStatus(ResultStatus),
    /// A qualification was gained by leaving.
    Qualification,
    /// The situation six months after leaving is this one.
    FollowUpStatus(ResultStatus),
    /// Employed at entry, and the follow-up records an improved labour market situation;
    /// unknown when neither is known to be otherwise and one is not recorded. Not collected
    /// when no follow-up in scope records whether the situation improved.
    Improved,
    /// Entities supported: no event records an entity's kind or size, so never collected.
    Entity(Entity),
}

impl Rule {
    /// When the indicator is measured.
    pub fn measured(self) -> Measured {
        match self {
            Rule::EntryStatus(_)
            | Rule::Age { .. }
            | Rule::Isced { .. }
            | Rule::Participants
            | Rule::Flag(_) => Measured::Entry,
            Rule::LeavingStatus(_) | Rule::Qualification => Measured::Leaving,
            Rule::FollowUpStatus(_) | Rule::Improved => Measured::SixMonths,
            Rule::Entity(_) => Measured::Entity,
        }
    }
}

/// One common indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Indicator {
    /// The SFC2021-style code, e.g. `EECO01`.
    pub code: &'static str,
    /// The indicator's text in Annex I.
    pub name: &'static str,
    /// Special-category personal data (`(*2)` in Annex I), which need not be collected
    /// from everyone.
    pub special_category: bool,
    /// How it is computed.
    pub rule: Rule,
}

const fn ind(code: &'static str, name: &'static str, rule: Rule) -> Indicator {
    Indicator {
        code,
        name,
        special_category: false,
        rule,
    }
}

const fn special(code: &'static str, name: &'static str, rule: Rule) -> Indicator {
    Indicator {
        code,
        name,
        special_category: true,
        rule,
    }
}

use EntryStatus as E;
use ResultStatus as R;

/// The common output (EECO) and result (EECR) indicators, in report order.
pub const INDICATORS: &[Indicator] = &[
    ind(
        "EECO01",
        "unemployed, including long-term unemployed",
        Rule::EntryStatus(&[E::Unemployed, E::LongTermUnemployed]),
    ),
    ind(
        "EECO02",
        "long-term unemployed",
        Rule::EntryStatus(&[E::LongTermUnemployed]),
    ),
    ind("EECO03", "inactive", Rule::EntryStatus(&[E::Inactive])),
    ind(
        "EECO04",
        "employed, including self-employed",
        Rule::EntryStatus(&[E::Employed]),
    ),
    ind(
        "EECO05",
        "number of children below 18 years of age",
        Rule::Age { min: 0, max: 17 },
    ),
    ind(
        "EECO06",
        "young people between 18 and 29 years of age",
        Rule::Age { min: 18, max: 29 },
    ),
    ind(
        "EECO07",
        "number of participants of 55 years of age and above",
        Rule::Age {
            min: 55,
            max: u8::MAX,
        },
    ),
    ind(
        "EECO08",
        "with lower secondary education or less (ISCED 0-2)",
        Rule::Isced { min: 0, max: 2 },
    ),
    ind(
        "EECO09",
        "with upper secondary (ISCED 3) or post-secondary education (ISCED 4)",
        Rule::Isced { min: 3, max: 4 },
    ),
    ind(
        "EECO10",
        "with tertiary education (ISCED 5 to 8)",
        Rule::Isced { min: 5, max: 8 },
    ),
    ind("EECO11", "total number of participants", Rule::Participants),
    special(
        "EECO12",
        "participants with disabilities",
        Rule::Flag(Flag::Disability),
    ),
    ind(
        "EECO13",
        "third-country nationals",
        Rule::Flag(Flag::ThirdCountryNational),
    ),
    ind(
        "EECO14",
        "participants with a foreign background",
        Rule::Flag(Flag::ForeignBackground),
    ),
    special(
        "EECO15",
        "minorities (including marginalised communities such as Roma)",
        Rule::Flag(Flag::Minority),
    ),
    ind(
        "EECO16",
        "homeless or affected by housing exclusion",
        Rule::Flag(Flag::Homeless),
    ),
    ind(
        "EECO17",
        "participants from rural areas",
        Rule::Flag(Flag::Rural),
    ),
    ind(
        "EECO18",
        "number of public administrations or public services at national, regional or local \
         level supported",
        Rule::Entity(Entity::PublicAdministration),
    ),
    ind(
        "EECO19",
        "number of micro, small and medium-sized enterprises (including cooperative and social \
         enterprises) supported",
        Rule::Entity(Entity::Sme),
    ),
    ind(
        "EECR01",
        "participants engaged in job searching upon leaving",
        Rule::LeavingStatus(R::JobSearching),
    ),
    ind(
        "EECR02",
        "participants in education or training upon leaving",
        Rule::LeavingStatus(R::Education),
    ),
    ind(
        "EECR03",
        "participants gaining a qualification upon leaving",
        Rule::Qualification,
    ),
    ind(
        "EECR04",
        "participants in employment, including self-employment, upon leaving",
        Rule::LeavingStatus(R::Employed),
    ),
    ind(
        "EECR05",
        "participants in employment, including self-employment, six months after leaving",
        Rule::FollowUpStatus(R::Employed),
    ),
    ind(
        "EECR06",
        "participants with an improved labour market situation six months after leaving",
        Rule::Improved,
    ),
];

/// The indicator with this code.
pub fn indicator(code: &str) -> Option<&'static Indicator> {
    INDICATORS.iter().find(|i| i.code == code)
}
