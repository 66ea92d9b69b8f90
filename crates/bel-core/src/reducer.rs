//! The data build state as a fold over the log: the same [`rules`](crate::rules) that
//! validate appends, applied from an empty state.
use crate::error::Rejection;
use crate::pb::BuildEvent;
use crate::rules::{apply, prepare_stored};
use crate::state::{Changed, State};

#[derive(Debug, Default, Clone)]
pub struct Reducer {
    pub state: State,
}

impl Reducer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates and applies one stored event at `idx`. A stored event always passes: it
    /// was validated against the same state when it was appended, under rules that the
    /// replay's (see `rules::prepare_stored`) never exceed.
    pub fn apply(&mut self, idx: i64, event: &BuildEvent) -> Result<Changed, Rejection> {
        let mut event = event.clone();
        event.idx = 0;
        prepare_stored(&self.state, &mut event)?;
        Ok(apply(&mut self.state, &event, idx))
    }
}

/// Folds `(idx, event)` pairs, in idx order, into the state of every entity.
pub fn replay<I>(events: I) -> Result<State, (i64, Rejection)>
where
    I: IntoIterator<Item = (i64, BuildEvent)>,
{
    let mut reducer = Reducer::new();
    for (idx, event) in events {
        reducer.apply(idx, &event).map_err(|e| (idx, e))?;
    }
    Ok(reducer.state)
}
