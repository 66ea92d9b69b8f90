//! bel's pure core, shared by the Postgres extension and the client: the event schemas
//! (generated from `proto/bel/v1`), the state diagrams as data, event validation, the
//! reducer that folds the log into entity state, and the event filter.
//!
//! Nothing here knows about Postgres: the extension loads the entities an event touches,
//! asks [`rules::prepare`] whether the event is a correct next state, and persists what
//! [`rules::apply`] changed. Replaying the log with [`reducer::Reducer`] runs the very
//! same code, which is why projections and replay agree.

pub mod diagram;
pub mod error;
pub mod event;
pub mod filter;
pub mod in_progress;
pub mod reducer;
pub mod rules;
pub mod state;
pub mod status;

/// Types generated from `proto/bel/v1/bel.proto`, with proto3 JSON (serde) impls.
#[allow(clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/bel.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/bel.v1.serde.rs"));
}

/// The schema version stored with every event (the proto package `bel.v1`).
pub const SCHEMA_VERSION: i16 = 1;

/// The encoded `FileDescriptorSet` of the schemas, for clients that want reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bel_descriptor.bin"));

pub use error::{ErrorClass, Rejection};
