//! The statement that writes an append's projections: newly named partitions and the
//! changed entity rows, as one statement of data-modifying CTEs (one per part that has
//! rows), prepared once per shape and kept. The event rows do not come here: see
//! `row_insert`.
//!
//! The parts are described as data (table, columns, action) and their SQL is generated,
//! in two forms: a part with exactly one row takes scalar parameters (no set-returning
//! functions to set up: most appends write one event and change one entity per kind),
//! and a part with more rows takes one array per column, unnested in lockstep. jsonb
//! values travel as JSON text in the array form and are parsed by the statement, row by
//! row in the executor's per-row memory (parsed into a jsonb[] up front, a batch of 1,000
//! events grew the backend by megabytes of parser garbage, ~20% of its time with the page
//! faults; perf).

use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::{pg_sys::PgOid, PgBuiltInOids as T};

use crate::spi::arrays::SqlArray;
use crate::spi::jsonb_text::JsonbText;
use crate::spi::run;
use crate::spi::statements::statement_for_shape;

/// A column's SQL type and how its values travel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ColumnType {
    Text,
    Int4,
    Int8,
    Jsonb,
    Timestamptz,
    /// text[] per row; in the array form the JSON text of a string array per row
    /// (Postgres arrays of arrays must be rectangular).
    TextList,
}

impl ColumnType {
    fn scalar(self) -> (&'static str, PgOid) {
        match self {
            ColumnType::Text => ("text", PgOid::BuiltIn(T::TEXTOID)),
            ColumnType::Int4 => ("int4", PgOid::BuiltIn(T::INT4OID)),
            ColumnType::Int8 => ("int8", PgOid::BuiltIn(T::INT8OID)),
            ColumnType::Jsonb => ("jsonb", PgOid::BuiltIn(T::JSONBOID)),
            ColumnType::Timestamptz => ("timestamptz", PgOid::BuiltIn(T::TIMESTAMPTZOID)),
            ColumnType::TextList => ("text[]", PgOid::BuiltIn(T::TEXTARRAYOID)),
        }
    }

    fn array(self) -> (&'static str, PgOid) {
        match self {
            ColumnType::Text => ("text[]", PgOid::BuiltIn(T::TEXTARRAYOID)),
            ColumnType::Int4 => ("int4[]", PgOid::BuiltIn(T::INT4ARRAYOID)),
            ColumnType::Int8 => ("int8[]", PgOid::BuiltIn(T::INT8ARRAYOID)),
            ColumnType::Jsonb | ColumnType::TextList => ("text[]", PgOid::BuiltIn(T::TEXTARRAYOID)),
            ColumnType::Timestamptz => ("timestamptz[]", PgOid::BuiltIn(T::TIMESTAMPTZARRAYOID)),
        }
    }

    /// The column's value from the unnested row `u` (array form).
    fn value_in_row(self, column: &str) -> String {
        self.element_value(&format!("u.{column}"))
    }

