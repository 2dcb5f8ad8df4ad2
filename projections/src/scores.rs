//! 双评价 scores per subject (member, work unit, party organisation) and period, with every
//! evaluation and complaint rating behind them.
//!
//! - `org_score`: mean of the live (not retracted) organisation evaluations, each at its
//!   current (last amended) score.
//! - `resident_score`: mean over the live resident evaluations and the complaint ratings the
//!   subject earned in the period, a rating mapped to `(satisfaction - 1) * 25`. A rating
//!   belongs to whoever accepted the round it rates (the assignee when `ComplaintAccepted`
//!   was recorded) and to every period (year, half, quarter) containing that acceptance's
//!   `occurred_on`. A rating stays counted when the complaint is later reopened: it rated a
//!   resolution that did happen.
//! - `combined`: the mean of the two when both exist, else the one that exists.
//! - `grade` from `combined`: 优秀 ≥ 90, 合格 ≥ 70, 基本合格 ≥ 60, 不合格 below.

use govrec_core::event::{Evaluator, PartyRef};
use serde::Serialize;
use uuid::Uuid;

use crate::answer::{AreaFilter, AsOf, ReadScope, StampJson};
use crate::error::ProjectionError;
use crate::model::{Entity, EvaluationAction, Index, Models, ScoreSheet};

/// What kind of subject a score is about (`subject_kind` of `api.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Member,
    WorkUnit,
    Org,
}

impl SubjectKind {
    pub fn of(party: PartyRef) -> SubjectKind {
        match party {
            PartyRef::MemberId(_) => SubjectKind::Member,
            PartyRef::WorkUnitId(_) => SubjectKind::WorkUnit,
            PartyRef::OrgId(_) => SubjectKind::Org,
        }
    }

    /// Parses `member`, `work_unit` or `org`.
    pub fn parse(text: &str) -> Option<SubjectKind> {
        match text {
            "member" => Some(SubjectKind::Member),
            "work_unit" => Some(SubjectKind::WorkUnit),
            "org" => Some(SubjectKind::Org),
            _ => None,
        }
    }
}

/// The grade of a combined score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 优秀, combined ≥ 90.
    Excellent,
    /// 合格, combined ≥ 70.
    Qualified,
    /// 基本合格, combined ≥ 60.
    BasicallyQualified,
    /// 不合格, combined < 60.
    Unqualified,
}

impl Grade {
    pub fn of(combined: f64) -> Grade {
        if combined >= 90.0 {
            Grade::Excellent
        } else if combined >= 70.0 {
            Grade::Qualified
        } else if combined >= 60.0 {
            Grade::BasicallyQualified
        } else {
            Grade::Unqualified
        }
    }

    /// The grade's Chinese name, as county offices write it.
    pub fn label(self) -> &'static str {
        match self {
            Grade::Excellent => "优秀",
            Grade::Qualified => "合格",
            Grade::BasicallyQualified => "基本合格",
            Grade::Unqualified => "不合格",
        }
    }
}

/// One row of `GET /v1/scores`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRow {
    pub subject_kind: SubjectKind,
    pub subject_id: Uuid,
    /// Null when the member's name was redacted.
    pub name: Option<String>,
    pub period: String,
    pub org_score: Option<f64>,
    pub resident_score: Option<f64>,
    pub combined: Option<f64>,
    pub grade: Option<Grade>,
    /// 优秀 / 合格 / 基本合格 / 不合格, null with `grade`.
    pub grade_label: Option<&'static str>,
    /// Live organisation evaluations.
    pub org_count: u64,
    /// Live resident evaluations plus complaint ratings.
    pub resident_count: u64,
    /// Of `resident_count`, the complaint ratings.
    pub complaint_rating_count: u64,
    /// Evaluations of the period that were retracted (not counted above).
    pub retracted_count: u64,
}

/// `GET /v1/scores`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoresAnswer {
    pub as_of: AsOf,
    pub scores: Vec<ScoreRow>,
}

/// `GET /v1/scores/{subject_id}`: one score and everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreDetail {
    pub as_of: AsOf,
    #[serde(flatten)]
    pub score: ScoreRow,
    pub evaluations: Vec<EvaluationJson>,
    pub complaint_ratings: Vec<ComplaintRatingJson>,
}

