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
    /// Events that, appended first, let the refused event through; `hint` shows them.
    /// Boxed: refusals travel in `Result`s, which stay small.
    pub remedy: Option<Box<Remedy>>,
}

/// What to append before a refused event. The HINT shows it as one ready-to-run
/// `bel_append_batch` call (the events, then the refused event when they are all it needs);
/// for an event refused inside a batch, which rolled back whole, as the events to insert
/// into the batch before it (they were computed at that point of the batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remedy {
    /// The events to append first, in proto3 JSON.
    pub before: Vec<String>,
    /// The refused event, last in the call (None: the events are not all it needs).
    pub then: Option<String>,
    /// The HINT's first line above the call, and above the events to insert into a batch.
    pub call_lead: String,
    pub insert_lead: String,
}

impl Remedy {
    fn call_hint(&self) -> String {
        let events: Vec<&str> = self.before.iter().chain(&self.then).map(String::as_str).collect();
        format!("{}\nselect bel.bel_append_batch('{}');", self.call_lead, json_array(&events).replace('\'', "''"))
    }

    fn insert_hint(&self, position: usize) -> String {
        let events: Vec<&str> = self.before.iter().map(String::as_str).collect();
        format!(
            "{} (before event {position}; nothing of the batch was appended):\n{}",
            self.insert_lead,
            json_array(&events)
        )
    }
}

/// A JSON array, one element per line.
fn json_array(elements: &[&str]) -> String {
    format!("[\n  {}\n]", elements.join(",\n  "))
}

impl Rejection {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Rejection { class, message: message.into(), detail: None, hint: None, remedy: None }
    }
    /// Sets the remedy, and the hint that shows it.
    pub fn remedy(mut self, remedy: Remedy) -> Self {
        self.hint = Some(remedy.call_hint());
        self.remedy = Some(Box::new(remedy));
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Prefixes the message with the position of the event in a batch; a remedy becomes
    /// events to insert into the batch.
    pub fn in_batch(mut self, position: usize) -> Self {
        self.message = format!("event {position} of the batch: {}", self.message);
        if let Some(remedy) = &self.remedy {
            self.hint = Some(remedy.insert_hint(position));
        }
        self
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> Rejection {
    Rejection::new(ErrorClass::InvalidValue, message)
}