    /// The column's value from `element`, an element of its array parameter.
    fn element_value(self, element: &str) -> String {
        match self {
            ColumnType::Jsonb => format!("{element}::jsonb"),
            ColumnType::TextList => format!("ARRAY(SELECT jsonb_array_elements_text({element}::jsonb))"),
            _ => element.to_owned(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    /// INSERT ... ON CONFLICT DO NOTHING.
    InsertIfAbsent,
    /// UPDATE by the first column (the key).
    Update,
}

struct PartSpec {
    table: &'static str,
    columns: &'static [(&'static str, ColumnType)],
    action: Action,
}

use ColumnType::*;

/// The parts, in parameter order; a part's position is its bit in `WriteShape` masks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    KnownPartitions,
    BuildRequests,
    JobRuns,
    Partitions,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::KnownPartitions, Part::BuildRequests, Part::JobRuns, Part::Partitions];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The part's table (schema-qualified) and its columns, in the order its values come:
    /// also the columns of a row written without this statement (`store::write_lone_creation`).
    pub fn table(self) -> &'static str {
        self.spec().table
    }

    pub fn columns(self) -> Vec<&'static str> {
        self.spec().columns.iter().map(|(name, _)| *name).collect()
    }

    fn spec(self) -> PartSpec {
        match self {
            // The refs come sorted and distinct (no DISTINCT: its sort costs more to set up
            // than it saves), so concurrent appends insert shared keys in the same order.
            Part::KnownPartitions => PartSpec {
                table: "bel.known_partitions",
                columns: &[("partition_ref", Text)],
                action: Action::InsertIfAbsent,
            },
            Part::BuildRequests => PartSpec {
                table: "bel.build_request_state",
                columns: &[
                    ("build_request_id", Text),
                    ("status", Text),
                    ("requested_partitions", TextList),
                    ("delegations", Jsonb),
                    ("first_idx", Int8),
                    ("last_idx", Int8),
                    ("created_at", Timestamptz),
                    ("updated_at", Timestamptz),
                ],
                action: Action::Update,
            },
            Part::JobRuns => PartSpec {
                table: "bel.job_run_state",
                columns: &[
                    ("job_run_id", Text),
                    ("build_request_id", Text),
                    ("job_label", Text),
                    ("status", Text),
                    ("target_partitions", TextList),
                    ("exit_code", Int4),
                    ("message", Text),
                    ("first_idx", Int8),
                    ("last_idx", Int8),
                    ("created_at", Timestamptz),
                    ("updated_at", Timestamptz),
                ],
                action: Action::Update,
            },
            Part::Partitions => PartSpec {
                table: "bel.partition_state",
                columns: &[
                    ("partition_ref", Text),
                    ("status", Text),
                    ("build_request_id", Text),
                    ("job_run_id", Text),
                    ("last_idx", Int8),
                    ("updated_at", Timestamptz),
                ],
                action: Action::Update,
            },
        }
    }
}

/// Which write statement: the parts present, and those of them with exactly one row.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct WriteShape {
    present: u8,
    single_row: u8,
}

impl WriteShape {
    /// A unique number below `MAX_SHAPES`: two part bit sets.
    fn key(self) -> u32 {
        u32::from(self.present) | u32::from(self.single_row) << 8
    }
}

/// One column's values, one per row.
pub enum Values {
    Text(Vec<Option<String>>),
    Int4(Vec<Option<i32>>),
    Int8(Vec<i64>),
    Jsonb(Vec<JsonbText>),
    Timestamptz(Vec<TimestampWithTimeZone>),
    TextList(Vec<Vec<String>>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Int4(v) => v.len(),
            Values::Int8(v) => v.len(),
            Values::Jsonb(v) => v.len(),
            Values::Timestamptz(v) => v.len(),
            Values::TextList(v) => v.len(),
        }
    }

    fn column_type(&self) -> ColumnType {
        match self {
            Values::Text(_) => Text,
            Values::Int4(_) => Int4,
            Values::Int8(_) => Int8,
            Values::Jsonb(_) => Jsonb,
            Values::Timestamptz(_) => Timestamptz,
            Values::TextList(_) => TextList,
        }
    }

    /// The parameter: the only value (scalar form) or an array of them.
    fn into_parameter(self, single_row: bool) -> DatumWithOid<'static> {
        fn only<T>(v: Vec<T>) -> Option<T> {
            v.into_iter().next()
        }
        match (self, single_row) {
            (Values::Text(v), true) => only(v).flatten().into(),
            (Values::Text(v), false) => v.sql_array(),
            (Values::Int4(v), true) => only(v).flatten().into(),
            (Values::Int4(v), false) => v.sql_array(),
            (Values::Int8(v), true) => only(v).into(),
            (Values::Int8(v), false) => v.sql_array(),
            (Values::Jsonb(v), true) => only(v).into(),
            (Values::Jsonb(v), false) => v.into_iter().map(|j| j.0).collect::<Vec<_>>().sql_array(),
            (Values::Timestamptz(v), true) => only(v).into(),
            (Values::Timestamptz(v), false) => v.sql_array(),
            (Values::TextList(v), true) => only(v).unwrap_or_default().sql_array(),
            (Values::TextList(v), false) => v
                .into_iter()
                .map(|list| serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned()))
                .collect::<Vec<_>>()
                .sql_array(),
        }
    }
}

