-- The database of a benchmark, run first by scripts/bench-append.sh, bench-follow.sh and
-- bench-followers.sh: the extension, the schema bench, and the baseline every bel number is
-- compared with: a plain table with the same columns, defaults, constraints and indexes as
-- bel.events, its idx from its own sequence.
create extension bel;
create schema bench;
create table bench.plain_events (like bel.events including all);
create sequence bench.plain_events_idx_seq owned by bench.plain_events.idx;
alter table bench.plain_events alter column idx set default nextval('bench.plain_events_idx_seq');
