//! Pieces shared by every answer: the `as_of` watermark, references to areas and parties,
//! record stamps, the caller's scope, and paging. Field names follow `api.md`.

use govrec_core::event::{AreaKind, PartyRef};
use serde::Serialize;
use uuid::Uuid;

use crate::error::ProjectionError;
use crate::model::{Index, Models, Name, Stamp, Watermark};

/// Rows a page holds when the caller names no limit.
pub const PAGE_ROWS_DEFAULT: usize = 100;
/// The most rows one page holds.
pub const PAGE_ROWS_MAX: usize = 1000;

/// `"as_of": {"seq", "hash", "recorded_at"}`: the log position an answer reflects. All three
/// are null for an empty log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsOf {
    pub seq: Option<u64>,
    pub hash: Option<String>,
    pub recorded_at: Option<String>,
}

impl AsOf {
    pub fn of(watermark: Option<Watermark>) -> AsOf {
        AsOf {
            seq: watermark.map(|watermark| watermark.seq),
            hash: watermark.map(|watermark| watermark.hash.to_hex()),
            recorded_at: watermark.map(|watermark| watermark.recorded_at.to_rfc3339()),
        }
    }
}

/// `{"id", "name", "kind"}` of an area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaRef {
    pub id: Uuid,
    pub name: String,
    pub kind: AreaKind,
}

/// When a step happened: the record's seq, server time and business date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StampJson {
    pub seq: u64,
    pub recorded_at: String,
    pub occurred_on: String,
}

impl From<Stamp> for StampJson {
    fn from(stamp: Stamp) -> StampJson {
        StampJson {
            seq: stamp.seq,
            recorded_at: stamp.recorded_at.to_rfc3339(),
            occurred_on: stamp.occurred_on.to_iso(),
        }
    }
}

/// A member, work unit or organisation with its name: `{"member_id": .., "name": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartyJson {
    #[serde(flatten)]
    pub party: PartyRef,
    /// Null when the name was redacted.
    pub name: Option<String>,
}

/// The counties a caller may read: every county, or a list (`api.md`, "A scope").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    AllCounties,
    Counties(Vec<Uuid>),
}

/// A page request: at most `limit` rows (default [`PAGE_ROWS_DEFAULT`], at most
/// [`PAGE_ROWS_MAX`]) after the cursor `after` (the `next` of the previous page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub limit: Option<usize>,
    pub after: Option<String>,
}

impl Page {
    pub fn first(limit: usize) -> Page {
        Page {
            limit: Some(limit),
            after: None,
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.limit.unwrap_or(PAGE_ROWS_DEFAULT).clamp(1, PAGE_ROWS_MAX)
    }

    /// The seq the cursor names; rows are ordered by the seq that created them.
    pub(crate) fn after_seq(&self) -> Result<Option<u64>, ProjectionError> {
        match self.after.as_deref() {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ProjectionError::InvalidQuery(format!("after={text:?} is not a cursor of this list"))
            }),
        }
    }

    /// Cuts `rows` (sorted by `seq_of`) to this page and returns it with the next cursor.
    pub(crate) fn cut<T>(
        &self,
        rows: Vec<T>,
        seq_of: impl Fn(&T) -> u64,
    ) -> Result<(Vec<T>, Option<String>), ProjectionError> {
        let after = self.after_seq()?;
        let limit = self.rows();
        let mut page: Vec<T> = rows
            .into_iter()
            .filter(|row| after.is_none_or(|after| seq_of(row) > after))
            .take(limit + 1)
            .collect();
        let next = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|row| seq_of(row).to_string())
        } else {
            None
        };
        Ok((page, next))
    }
}

/// Which areas a query covers: those inside `area` (itself included) whose county is in scope.
pub(crate) struct AreaFilter {
    area: Option<Index>,
    counties: Option<Vec<Index>>,
}

impl Models {
    pub(crate) fn area_ref(&self, area: Index) -> AreaRef {
        let area = &self.areas[area as usize];
        AreaRef {
            id: area.id,
            name: area.name.to_string(),
            kind: area.kind,
        }
    }

    pub(crate) fn party_json(&self, party: PartyRef) -> PartyJson {
        PartyJson {
            party,
            name: self.party_name(party),
        }
    }

    pub(crate) fn party_name(&self, party: PartyRef) -> Option<String> {
        use crate::model::Entity;
        match self.entity(party.id()) {
            Some(Entity::Member(index)) => self.members[index as usize].name.as_ref().map(Name::to_string),
            Some(Entity::WorkUnit(index)) => Some(self.work_units[index as usize].name.to_string()),
            Some(Entity::Org(index)) => Some(self.orgs[index as usize].name.to_string()),
            _ => None,
        }
    }

    /// The area and its ancestors, nearest first (at most the five levels).
    pub(crate) fn lineage(&self, area: Index) -> impl Iterator<Item = Index> + '_ {
        std::iter::successors(Some(area), |&area| self.areas[area as usize].parent).take(5)
    }

    pub(crate) fn county_of(&self, area: Index) -> Index {
        self.lineage(area)
            .last()
            .expect("a lineage holds at least the area")
    }

    /// Whether the area or one of its ancestors is retired (retiring retires everything below).
    pub(crate) fn is_retired(&self, area: Index) -> bool {
        self.lineage(area).any(|area| self.areas[area as usize].retired)
    }

    pub(crate) fn is_within(&self, area: Index, outer: Index) -> bool {
        self.lineage(area).any(|ancestor| ancestor == outer)
    }

    /// Resolves a query's area and scope; an unknown area or one outside the scope is an error.
    pub(crate) fn area_filter(
        &self,
        area: Option<Uuid>,
        scope: &ReadScope,
    ) -> Result<AreaFilter, ProjectionError> {
        let counties = match scope {
            ReadScope::AllCounties => None,
            ReadScope::Counties(ids) => Some(ids.iter().filter_map(|&id| self.area(id).ok()).collect()),
        };
        let area = match area {
            Some(id) => Some(self.area(id).map_err(|_| ProjectionError::UnknownArea(id))?),
            None => None,
        };
        let filter = AreaFilter { area, counties };
        if let Some(area) = filter.area {
            if !filter.in_scope(self, area) {
                return Err(ProjectionError::OutOfScope(self.areas[area as usize].id));
            }
        }
        Ok(filter)
    }
}

impl AreaFilter {
    pub(crate) fn area(&self) -> Option<Index> {
        self.area
    }

    fn in_scope(&self, models: &Models, area: Index) -> bool {
        match &self.counties {
            None => true,
            Some(counties) => counties.contains(&models.county_of(area)),
        }
    }

    /// Whether `area` lies inside the filter's area and in scope.
    pub(crate) fn covers(&self, models: &Models, area: Index) -> bool {
        self.area.is_none_or(|outer| models.is_within(area, outer)) && self.in_scope(models, area)
    }

    /// The counties in scope, in registration order (the children of a whole-scope answer).
    pub(crate) fn counties<'m>(&'m self, models: &'m Models) -> impl Iterator<Item = Index> + 'm {
        (0..models.areas.len() as Index)
            .filter(move |&area| models.areas[area as usize].kind == AreaKind::County)
            .filter(move |&area| self.in_scope(models, area))
    }
}
