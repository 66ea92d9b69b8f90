//! The follower's cursor and decision logic, as a pure state machine (no I/O), so the
//! rules that prevent loss and duplication are unit-tested without a database.
//!
//! The server guarantees that a page only holds events below a *horizon* under which
//! every idx is committed or permanently aborted, and that `next_idx` never passes an
//! append still in flight. The client's part is to
//! 1. move its cursor only to what the server returned (`next_idx`, or past the last
//!    event delivered), never backwards, never by guessing;
//! 2. deliver only events strictly above the cursor, in strictly increasing idx order (a
//!    page that breaks this is refused, not "fixed", because it signals a server bug);
//! 3. decide what to do next from the page alone: fetch again at once, block on the
//!    in-flight append that stopped the page, or wait for a wake-up. NOTIFY only shortens
//!    the wait; a fallback poll always follows, so a lost notification costs latency,
//!    never events.
use bel_core::pb::{BuildEvent, EventPage};

/// What the follower should do after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowAction {
    /// More matching events are readable right now: fetch the next page at once.
    FetchPage,
    /// The page stopped below the append that allocated this idx and is still in flight:
    /// block until it commits or rolls back (`bel.wait_for_append`), then fetch.
    WaitForAppend(i64),
    /// Caught up: wait for a NOTIFY wake-up or the fallback poll interval, then fetch.
    WaitForWakeup,
}

/// The events of one accepted page and what to do next.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedPage {
    /// Events to deliver, in order; each idx is above every idx delivered before.
    pub events: Vec<BuildEvent>,
    /// The next step.
    pub action: FollowAction,
}

/// A follower's position in the log and the rules for moving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowCursor {
    /// Pass this as `since_idx` next: every matching event at or below it was delivered.
    since_idx: i64,
    /// The page size the follower asks for; a page this full may have more behind it.
    page_limit: i64,
    /// The in-flight idx whose `wait_for_append` returned "ended". If a later page
    /// still reports it, waiting again would return at once and spin, so fall back to
    /// the poll interval instead.
    ended_append_idx: Option<i64>,
}

impl FollowCursor {
    /// A cursor that delivers events with `idx > since_idx`, asking for pages of
    /// `page_limit` events (values below 1 are treated as 1).
    pub fn new(since_idx: i64, page_limit: i64) -> Self {
        FollowCursor { since_idx, page_limit: page_limit.max(1), ended_append_idx: None }
    }

    /// The `since_idx` to ask for next.
    pub fn since_idx(&self) -> i64 {
        self.since_idx
    }

    /// The page size to ask for.
    pub fn page_limit(&self) -> i64 {
        self.page_limit
    }

    /// Checks a page fetched with `since_idx = self.since_idx()`, advances the cursor and
    /// says what to do next. On error the cursor is unchanged.
    pub fn accept_page(&mut self, page: EventPage) -> Result<AcceptedPage, String> {
        // Validate everything before changing any state.
        let mut previous = self.since_idx;
        for event in &page.events {
            if event.idx <= previous {
                return Err(if previous == self.since_idx {
                    format!("event idx {} is not above the cursor {}", event.idx, self.since_idx)
                } else {
                    format!("event idx {} follows idx {} (not strictly increasing)", event.idx, previous)
                });
            }
            previous = event.idx;
        }
        let last_event_idx = previous;
        // The cursor never moves backwards (that would re-deliver), and always covers the
        // events delivered. A server next_idx below the last event would be a bug, but
        // taking the maximum is still exact: those events are delivered right now.
        let new_since = self.since_idx.max(page.next_idx).max(last_event_idx);

        let full = page.events.len() as i64 >= self.page_limit;
        let action = if page.has_more || full {
            if new_since == self.since_idx {
                // Fetching again from the same cursor would return the same page forever.
                return Err(format!(
                    "the page says more events are readable but the cursor did not advance from {}",
                    self.since_idx
                ));
            }
            FollowAction::FetchPage
        } else if page.in_flight_idx != 0 && self.ended_append_idx != Some(page.in_flight_idx) {
            FollowAction::WaitForAppend(page.in_flight_idx)
        } else {
            FollowAction::WaitForWakeup
        };

        self.since_idx = new_since;
        Ok(AcceptedPage { events: page.events, action })
    }

