//! Waking long polls when an in-flight append ends.
//!
//! A page that stopped below an append still in flight reports it as `inFlightIdx`; that
//! append may commit without a NOTIFY (only one appending transaction at a time sends
//! one). Waiters register the idx here, and ONE background task calls
//! `bel.wait_for_append` on the smallest registered idx (one pooled connection, however
//! many waiters), then wakes everybody. The smallest is the right one: the horizon is the
//! smallest append in flight, and appends allocated later only get larger idx values.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::longpoll::Hub;
use crate::metrics::Metrics;
use crate::queries;

/// How long one `bel.wait_for_append` call waits before the task looks again at which idx
/// is the smallest still wanted.
const WAIT_SLICE: Duration = Duration::from_millis(500);
/// Pause after a failed call (the database is down: the pool's own timeouts apply too).
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// How many ended idx values are remembered, so a page still reporting one (it cannot,
/// but a server that did would otherwise make the task wake everybody in a loop) is not
/// waited for twice.
const ENDED_MEMORY: usize = 1024;

#[derive(Default)]
struct State {
    /// In-flight idx -> how many waiters want it.
    wanted: BTreeMap<i64, usize>,
    /// Recently ended idx values.
    ended: BTreeSet<i64>,
}

/// The registry of in-flight appends waiters are stuck behind.
pub struct InFlight {
    state: Mutex<State>,
    changed: Notify,
    metrics: Arc<Metrics>,
}

/// Keeps an in-flight idx wanted while it lives.
pub struct InFlightGuard {
    registry: Arc<InFlight>,
    idx: i64,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.registry.metrics.in_flight_waiters(-1);
        let mut state = self.registry.lock();
        if let Some(count) = state.wanted.get_mut(&self.idx) {
            *count -= 1;
            if *count == 0 {
                state.wanted.remove(&self.idx);
            }
        }
    }
}

impl InFlight {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        InFlight { state: Mutex::default(), changed: Notify::new(), metrics }
    }

    /// Wants a wake-up when `idx` ends; None when it is already known to have ended.
    pub fn watch(registry: &Arc<Self>, idx: i64) -> Option<InFlightGuard> {
        {
            let mut state = registry.lock();
            if state.ended.contains(&idx) {
                return None;
            }
            *state.wanted.entry(idx).or_insert(0) += 1;
        }
        registry.metrics.in_flight_waiters(1);
        registry.changed.notify_one();
        Some(InFlightGuard { registry: registry.clone(), idx })
    }

    fn smallest_wanted(&self) -> Option<i64> {
        self.lock().wanted.keys().next().copied()
    }

    fn ended(&self, idx: i64) {
        let mut state = self.lock();
        state.wanted.remove(&idx);
        state.ended.insert(idx);
        while state.ended.len() > ENDED_MEMORY {
            state.ended.pop_first();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is complete before the lock is released; a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(test)]
    fn wanted(&self) -> Vec<(i64, usize)> {
        self.lock().wanted.iter().map(|(idx, count)| (*idx, *count)).collect()
    }
}

/// The background task: waits out the smallest wanted in-flight append, wakes the hub,
/// repeats, until `shutdown`.
pub async fn run(db: Db, hub: Arc<Hub>, shutdown: CancellationToken) {
    let registry = hub.in_flight().clone();
    let metrics = registry.metrics.clone();
    loop {
        let idx = loop {
            if let Some(idx) = registry.smallest_wanted() {
                break idx;
            }
            tokio::select! {
                () = registry.changed.notified() => {}
                () = shutdown.cancelled() => return,
            }
        };
        let outcome = tokio::select! {
            outcome = queries::wait_for_append(&db, idx, WAIT_SLICE) => outcome,
            () = shutdown.cancelled() => return,
        };
        match outcome {
            Ok(true) => {
                registry.ended(idx);
                metrics.in_flight_wait();
                hub.wake();
            }
            // Still in flight: look again at what is wanted.
            Ok(false) => {}
            Err(error) => {
                tracing::warn!("waiting for in-flight append {idx} failed: {error:?}");
                tokio::select! {
                    () = tokio::time::sleep(RETRY_PAUSE) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Arc<InFlight> {
        Arc::new(InFlight::new(Arc::new(Metrics::new())))
    }

    #[test]
    fn guards_count_waiters_per_idx() {
        let registry = registry();
        let a = InFlight::watch(&registry, 9).unwrap();
        let b = InFlight::watch(&registry, 9).unwrap();
        let c = InFlight::watch(&registry, 5).unwrap();
        assert_eq!(registry.smallest_wanted(), Some(5));
        drop(c);
        assert_eq!(registry.wanted(), vec![(9, 2)]);
        drop(a);
        drop(b);
        assert_eq!(registry.smallest_wanted(), None);
        assert!(registry.metrics.encode().contains("bel_in_flight_waiters 0"));
    }

    #[test]
    fn ended_appends_are_not_waited_for_again() {
        let registry = registry();
        let guard = InFlight::watch(&registry, 3).unwrap();
        registry.ended(3);
        assert_eq!(registry.smallest_wanted(), None);
        drop(guard); // its entry is gone already: nothing to decrement
        assert!(InFlight::watch(&registry, 3).is_none());
        for idx in 10..(10 + ENDED_MEMORY as i64 + 5) {
            registry.ended(idx);
        }
        assert!(InFlight::watch(&registry, 3).is_some(), "the oldest ended idx values are forgotten");
    }
}