/// An evaluation with its whole history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationJson {
    pub evaluation_id: Uuid,
    pub evaluator: Evaluator,
    pub evaluator_ref: Uuid,
    pub period: String,
    /// The current score (the last amendment's), counted unless retracted.
    pub score: u32,
    pub retracted: bool,
    pub history: Vec<EvaluationStepJson>,
}

/// One record of an evaluation's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationStepJson {
    pub action: EvaluationAction,
    pub score: Option<u32>,
    pub reason: Option<String>,
    pub actor: String,
    pub seq: u64,
    pub recorded_at: String,
    pub occurred_on: String,
}

/// A complaint rating counted in the resident score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplaintRatingJson {
    pub complaint_id: Uuid,
    pub satisfaction: u8,
    /// `(satisfaction - 1) * 25`.
    pub mapped_score: u32,
    pub accepted_on: String,
    pub actor: String,
    pub rated: StampJson,
}

impl Models {
    /// Every subject with an evaluation or a complaint rating in `period`, in subject order
    /// (members, work units, organisations; by id), filtered by area, scope and kind.
    ///
    /// A member belongs to its home compound; a work unit to its county and the communities
    /// it reports to; an organisation to the areas it covers (a work-unit organisation to its
    /// work unit's county).
    pub fn scores(
        &self,
        period: &str,
        area: Option<Uuid>,
        subject_kind: Option<SubjectKind>,
        scope: &ReadScope,
    ) -> Result<ScoresAnswer, ProjectionError> {
        check_period(period)?;
        let filter = self.area_filter(area, scope)?;
        let mut scores = Vec::new();
        if let Some(&period_index) = self.lookup.periods.get(period) {
            let sheets = self
                .score_sheets
                .range((period_index, PartyRef::MemberId(Uuid::nil()))..)
                .take_while(|((sheet_period, _), _)| *sheet_period == period_index);
            for ((_, subject), sheet) in sheets {
                let kind_matches = subject_kind.is_none_or(|kind| kind == SubjectKind::of(*subject));
                if kind_matches && self.subject_in(*subject, &filter) {
                    scores.push(self.score_row(*subject, period, sheet));
                }
            }
        }
        Ok(ScoresAnswer {
            as_of: AsOf::of(self.watermark),
            scores,
        })
    }

    /// One subject's score in `period` with every evaluation (and its history) and complaint
    /// rating behind it. A known subject with nothing in the period gets null scores.
    pub fn score(&self, subject_id: Uuid, period: &str) -> Result<ScoreDetail, ProjectionError> {
        check_period(period)?;
        let subject = match self.entity(subject_id) {
            Some(Entity::Member(_)) => PartyRef::MemberId(subject_id),
            Some(Entity::WorkUnit(_)) => PartyRef::WorkUnitId(subject_id),
            Some(Entity::Org(_)) => PartyRef::OrgId(subject_id),
            _ => return Err(ProjectionError::UnknownSubject(subject_id)),
        };
        let empty = ScoreSheet::default();
        let sheet = self
            .lookup
            .periods
            .get(period)
            .and_then(|&index| self.score_sheets.get(&(index, subject)))
            .unwrap_or(&empty);
        Ok(ScoreDetail {
            as_of: AsOf::of(self.watermark),
            score: self.score_row(subject, period, sheet),
            evaluations: sheet
                .evaluations
                .iter()
                .map(|&index| self.evaluation_json(index))
                .collect(),
            complaint_ratings: sheet
                .complaint_ratings
                .iter()
                .map(|rating| ComplaintRatingJson {
                    complaint_id: self.complaints[rating.complaint as usize].id,
                    satisfaction: rating.satisfaction,
                    mapped_score: mapped_satisfaction(rating.satisfaction),
                    accepted_on: rating.accepted_on.to_iso(),
                    actor: self.actors[rating.actor as usize].clone(),
                    rated: rating.rated.into(),
                })
                .collect(),
        })
    }