    /// Records how `bel.wait_for_append(idx)` returned: `ended` is true when the append
    /// committed or rolled back, false when the wait timed out (then waiting on the same
    /// idx again is right: it is a long transaction).
    pub fn append_wait_returned(&mut self, idx: i64, ended: bool) {
        self.ended_append_idx = ended.then_some(idx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(idx: i64) -> BuildEvent {
        BuildEvent { idx, build_request_id: format!("b{idx}"), ..Default::default() }
    }

    fn page(idxs: &[i64], next_idx: i64, has_more: bool, in_flight_idx: i64) -> EventPage {
        EventPage {
            events: idxs.iter().copied().map(event).collect(),
            next_idx,
            has_more,
            in_flight_idx,
            ..Default::default()
        }
    }

    fn idxs(accepted: &AcceptedPage) -> Vec<i64> {
        accepted.events.iter().map(|e| e.idx).collect()
    }

    #[test]
    fn full_pages_are_fetched_back_to_back_then_the_follower_waits() {
        let mut cursor = FollowCursor::new(0, 3);
        let first = cursor.accept_page(page(&[1, 2, 3], 3, true, 0)).unwrap();
        assert_eq!((idxs(&first), first.action), (vec![1, 2, 3], FollowAction::FetchPage));
        assert_eq!(cursor.since_idx(), 3);
        // Full page without has_more: still fetch again (cheap, and never wrong).
        let second = cursor.accept_page(page(&[4, 6, 9], 9, false, 0)).unwrap();
        assert_eq!(second.action, FollowAction::FetchPage);
        let third = cursor.accept_page(page(&[10], 12, false, 0)).unwrap();
        assert_eq!((idxs(&third), third.action), (vec![10], FollowAction::WaitForWakeup));
        assert_eq!(cursor.since_idx(), 12);
    }

    #[test]
    fn next_idx_moves_past_scanned_non_matching_events() {
        let mut cursor = FollowCursor::new(5, 100);
        let accepted = cursor.accept_page(page(&[], 40, false, 0)).unwrap();
        assert!(accepted.events.is_empty());
        assert_eq!(cursor.since_idx(), 40);
        // A narrow filter can scan without matching and still have more to scan.
        let accepted = cursor.accept_page(page(&[], 90, true, 0)).unwrap();
        assert_eq!(accepted.action, FollowAction::FetchPage);
        assert_eq!(cursor.since_idx(), 90);
    }

    #[test]
    fn an_in_flight_append_is_waited_on_and_the_cursor_stays_below_it() {
        let mut cursor = FollowCursor::new(0, 10);
        // idx 5 is in flight while 6 and 7 committed: the server stops the page at 4.
        let accepted = cursor.accept_page(page(&[3, 4], 4, false, 5)).unwrap();
        assert_eq!(accepted.action, FollowAction::WaitForAppend(5));
        assert_eq!(cursor.since_idx(), 4);
        cursor.append_wait_returned(5, true);
        // The late commit of 5 is delivered, then 6 and 7: nothing lost, order kept.
        let accepted = cursor.accept_page(page(&[5, 6, 7], 7, false, 0)).unwrap();
        assert_eq!((idxs(&accepted), accepted.action), (vec![5, 6, 7], FollowAction::WaitForWakeup));
    }

    #[test]
    fn a_wait_that_timed_out_is_repeated() {
        let mut cursor = FollowCursor::new(0, 10);
        cursor.accept_page(page(&[], 0, false, 1)).unwrap();
        cursor.append_wait_returned(1, false);
        let accepted = cursor.accept_page(page(&[], 0, false, 1)).unwrap();
        assert_eq!(accepted.action, FollowAction::WaitForAppend(1));
    }

    #[test]
    fn an_ended_append_reported_again_falls_back_to_polling_instead_of_spinning() {
        let mut cursor = FollowCursor::new(0, 10);
        cursor.accept_page(page(&[], 0, false, 1)).unwrap();
        cursor.append_wait_returned(1, true);
        let accepted = cursor.accept_page(page(&[], 0, false, 1)).unwrap();
        assert_eq!(accepted.action, FollowAction::WaitForWakeup);
        // A different in-flight append is waited on again.
        let accepted = cursor.accept_page(page(&[], 0, false, 2)).unwrap();
        assert_eq!(accepted.action, FollowAction::WaitForAppend(2));
    }

    #[test]
    fn duplicates_and_disorder_are_refused_without_moving_the_cursor() {
        let mut cursor = FollowCursor::new(10, 10);
        let before = cursor.clone();
        let err = cursor.accept_page(page(&[10, 11], 11, false, 0)).unwrap_err();
        assert!(err.contains("not above the cursor 10"), "{err}");
        let err = cursor.accept_page(page(&[11, 13, 12], 13, false, 0)).unwrap_err();
        assert!(err.contains("follows idx 13"), "{err}");
        let err = cursor.accept_page(page(&[11, 11], 11, false, 0)).unwrap_err();
        assert!(err.contains("follows idx 11"), "{err}");
        assert_eq!(cursor, before);
    }

    #[test]
    fn the_cursor_never_moves_backwards() {
        let mut cursor = FollowCursor::new(50, 10);
        cursor.accept_page(page(&[], 20, false, 0)).unwrap();
        assert_eq!(cursor.since_idx(), 50);
        // next_idx below the last event delivered: the cursor still covers the event.
        cursor.accept_page(page(&[55], 52, false, 0)).unwrap();
        assert_eq!(cursor.since_idx(), 55);
    }

    #[test]
    fn more_without_progress_is_refused() {
        let mut cursor = FollowCursor::new(7, 10);
        assert!(cursor.accept_page(page(&[], 7, true, 0)).is_err());
        assert_eq!(cursor.since_idx(), 7);
    }

    #[test]
    fn page_limit_is_at_least_one() {
        assert_eq!(FollowCursor::new(0, 0).page_limit(), 1);
        assert_eq!(FollowCursor::new(0, -5).page_limit(), 1);
    }

    /// Simulates a log with out-of-order commits and rollbacks served by a correct
    /// horizon-respecting server, and checks the cursor delivers every committed event
    /// exactly once, in order.
    #[test]
    fn simulated_log_with_late_commits_and_rollbacks_loses_nothing() {
        // (idx, committed_at_step or None for rolled back)
        let appends: Vec<(i64, Option<u32>)> = (1..=60)
            .map(|i| {
                let step = ((i * 37) % 11) as u32; // scrambled commit order
                (i, if i % 7 == 0 { None } else { Some(step) })
            })
            .collect();
        let ended_at = |i: i64| -> u32 { ((i * 37) % 11) as u32 };
        let mut cursor = FollowCursor::new(0, 4);
        let mut delivered = Vec::new();
        for step in 0..=12u32 {
            loop {
                // Server: horizon = below the first idx still in flight at this step.
                let since = cursor.since_idx();
                let first_in_flight = appends.iter().map(|a| a.0).find(|&i| i > since && ended_at(i) > step);
                let horizon = first_in_flight.map_or(60, |i| i - 1);
                let visible: Vec<i64> = appends
                    .iter()
                    .filter(|(i, commit)| *i > since && *i <= horizon && commit.is_some_and(|c| c <= step))
                    .map(|a| a.0)
                    .collect();
                let limit = cursor.page_limit() as usize;
                let (taken, next_idx, has_more) = if visible.len() > limit {
                    (visible[..limit].to_vec(), visible[limit - 1], true)
                } else {
                    (visible.clone(), horizon.max(since), false)
                };
                let accepted =
                    cursor.accept_page(page(&taken, next_idx, has_more, first_in_flight.unwrap_or(0))).unwrap();
                delivered.extend(idxs(&accepted));
                match accepted.action {
                    FollowAction::FetchPage => continue,
                    FollowAction::WaitForAppend(idx) => {
                        cursor.append_wait_returned(idx, false);
                        break;
                    }
                    FollowAction::WaitForWakeup => break,
                }
            }
        }
        let expected: Vec<i64> = appends.iter().filter(|a| a.1.is_some()).map(|a| a.0).collect();
        assert_eq!(delivered, expected);
    }
}