/// The rows of one part, column by column in the part's column order.
pub struct PartRows {
    pub part: Part,
    pub columns: Vec<Values>,
}

impl PartRows {
    fn rows(&self) -> usize {
        self.columns.first().map_or(0, Values::len)
    }
}

/// Runs the write of `parts` (any order; parts without rows are left out).
pub fn write_parts(client: &SpiClient<'_>, mut parts: Vec<PartRows>) {
    parts.retain(|p| p.rows() > 0);
    if parts.is_empty() {
        return;
    }
    parts.sort_by_key(|p| p.part as u8);
    let mut shape = WriteShape { present: 0, single_row: 0 };
    for p in &parts {
        debug_assert_eq!(
            p.columns.iter().map(Values::column_type).collect::<Vec<_>>(),
            p.part.spec().columns.iter().map(|(_, t)| *t).collect::<Vec<_>>(),
            "columns of {:?}",
            p.part
        );
        shape.present |= p.part.bit();
        if p.rows() == 1 {
            shape.single_row |= p.part.bit();
        }
    }
    let args: Vec<DatumWithOid<'static>> = parts
        .into_iter()
        .flat_map(|p| {
            let single = shape.single_row & p.part.bit() != 0;
            p.columns.into_iter().map(move |v| v.into_parameter(single))
        })
        .collect();
    run(client, statement(client, shape), &args);
}