    fn score_row(&self, subject: PartyRef, period: &str, sheet: &ScoreSheet) -> ScoreRow {
        let mut org_scores = Vec::new();
        let mut resident_scores = Vec::new();
        let mut retracted_count = 0;
        for &index in &sheet.evaluations {
            let evaluation = &self.evaluations[index as usize];
            if evaluation.retracted {
                retracted_count += 1;
                continue;
            }
            match evaluation.evaluator {
                Evaluator::Organization => org_scores.push(evaluation.score),
                Evaluator::Residents => resident_scores.push(evaluation.score),
            }
        }
        let ratings = sheet
            .complaint_ratings
            .iter()
            .map(|rating| mapped_satisfaction(rating.satisfaction));
        resident_scores.extend(ratings);
        let org_score = mean(&org_scores);
        let resident_score = mean(&resident_scores);
        let combined = match (org_score, resident_score) {
            (Some(org), Some(resident)) => Some((org + resident) / 2.0),
            (one, other) => one.or(other),
        };
        let grade = combined.map(Grade::of);
        ScoreRow {
            subject_kind: SubjectKind::of(subject),
            subject_id: subject.id(),
            name: self.party_name(subject),
            period: period.to_owned(),
            org_score,
            resident_score,
            combined,
            grade,
            grade_label: grade.map(Grade::label),
            org_count: org_scores.len() as u64,
            resident_count: resident_scores.len() as u64,
            complaint_rating_count: sheet.complaint_ratings.len() as u64,
            retracted_count,
        }
    }

    fn evaluation_json(&self, index: Index) -> EvaluationJson {
        let evaluation = &self.evaluations[index as usize];
        EvaluationJson {
            evaluation_id: evaluation.id,
            evaluator: evaluation.evaluator,
            evaluator_ref: evaluation.evaluator_ref,
            period: self.periods[evaluation.period as usize].clone(),
            score: evaluation.score,
            retracted: evaluation.retracted,
            history: evaluation
                .history
                .iter()
                .map(|step| EvaluationStepJson {
                    action: step.action,
                    score: step.score,
                    reason: step.reason.clone(),
                    actor: self.actors[step.actor as usize].clone(),
                    seq: step.at.seq,
                    recorded_at: step.at.recorded_at.to_rfc3339(),
                    occurred_on: step.at.occurred_on.to_iso(),
                })
                .collect(),
        }
    }

    /// Whether a subject belongs to an area inside the filter (see [`Models::scores`]).
    fn subject_in(&self, subject: PartyRef, filter: &AreaFilter) -> bool {
        self.subject_areas(subject)
            .into_iter()
            .any(|area| filter.covers(self, area))
    }

    fn subject_areas(&self, subject: PartyRef) -> Vec<Index> {
        match self.entity(subject.id()) {
            Some(Entity::Member(index)) => vec![self.members[index as usize].home],
            Some(Entity::WorkUnit(index)) => self.work_unit_areas(index),
            Some(Entity::Org(index)) => {
                let org = &self.orgs[index as usize];
                match org.work_unit {
                    Some(unit) => self.work_unit_areas(unit),
                    None => org.areas.to_vec(),
                }
            }
            _ => Vec::new(),
        }
    }

    fn work_unit_areas(&self, unit: Index) -> Vec<Index> {
        let unit = &self.work_units[unit as usize];
        std::iter::once(unit.county)
            .chain(unit.reported_to.iter().map(|&(community, _)| community))
            .collect()
    }
}

/// A complaint rating as a score: `(satisfaction - 1) * 25`, so 1 → 0 and 5 → 100.
pub fn mapped_satisfaction(satisfaction: u8) -> u32 {
    (u32::from(satisfaction).saturating_sub(1)) * 25
}

fn mean(values: &[u32]) -> Option<f64> {
    let sum: u64 = values.iter().map(|&value| u64::from(value)).sum();
    crate::coverage::rate(sum, values.len() as u64)
}

fn check_period(period: &str) -> Result<(), ProjectionError> {
    if govrec_core::rules::is_period(period) {
        Ok(())
    } else {
        Err(ProjectionError::InvalidQuery(format!(
            "period {period:?} is not a year (2026), a half (2026-H1) or a quarter (2026-Q3)"
        )))
    }
}
