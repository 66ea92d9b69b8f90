//! The projection rows an append writes, without a statement (`row_write`): newly named
//! partitions into `bel.known_partitions` (INSERT ... ON CONFLICT DO NOTHING), and each
//! changed build request, job run and partition over the row the append holds for it (the
//! placeholder it inserted or the row it locked; see `store::lock_kind`). An UPDATE
//! statement of these rows cost a bulk append a fifth of its instructions (callgrind,
//! docs/benchmarks.md): its executor, its array parameters unnested and its jsonb parsed
//! from text, and a scan by key to find each row the append already held.
use std::collections::{BTreeMap, BTreeSet};

use bel_core::state::{BuildRequest, ChangedSet, JobRun, Partition, State};
use bel_core::status::Status;
use pgrx::{pg_sys, IntoDatum};

use crate::relation_oids::bel_relation;
use crate::row_write::{Column, RowWriter, Tid, Write};
use crate::spi::arrays::text_array;
use crate::spi::{jsonb_build, to_timestamptz};

/// The projection tables.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    KnownPartitions,
    BuildRequests,
    JobRuns,
    Partitions,
}

impl Part {
    /// Schema-qualified, for errors.
    pub fn table(self) -> &'static str {
        match self {
            Part::KnownPartitions => "bel.known_partitions",
            Part::BuildRequests => "bel.build_request_state",
            Part::JobRuns => "bel.job_run_state",
            Part::Partitions => "bel.partition_state",
        }
    }

    pub fn relation(self) -> pg_sys::Oid {
        bel_relation(match self {
            Part::KnownPartitions => c"known_partitions",
            Part::BuildRequests => c"build_request_state",
            Part::JobRuns => c"job_run_state",
            Part::Partitions => c"partition_state",
        })
    }

    /// Every column bel writes, the key first, in the order of the values below.
    pub fn columns(self) -> &'static [Column] {
        use pg_sys::{INT4OID as INT4, INT8OID as INT8, JSONBOID as JSONB, TEXTARRAYOID as TEXTS, TEXTOID as TEXT};
        const AT: pg_sys::Oid = pg_sys::TIMESTAMPTZOID;
        match self {
            Part::KnownPartitions => &[("partition_ref", TEXT)],
            Part::BuildRequests => &[
                ("build_request_id", TEXT),
                ("status", TEXT),
                ("requested_partitions", TEXTS),
                ("delegations", JSONB),
                ("first_idx", INT8),
                ("last_idx", INT8),
                ("created_at", AT),
                ("updated_at", AT),
            ],
            Part::JobRuns => &[
                ("job_run_id", TEXT),
                ("build_request_id", TEXT),
                ("job_label", TEXT),
                ("status", TEXT),
                ("target_partitions", TEXTS),
                ("exit_code", INT4),
                ("message", TEXT),
                ("first_idx", INT8),
                ("last_idx", INT8),
                ("created_at", AT),
                ("updated_at", AT),
            ],
            Part::Partitions => &[
                ("partition_ref", TEXT),
                ("status", TEXT),
                ("build_request_id", TEXT),
                ("job_run_id", TEXT),
                ("last_idx", INT8),
                ("updated_at", AT),
            ],
        }
    }

    /// Opens the table for `write` of rows of all its columns.
    pub fn open(self, write: Write) -> RowWriter {
        RowWriter::open(self.relation(), self.table(), self.columns(), write)
    }

    /// A placeholder row: the key, status NULL (never committed so, see sql/schema.sql),
    /// the NOT NULL columns empty.
    pub fn placeholder(self, key: &str) -> Vec<Option<pg_sys::Datum>> {
        let no_refs = || Some(text_array(&[]));
        match self {
            Part::KnownPartitions => vec![key.into_datum()],
            Part::BuildRequests => {
                let no_delegations = Some(jsonb_build::to_jsonb(&BTreeMap::<String, String>::new()));
                vec![key.into_datum(), None, no_refs(), no_delegations, None, None, None, None]
            }
            Part::JobRuns => {
                vec![key.into_datum(), None, None, None, no_refs(), None, "".into_datum(), None, None, None, None]
            }
            Part::Partitions => vec![key.into_datum(), None, None, None, None, None],
        }
    }
}