/// The statement of `shape`, prepared on first use.
fn statement(client: &SpiClient<'_>, shape: WriteShape) -> &'static OwnedPreparedStatement {
    statement_for_shape(client, shape.key(), || statement_sql(shape))
}

fn cte_name(part: Part) -> String {
    format!("w{}", part as u8)
}

/// The SQL and parameter types of `shape`.
fn statement_sql(shape: WriteShape) -> (String, Vec<PgOid>) {
    let mut ctes = Vec::new();
    let mut types = Vec::new();
    for part in Part::ALL {
        if shape.present & part.bit() == 0 {
            continue;
        }
        let single = shape.single_row & part.bit() != 0;
        let spec = part.spec();
        let first = types.len() + 1;
        types.extend(spec.columns.iter().map(|(_, t)| if single { t.scalar().1 } else { t.array().1 }));
        let body = match spec.action {
            Action::Update => update_sql(&spec, single, first),
            Action::InsertIfAbsent => insert_sql(&spec, single, first),
        };
        ctes.push(format!("{} AS ({body})", cte_name(part)));
    }
    (format!("WITH {} SELECT 1", ctes.join(", ")), types)
}

/// `unnest($n::t[])` for each column, in column order (the array form's parameters).
fn unnested_columns(spec: &PartSpec, first: usize) -> Vec<String> {
    spec.columns.iter().enumerate().map(|(i, (_, t))| format!("unnest(${}::{})", first + i, t.array().0)).collect()
}

/// `(SELECT unnest($n::t[]) AS c, ...) AS u`: the rows of the array form.
fn unnested_rows(spec: &PartSpec, first: usize) -> String {
    let columns: Vec<String> = unnested_columns(spec, first)
        .into_iter()
        .zip(spec.columns)
        .map(|(unnest, (name, _))| format!("{unnest} AS {name}"))
        .collect();
    format!("(SELECT {}) AS u", columns.join(", "))
}

/// INSERT ... ON CONFLICT DO NOTHING of the part's rows.
fn insert_sql(spec: &PartSpec, single: bool, first: usize) -> String {
    let names: Vec<&str> = spec.columns.iter().map(|(name, _)| *name).collect();
    let select = if single {
        let values: Vec<String> =
            spec.columns.iter().enumerate().map(|(i, (_, t))| format!("${}::{}", first + i, t.scalar().0)).collect();
        format!("SELECT {}", values.join(", "))
    } else if spec.columns.iter().any(|(_, t)| *t == TextList) {
        let values: Vec<String> = spec.columns.iter().map(|(name, t)| t.value_in_row(name)).collect();
        format!("SELECT {} FROM {}", values.join(", "), unnested_rows(spec, first))
    } else {
        // Unnested in the target list: a ProjectSet streams the rows (`FROM unnest(...)`
        // would materialise them in a tuplestore first).
        let values: Vec<String> = unnested_columns(spec, first)
            .iter()
            .zip(spec.columns)
            .map(|(unnest, (_, t))| t.element_value(unnest))
            .collect();
        format!("SELECT {}", values.join(", "))
    };
    format!("INSERT INTO {} ({}) {select} ON CONFLICT DO NOTHING", spec.table, names.join(", "))
}

fn update_sql(spec: &PartSpec, single: bool, first: usize) -> String {
    let (key, _) = spec.columns[0];
    if single {
        let sets: Vec<String> = spec
            .columns
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, (name, t))| format!("{name} = ${}::{}", first + i, t.scalar().0))
            .collect();
        format!("UPDATE {} SET {} WHERE {key} = ${first}::text", spec.table, sets.join(", "))
    } else {
        let sets: Vec<String> =
            spec.columns.iter().skip(1).map(|(name, t)| format!("{name} = {}", t.value_in_row(name))).collect();
        format!(
            "UPDATE {} s SET {} FROM {} WHERE s.{key} = u.{key}",
            spec.table,
            sets.join(", "),
            unnested_rows(spec, first)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(present: &[Part], single_row: &[Part]) -> WriteShape {
        WriteShape {
            present: present.iter().map(|p| p.bit()).sum(),
            single_row: single_row.iter().map(|p| p.bit()).sum(),
        }
    }

    #[test]
    fn one_event_with_one_entity_is_all_scalars() {
        let (sql, types) = statement_sql(shape(
            &[Part::KnownPartitions, Part::BuildRequests],
            &[Part::KnownPartitions, Part::BuildRequests],
        ));
        assert!(!sql.contains("unnest"), "{sql}");
        assert!(sql.contains("UPDATE bel.build_request_state SET status = $3::text"), "{sql}");
        assert!(sql.contains("WHERE build_request_id = $2::text"), "{sql}");
        assert_eq!(types.len(), 1 + 8);
    }

    #[test]
    fn many_rows_are_unnested_and_lists_travel_as_json_text() {
        let (sql, types) = statement_sql(shape(&[Part::JobRuns], &[]));
        assert!(
            sql.contains("target_partitions = ARRAY(SELECT jsonb_array_elements_text(u.target_partitions::jsonb))"),
            "{sql}"
        );
        assert!(sql.contains("unnest($1::text[]) AS job_run_id"), "{sql}");
        assert!(sql.contains("WHERE s.job_run_id = u.job_run_id"), "{sql}");
        assert_eq!(types[4], PgOid::BuiltIn(T::TEXTARRAYOID));
    }

    #[test]
    fn jsonb_travels_as_text_parsed_row_by_row() {
        let (sql, types) = statement_sql(shape(&[Part::BuildRequests], &[]));
        assert!(sql.contains("delegations = u.delegations::jsonb"), "{sql}");
        assert!(sql.contains("unnest($4::text[]) AS delegations"), "{sql}");
        assert_eq!(types[3], PgOid::BuiltIn(T::TEXTARRAYOID));
    }

    #[test]
    fn newly_named_partitions_are_inserted_unless_known() {
        let (sql, _) = statement_sql(shape(&[Part::KnownPartitions], &[]));
        assert_eq!(
            sql,
            "WITH w0 AS (INSERT INTO bel.known_partitions (partition_ref) SELECT unnest($1::text[]) \
             ON CONFLICT DO NOTHING) SELECT 1"
        );
    }
}
