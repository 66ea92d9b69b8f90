//! Why an event or a request was refused, with the SQLSTATE the extension raises it under.

/// Stable classes of refusal. Each maps to one documented SQLSTATE (see `docs/errors.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Not parseable: bad JSON or protobuf, unknown field or enum name. SQLSTATE 22P02.
    Malformed,
    /// Parseable but not a valid event or request: missing id, UNSPECIFIED enum, idx set,
    /// no payload, bad glob, negative limit. SQLSTATE 22023.
    InvalidValue,
    /// Larger than the log accepts. SQLSTATE 54000.
    TooLarge,
    /// Not a correct next state in the entity's diagram. SQLSTATE 55000.
    InvalidTransition,
    /// Breaks a cross-entity rule (owner, terminal build, delegation, completion). SQLSTATE 23514.
    RuleViolation,
    /// Names a build request or job run that does not exist. SQLSTATE 23503.
    UnknownReference,
    /// An event_id reused for a different event. SQLSTATE 23505.
    EventIdConflict,
    /// The call needs a different transaction context (e.g. READ COMMITTED). SQLSTATE 25000.
    WrongTransactionState,
    /// A read names something that does not exist (an unknown build request). SQLSTATE P0002.
    NotFound,
}

impl ErrorClass {
    pub fn sqlstate(self) -> &'static str {
        match self {
            ErrorClass::Malformed => "22P02",
            ErrorClass::InvalidValue => "22023",
            ErrorClass::TooLarge => "54000",
            ErrorClass::InvalidTransition => "55000",
            ErrorClass::RuleViolation => "23514",
            ErrorClass::UnknownReference => "23503",
            ErrorClass::EventIdConflict => "23505",
            ErrorClass::WrongTransactionState => "25000",
            ErrorClass::NotFound => "P0002",
        }
    }
}

/// A refusal a person can act on: message (what), detail (the event and current state),
/// hint (what to do instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    pub class: ErrorClass,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl Rejection {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Rejection { class, message: message.into(), detail: None, hint: None }
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Prefixes the message with the position of the event in a batch.
    pub fn in_batch(mut self, position: usize) -> Self {
        self.message = format!("event {position} of the batch: {}", self.message);
        self
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> Rejection {
    Rejection::new(ErrorClass::InvalidValue, message)
}
