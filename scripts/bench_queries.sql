-- Helpers of scripts/bench-queries.sh (session-local: pg_temp).

-- Events of one build of two partitions by one job run: 16 valid events.
create or replace function pg_temp.build_events(b text, pa text, pb text, job text, label text)
returns jsonb language sql as $$
select jsonb_build_array(
 jsonb_build_object('buildRequestId', b, 'buildRequest', jsonb_build_object('status','BUILD_REQUEST_RECEIVED','requestedPartitions', jsonb_build_array(pa, pb))),
 jsonb_build_object('buildRequestId', b, 'buildRequest', jsonb_build_object('status','BUILD_REQUEST_PLANNING')),
 jsonb_build_object('buildRequestId', b, 'partition', jsonb_build_object('partitionRef', pa, 'status','PARTITION_REQUESTED')),
 jsonb_build_object('buildRequestId', b, 'partition', jsonb_build_object('partitionRef', pb, 'status','PARTITION_REQUESTED')),
 jsonb_build_object('buildRequestId', b, 'partition', jsonb_build_object('partitionRef', pa, 'status','PARTITION_ANALYZED')),
 jsonb_build_object('buildRequestId', b, 'partition', jsonb_build_object('partitionRef', pb, 'status','PARTITION_ANALYZED')),
 jsonb_build_object('buildRequestId', b, 'buildRequest', jsonb_build_object('status','BUILD_REQUEST_ANALYSIS_COMPLETED')),
 jsonb_build_object('buildRequestId', b, 'jobRun', jsonb_build_object('jobRunId', job, 'jobLabel', label, 'status','JOB_RUN_SCHEDULED','targetPartitions', jsonb_build_array(pa, pb))),
 jsonb_build_object('buildRequestId', b, 'buildRequest', jsonb_build_object('status','BUILD_REQUEST_EXECUTING')),
 jsonb_build_object('buildRequestId', b, 'partition', jsonb_build_object('partitionRef', pa, 'status','PARTITION_BUILDING', 'jobRunId', job)),
 jsonb_build_object('buildRequestId', b, 'partition', jsonb_build_object('partitionRef', pb, 'status','PARTITION_BUILDING', 'jobRunId', job)),
 jsonb_build_object('buildRequestId', b, 'jobRun', jsonb_build_object('jobRunId', job, 'status','JOB_RUN_RUNNING')),
 jsonb_build_object('buildRequestId', b, 'partition', jsonb_build_object('partitionRef', pa, 'status','PARTITION_AVAILABLE', 'jobRunId', job)),
 jsonb_build_object('buildRequestId', b, 'partition', jsonb_build_object('partitionRef', pb, 'status','PARTITION_AVAILABLE', 'jobRunId', job)),
 jsonb_build_object('buildRequestId', b, 'jobRun', jsonb_build_object('jobRunId', job, 'status','JOB_RUN_COMPLETED')),
 jsonb_build_object('buildRequestId', b, 'buildRequest', jsonb_build_object('status','BUILD_REQUEST_COMPLETED')))
$$;

-- Appends builds first..last in one batch. The first 5000 builds write the "hot" prefix
-- data/hot/ (10k partitions), so the same queries select the same results at every size.
create or replace function pg_temp.append_builds(first int, last int) returns bigint language sql as $$
select count(*) from bel.bel_append_batch((
  select jsonb_agg(e) from generate_series(first, last) g,
    lateral (select case when g <= 5000 then 'data/hot/' else 'data/ds' || (g % 10) || '/' end as prefix) p,
    jsonb_array_elements(pg_temp.build_events('gen-' || g, p.prefix || 'p' || g || 'a', p.prefix || 'p' || g || 'b',
                                              'job-' || g, 'etl/ds' || (g % 10))) e))
$$;

-- Median and p95 (ms) of n executions of q (which returns one bigint), timed server-side.
create or replace function pg_temp.bench(q text, n int)
returns table(median_ms numeric, p95_ms numeric, result bigint) language plpgsql as $$
declare t0 timestamptz; ts float8[] := '{}'; r bigint;
begin
  for i in 1..n loop
    t0 := clock_timestamp();
    execute q into r;
    ts := ts || extract(epoch from clock_timestamp() - t0)::float8 * 1000;
  end loop;
  return query select round(percentile_cont(0.5) within group (order by x)::numeric, 3),
                      round(percentile_cont(0.95) within group (order by x)::numeric, 3), r
               from unnest(ts) x;
end $$;
