-- Helpers of scripts/bench-followers.sh (session-local: pg_temp), loaded after
-- scripts/bench_queries.sql (pg_temp.build_events, pg_temp.bench).

-- Appends builds first..last (16 valid events of 2 partitions each) in one batch, so that
-- a log of 125,000 builds (2M events) has:
--   data/g/: 50 partitions, of builds 250, 500, ..., 6250 (in every log of >= 100k events,
--            so a glob page from 0 has the same result at 100k and at 2M events);
--   data/s/: 200,000 partitions, of builds 25,001..125,000 (the tail of the 2M log);
--   data/o/: the others.
create or replace function pg_temp.append_glob_builds(first int, last int) returns bigint language sql as $$
select count(*) from bel.bel_append_batch((
  select jsonb_agg(e) from generate_series(first, last) g,
    lateral (select case when g % 250 = 0 and g <= 6250 then 'data/g/'
                         when g > 25000 then 'data/s/'
                         else 'data/o/' end as prefix) p,
    jsonb_array_elements(pg_temp.build_events('bf-' || g, p.prefix || 'p' || g || 'a', p.prefix || 'p' || g || 'b',
                                              'bf-job-' || g, 'etl/bf')) e))
$$;