pub fn build_request_row(b: &BuildRequest) -> Vec<Option<pg_sys::Datum>> {
    vec![
        b.build_request_id.as_str().into_datum(),
        b.status.short_name().into_datum(),
        Some(text_array(&b.requested_partitions)),
        Some(jsonb_build::to_jsonb(&b.delegations)),
        b.first_idx.into_datum(),
        b.last_idx.into_datum(),
        to_timestamptz(b.created_at).into_datum(),
        to_timestamptz(b.updated_at).into_datum(),
    ]
}

fn job_run_row(r: &JobRun) -> Vec<Option<pg_sys::Datum>> {
    vec![
        r.job_run_id.as_str().into_datum(),
        r.build_request_id.as_str().into_datum(),
        r.job_label.as_str().into_datum(),
        r.status.short_name().into_datum(),
        Some(text_array(&r.target_partitions)),
        r.exit_code.into_datum(),
        r.message.as_str().into_datum(),
        r.first_idx.into_datum(),
        r.last_idx.into_datum(),
        to_timestamptz(r.created_at).into_datum(),
        to_timestamptz(r.updated_at).into_datum(),
    ]
}

fn partition_row(p: &Partition) -> Vec<Option<pg_sys::Datum>> {
    vec![
        p.partition_ref.as_str().into_datum(),
        p.status.short_name().into_datum(),
        p.build_request_id.as_str().into_datum(),
        p.job_run_id.as_deref().into_datum(),
        p.last_idx.into_datum(),
        to_timestamptz(p.updated_at).into_datum(),
    ]
}

/// Where the rows of the entities an append holds are, by key: the placeholders it
/// inserted and the rows it locked (`store::lock_kind`).
#[derive(Default)]
pub struct HeldRows {
    pub build_requests: BTreeMap<String, Tid>,
    pub job_runs: BTreeMap<String, Tid>,
    pub partitions: BTreeMap<String, Tid>,
}

/// Inserts `refs` (sorted: concurrent appends insert shared keys in the same order) into
/// bel.known_partitions unless known.
pub fn insert_known_partitions(refs: &BTreeSet<String>) {
    if refs.is_empty() {
        return;
    }
    let mut known = Part::KnownPartitions.open(Write::InsertIfAbsent);
    for partition in refs {
        known.insert_if_absent(|| vec![partition.as_str().into_datum()]);
    }
    known.close();
}

/// Writes the changed entities of `state` over the rows held for them.
pub fn update_entities(state: &State, changed: &ChangedSet, held: &HeldRows) {
    update_part(
        Part::BuildRequests,
        &changed.build_requests,
        &state.build_requests,
        &held.build_requests,
        build_request_row,
    );
    update_part(Part::JobRuns, &changed.job_runs, &state.job_runs, &held.job_runs, job_run_row);
    update_part(Part::Partitions, &changed.partitions, &state.partitions, &held.partitions, partition_row);
}

fn update_part<T>(
    part: Part,
    changed: &BTreeSet<String>,
    entities: &BTreeMap<String, T>,
    held: &BTreeMap<String, Tid>,
    row: fn(&T) -> Vec<Option<pg_sys::Datum>>,
) {
    if changed.is_empty() {
        return;
    }
    let mut table = part.open(Write::Update);
    for key in changed {
        let (Some(entity), Some(&tid)) = (entities.get(key), held.get(key)) else {
            crate::errors::internal(
                "writing the projections",
                format!("{} {key:?} changed but not held", part.table()),
            );
        };
        table.update(tid, || row(entity));
    }
    table.close();
}

/// Inserts every entity of `state` (into projections emptied by the caller).
pub fn insert_entities(state: &State) {
    insert_part(Part::BuildRequests, &state.build_requests, build_request_row);
    insert_part(Part::JobRuns, &state.job_runs, job_run_row);
    insert_part(Part::Partitions, &state.partitions, partition_row);
}

fn insert_part<T>(part: Part, entities: &BTreeMap<String, T>, row: fn(&T) -> Vec<Option<pg_sys::Datum>>) {
    let mut table = part.open(Write::Insert);
    for entity in entities.values() {
        table.insert(|| row(entity));
    }
    table.close();
}
