//! Test support for bel, never linked into the extension or the client (`publish = false`,
//! used as a dev-dependency and by the test crates).
//!
//! [`Sim`] plays a few graph processes running builds over a shared namespace of
//! partitions (`data/<dataset>/<date>`): build requests walk RECEIVED → PLANNING →
//! ANALYSIS_COMPLETED → EXECUTING → COMPLETED (or FAILED / CANCELLED), claim the
//! partitions they need (requesting them, or recording a delegation when another build
//! owns them or they are AVAILABLE), schedule job runs that build them, retry failed
//! partitions, and now and then an AVAILABLE partition is invalidated and requested again.
//!
//! The simulator keeps its own [`State`](bel_core::state::State) and only emits an event
//! after [`bel_core::rules::prepare`] accepted it against that state, then applies it with
//! [`bel_core::rules::apply`]: the sequence it produces is valid by construction, and the
//! same seed and config always give the same sequence (the generator is [`SimRng`]).
//!
//! [`Sim::invalid_next`] produces the opposite: an event that is *not* a correct next
//! state right now. It is built from the simulator's own reading of the spec, without
//! asking `prepare`, so tests can check that `prepare` agrees.
//!
//! Because the simulator uses the rules itself, its state is no oracle for the reducer:
//! [`NaiveFold`] is, a fold of the events written separately from `bel_core::rules`.
//!
//! Several writers: [`Sim::for_writer`] namespaces build ids, job run ids and (unless
//! [`SimConfig::shared_partitions`]) partition refs with `w<i>/`, so sequences of
//! different writers can be appended concurrently in any interleaving without conflicts.
//! With shared partitions writers do race (two builds requesting one partition), so a
//! writer cannot keep its state to itself: it should [`Sim::propose`] an event, append
//! it, and feed every event of the log, its own included, to [`Sim::observe`] in idx
//! order.
mod calendar;
mod config;
mod invalid;
mod naive_fold;
mod payloads;
mod plan;
mod sim;

pub use config::{SimConfig, SimStats};
pub use invalid::{InvalidEvent, Mistake};
pub use naive_fold::{naive_fold, NaiveFold};
pub use sim::Sim;

/// The generator behind every simulation, also for tests that draw their own random
/// interleavings or filters: ChaCha8 is value-stable (a seed gives the same numbers on
/// every rand 0.8.x), which regression seeds depend on.
pub use rand_chacha::ChaCha8Rng as SimRng;
