//! The kinds of entity the log creates, shared by the rules (`crate::rules`) and the read
//! models, so a lookup that finds the wrong kind is described in the same words everywhere.

/// What an entity id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Area,
    Org,
    WorkUnit,
    Member,
    Venue,
    EmergencyPlan,
    Service,
    Pairing,
    Evaluation,
    Complaint,
}

impl EntityKind {
    /// The kind with its article, for messages: "a member", "an area".
    pub fn noun(self) -> &'static str {
        match self {
            EntityKind::Area => "an area",
            EntityKind::Org => "a party organisation",
            EntityKind::WorkUnit => "a work unit",
            EntityKind::Member => "a member",
            EntityKind::Venue => "a venue",
            EntityKind::EmergencyPlan => "an emergency plan",
            EntityKind::Service => "a service",
            EntityKind::Pairing => "a pairing",
            EntityKind::Evaluation => "an evaluation",
            EntityKind::Complaint => "a complaint",
        }
    }

    /// The kind without its article: "member", "area".
    pub fn bare_noun(self) -> &'static str {
        without_article(self.noun())
    }
}

/// A noun without its article: "town" for "a town".
pub fn without_article(noun: &str) -> &str {
    noun.split_once(' ').map_or(noun, |(_, bare)| bare)
}

/// Why looking up an id for an entity of some kind failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The id names nothing.
    #[error("{id} does not name {}", wanted.noun())]
    Unknown { id: uuid::Uuid, wanted: EntityKind },
    /// The id names an entity of another kind.
    #[error("{id} is {}, not {}", found.noun(), wanted.noun())]
    WrongKind {
        id: uuid::Uuid,
        wanted: EntityKind,
        found: EntityKind,
    },
}

/// Looks `id` up with `find` (the holder's own map) and checks that it names an entity of kind
/// `wanted`; `kind_of` tells a found entity's kind, and `pick` takes what the caller needs
/// from an entity of the wanted kind.
pub fn lookup<E: Copy, T>(
    id: uuid::Uuid,
    wanted: EntityKind,
    find: impl FnOnce(uuid::Uuid) -> Option<E>,
    kind_of: impl FnOnce(E) -> EntityKind,
    pick: impl FnOnce(E) -> Option<T>,
) -> Result<T, LookupError> {
    let entity = find(id).ok_or(LookupError::Unknown { id, wanted })?;
    pick(entity).ok_or_else(|| LookupError::WrongKind {
        id,
        wanted,
        found: kind_of(entity),
    })
}
