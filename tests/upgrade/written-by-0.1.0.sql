-- A database as bel 0.1.0 itself wrote it: tests/upgrade/fill.sql run against the 0.1.0
-- library (built at commit 8a5ea35) with CREATE EXTENSION bel VERSION '0.1.0', then
--   pg_dump --data-only -n bel             (bel's rows and its idx sequence)
--   pg_dump --no-owner --no-privileges -n upgrade_check   (fill.sql's copy of what the
--                                            0.1.0 library read back: list_events, job_runs,
--                                            build_summary, the projections)
-- without pg_dump's \restrict lines. scripts/upgrade-test.sh loads it into a database that
-- has CREATE EXTENSION bel VERSION '0.1.0', updates it, and runs tests/upgrade/checks.sql:
-- the current library must read rows the old one wrote exactly as the old one did.
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Data for Name: build_request_state; Type: TABLE DATA; Schema: bel; Owner: postgres
--

COPY bel.build_request_state (build_request_id, status, requested_partitions, delegations, first_idx, last_idx, created_at, updated_at) FROM stdin;
b-old-1	COMPLETED	{data/a/1,data/b/1}	{}	1	19	2026-11-30 08:14:10.917624+00	2026-11-30 08:14:11.07195+00
b-old-2	COMPLETED	{data/c/1}	{"data/a/1": "b-old-1"}	21	33	2026-11-30 08:14:11.080753+00	2026-11-30 08:14:11.24653+00
b-old-3	EXECUTING	{data/b/1,data/d/1}	{}	35	43	2026-11-30 08:14:11.283654+00	2026-11-30 08:14:11.359554+00
b-old-4	FAILED	{data/e/1}	{}	47	58	2026-11-30 08:14:11.397452+00	2026-11-30 08:14:11.495451+00
b-old-5	CANCELLED	{data/f/1}	{}	59	60	2026-11-30 08:14:11.499418+00	2026-11-30 08:14:11.510989+00
bp	RECEIVED	{p/1}	{}	61	61	2026-11-30 08:14:11.523866+00	2026-11-30 08:14:11.523866+00
b-old-text	RECEIVED	{data/t/1}	{}	62	62	2026-11-30 08:14:11.531448+00	2026-11-30 08:14:11.531448+00
\.


--
-- Data for Name: event_partitions; Type: TABLE DATA; Schema: bel; Owner: postgres
--

COPY bel.event_partitions (partition_ref, idx) FROM stdin;
data/a/1	1
data/b/1	1
data/a/1	3
data/b/1	4
data/a/1	5
data/b/1	6
data/a/1	8
data/b/1	9
data/a/1	11
data/b/1	12
data/a/1	13
data/b/1	14
data/a/1	15
data/b/1	16
data/a/1	17
data/b/1	18
data/c/1	21
data/a/1	23
data/c/1	24
data/c/1	25
data/c/1	27
data/c/1	29
data/c/1	30
data/c/1	31
data/c/1	32
data/b/1	34
data/b/1	35
data/d/1	35
data/b/1	37
data/d/1	38
data/b/1	39
data/d/1	40
data/b/1	42
data/d/1	42
data/b/1	44
data/d/1	45
data/b/1	46
data/d/1	46
data/e/1	47
data/e/1	49
data/e/1	50
data/e/1	52
data/e/1	54
data/e/1	55
data/e/1	56
data/e/1	57
data/f/1	59
p/1	61
data/t/1	62
\.


--
-- Data for Name: events; Type: TABLE DATA; Schema: bel; Owner: postgres
--

COPY bel.events (idx, event_type, schema_version, event_id, build_request_id, partition_ref, job_run_id, job_label, payload, created_at) FROM stdin;
1	build_request	1	old-1:received	b-old-1	\N	\N	\N	{"eventId": "old-1:received", "timestamp": "2026-11-30T08:14:10.917624+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "message": "nightly", "requestedPartitions": ["data/a/1", "data/b/1"]}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.915274+00
2	build_request	1	old-1:planning	b-old-1	\N	\N	\N	{"eventId": "old-1:planning", "timestamp": "2026-11-30T08:14:10.945421+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.945217+00
3	partition	1	old-1:a:requested	b-old-1	data/a/1	\N	\N	{"eventId": "old-1:a:requested", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.967448+00
4	partition	1	old-1:b:requested	b-old-1	data/b/1	\N	\N	{"eventId": "old-1:b:requested", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.967448+00
5	partition	1	\N	b-old-1	data/a/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.967448+00
6	partition	1	\N	b-old-1	data/b/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.967448+00
7	build_request	1	\N	b-old-1	\N	\N	\N	{"timestamp": "2026-11-30T08:14:10.983568+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.983405+00
8	job_run	1	\N	b-old-1	\N	j-old-1a	etl/a	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/a", "jobRunId": "j-old-1a", "targetPartitions": ["data/a/1"]}, "timestamp": "2026-11-30T08:14:10.995112+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.994961+00
9	job_run	1	\N	b-old-1	\N	j-old-1b	etl/b	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/b", "jobRunId": "j-old-1b", "targetPartitions": ["data/b/1"]}, "timestamp": "2026-11-30T08:14:10.999464+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.999351+00
10	build_request	1	\N	b-old-1	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.011750+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.011509+00
11	partition	1	\N	b-old-1	data/a/1	j-old-1a	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-1a", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:11.020332+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.020218+00
12	partition	1	\N	b-old-1	data/b/1	j-old-1b	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-1b", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.027580+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.027482+00
13	job_run	1	\N	b-old-1	\N	j-old-1a	etl/a	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/a", "jobRunId": "j-old-1a", "targetPartitions": ["data/a/1"]}, "timestamp": "2026-11-30T08:14:11.030524+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.030257+00
14	job_run	1	\N	b-old-1	\N	j-old-1b	etl/b	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/b", "jobRunId": "j-old-1b", "targetPartitions": ["data/b/1"]}, "timestamp": "2026-11-30T08:14:11.043462+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.043346+00
15	partition	1	\N	b-old-1	data/a/1	j-old-1a	\N	{"partition": {"status": "PARTITION_AVAILABLE", "jobRunId": "j-old-1a", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:11.049288+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.049188+00
16	partition	1	\N	b-old-1	data/b/1	j-old-1b	\N	{"partition": {"status": "PARTITION_AVAILABLE", "jobRunId": "j-old-1b", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.055475+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.055364+00
17	job_run	1	\N	b-old-1	\N	j-old-1a	etl/a	{"jobRun": {"status": "JOB_RUN_COMPLETED", "message": "wrote 10 rows", "jobLabel": "etl/a", "jobRunId": "j-old-1a", "targetPartitions": ["data/a/1"]}, "timestamp": "2026-11-30T08:14:11.063542+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.063423+00
18	job_run	1	\N	b-old-1	\N	j-old-1b	etl/b	{"jobRun": {"status": "JOB_RUN_COMPLETED", "jobLabel": "etl/b", "jobRunId": "j-old-1b", "targetPartitions": ["data/b/1"]}, "timestamp": "2026-11-30T08:14:11.070516+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.069999+00
19	build_request	1	old-1:completed	b-old-1	\N	\N	\N	{"eventId": "old-1:completed", "timestamp": "2026-11-30T08:14:11.071950+00:00", "buildRequest": {"status": "BUILD_REQUEST_COMPLETED"}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.071853+00
21	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.080753+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/c/1"]}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.080588+00
22	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.086639+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.08653+00
23	delegation	1	\N	b-old-2	data/a/1	\N	\N	{"timestamp": "2026-11-30T08:14:11.097848+00:00", "delegation": {"message": "input built by b-old-1", "partitionRef": "data/a/1", "delegatedToBuildRequestId": "b-old-1"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.097739+00
24	partition	1	\N	b-old-2	data/c/1	\N	\N	{"partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.103513+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.103409+00
25	partition	1	\N	b-old-2	data/c/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.111543+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.11136+00
26	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.119481+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.119068+00
27	job_run	1	\N	b-old-2	\N	j-old-2	reports/c	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "reports/c", "jobRunId": "j-old-2", "targetPartitions": ["data/c/1"]}, "timestamp": "2026-11-30T08:14:11.127066+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.12694+00
28	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.135475+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.135364+00
29	partition	1	\N	b-old-2	data/c/1	j-old-2	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-2", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.140437+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.140342+00
30	job_run	1	\N	b-old-2	\N	j-old-2	reports/c	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "reports/c", "jobRunId": "j-old-2", "targetPartitions": ["data/c/1"]}, "timestamp": "2026-11-30T08:14:11.147590+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.147367+00
31	partition	1	\N	b-old-2	data/c/1	j-old-2	\N	{"partition": {"status": "PARTITION_AVAILABLE", "jobRunId": "j-old-2", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.159363+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.159269+00
32	job_run	1	\N	b-old-2	\N	j-old-2	reports/c	{"jobRun": {"status": "JOB_RUN_COMPLETED", "jobLabel": "reports/c", "jobRunId": "j-old-2", "targetPartitions": ["data/c/1"]}, "timestamp": "2026-11-30T08:14:11.203729+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.203289+00
33	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.246530+00:00", "buildRequest": {"status": "BUILD_REQUEST_COMPLETED"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.246299+00
34	invalidation	1	invalidate:data/b/1	\N	data/b/1	\N	\N	{"eventId": "invalidate:data/b/1", "timestamp": "2026-11-30T08:14:11.276020+00:00", "invalidation": {"reason": "late upstream data", "partitionRef": "data/b/1"}}	2026-11-30 08:14:11.275786+00
35	build_request	1	\N	b-old-3	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.283654+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/b/1", "data/d/1"]}, "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.283491+00
36	build_request	1	\N	b-old-3	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.295641+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.295364+00
37	partition	1	\N	b-old-3	data/b/1	\N	\N	{"partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.303613+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.303489+00
38	partition	1	\N	b-old-3	data/d/1	\N	\N	{"partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/d/1"}, "timestamp": "2026-11-30T08:14:11.313981+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.313854+00
39	partition	1	\N	b-old-3	data/b/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.319476+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.319369+00
40	partition	1	\N	b-old-3	data/d/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/d/1"}, "timestamp": "2026-11-30T08:14:11.327182+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.327075+00
41	build_request	1	\N	b-old-3	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.335500+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.33539+00
42	job_run	1	\N	b-old-3	\N	j-old-3	etl/bd	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/bd", "jobRunId": "j-old-3", "targetPartitions": ["data/b/1", "data/d/1"]}, "timestamp": "2026-11-30T08:14:11.347660+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.34738+00
43	build_request	1	\N	b-old-3	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.359554+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.359444+00
44	partition	1	\N	b-old-3	data/b/1	j-old-3	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-3", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.366528+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.366421+00
45	partition	1	\N	b-old-3	data/d/1	j-old-3	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-3", "partitionRef": "data/d/1"}, "timestamp": "2026-11-30T08:14:11.379072+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.378862+00
46	job_run	1	\N	b-old-3	\N	j-old-3	etl/bd	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/bd", "jobRunId": "j-old-3", "targetPartitions": ["data/b/1", "data/d/1"]}, "timestamp": "2026-11-30T08:14:11.391776+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.391659+00
47	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.397452+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/e/1"]}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.397332+00
48	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.403601+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.40333+00
49	partition	1	\N	b-old-4	data/e/1	\N	\N	{"partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.413635+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.413528+00
50	partition	1	\N	b-old-4	data/e/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.423852+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.423748+00
51	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.431332+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.431157+00
52	job_run	1	\N	b-old-4	\N	j-old-4	etl/e	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/e", "jobRunId": "j-old-4", "targetPartitions": ["data/e/1"]}, "timestamp": "2026-11-30T08:14:11.451522+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.451382+00
53	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.459467+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.459354+00
54	partition	1	\N	b-old-4	data/e/1	j-old-4	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-4", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.464567+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.464458+00
55	job_run	1	\N	b-old-4	\N	j-old-4	etl/e	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/e", "jobRunId": "j-old-4", "targetPartitions": ["data/e/1"]}, "timestamp": "2026-11-30T08:14:11.479477+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.479352+00
56	partition	1	\N	b-old-4	data/e/1	j-old-4	\N	{"partition": {"status": "PARTITION_FAILED", "message": "disk full", "jobRunId": "j-old-4", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.481666+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.481569+00
57	job_run	1	\N	b-old-4	\N	j-old-4	etl/e	{"jobRun": {"status": "JOB_RUN_FAILED", "message": "disk full", "exitCode": 3, "jobLabel": "etl/e", "jobRunId": "j-old-4", "targetPartitions": ["data/e/1"]}, "timestamp": "2026-11-30T08:14:11.487632+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.487504+00
58	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.495451+00:00", "buildRequest": {"status": "BUILD_REQUEST_FAILED", "message": "data/e/1 failed"}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.495335+00
59	build_request	1	\N	b-old-5	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.499418+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/f/1"]}, "buildRequestId": "b-old-5"}	2026-11-30 08:14:11.499315+00
60	build_request	1	\N	b-old-5	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.510989+00:00", "buildRequest": {"status": "BUILD_REQUEST_CANCELLED", "message": "superseded"}, "buildRequestId": "b-old-5"}	2026-11-30 08:14:11.510885+00
61	build_request	1	\N	bp	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.523866+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["p/1"]}, "buildRequestId": "bp"}	2026-11-30 08:14:11.523376+00
62	build_request	1	\N	b-old-text	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.531448+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/t/1"]}, "buildRequestId": "b-old-text"}	2026-11-30 08:14:11.531326+00
\.


--
-- Data for Name: job_run_state; Type: TABLE DATA; Schema: bel; Owner: postgres
--

COPY bel.job_run_state (job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message, first_idx, last_idx, created_at, updated_at) FROM stdin;
j-old-1a	b-old-1	etl/a	COMPLETED	{data/a/1}	0	wrote 10 rows	8	17	2026-11-30 08:14:10.995112+00	2026-11-30 08:14:11.063542+00
j-old-1b	b-old-1	etl/b	COMPLETED	{data/b/1}	0		9	18	2026-11-30 08:14:10.999464+00	2026-11-30 08:14:11.070516+00
j-old-2	b-old-2	reports/c	COMPLETED	{data/c/1}	0		27	32	2026-11-30 08:14:11.127066+00	2026-11-30 08:14:11.203729+00
j-old-3	b-old-3	etl/bd	RUNNING	{data/b/1,data/d/1}	\N		42	46	2026-11-30 08:14:11.34766+00	2026-11-30 08:14:11.391776+00
j-old-4	b-old-4	etl/e	FAILED	{data/e/1}	3	disk full	52	57	2026-11-30 08:14:11.451522+00	2026-11-30 08:14:11.487632+00
\.


--
-- Data for Name: known_partitions; Type: TABLE DATA; Schema: bel; Owner: postgres
--

COPY bel.known_partitions (partition_ref) FROM stdin;
data/a/1
data/b/1
data/c/1
data/d/1
data/e/1
data/f/1
p/1
data/t/1
\.


--
-- Data for Name: partition_state; Type: TABLE DATA; Schema: bel; Owner: postgres
--

COPY bel.partition_state (partition_ref, status, build_request_id, job_run_id, last_idx, updated_at) FROM stdin;
data/a/1	AVAILABLE	b-old-1	j-old-1a	15	2026-11-30 08:14:11.049288+00
data/c/1	AVAILABLE	b-old-2	j-old-2	31	2026-11-30 08:14:11.159363+00
data/b/1	BUILDING	b-old-3	j-old-3	44	2026-11-30 08:14:11.366528+00
data/d/1	BUILDING	b-old-3	j-old-3	45	2026-11-30 08:14:11.379072+00
data/e/1	FAILED	b-old-4	j-old-4	56	2026-11-30 08:14:11.481666+00
\.


--
-- Name: events_idx_seq; Type: SEQUENCE SET; Schema: bel; Owner: postgres
--

SELECT pg_catalog.setval('bel.events_idx_seq', 63, true);


--
-- PostgreSQL database dump complete
--


--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: upgrade_check; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA upgrade_check;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: build_request_state; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.build_request_state (
    build_request_id text COLLATE pg_catalog."C",
    status text,
    requested_partitions text[],
    delegations jsonb,
    first_idx bigint,
    last_idx bigint,
    created_at timestamp with time zone,
    updated_at timestamp with time zone
);


--
-- Name: build_summaries; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.build_summaries (
    build_request_id text COLLATE pg_catalog."C",
    summary jsonb
);


--
-- Name: event_partitions; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.event_partitions (
    partition_ref text COLLATE pg_catalog."C",
    idx bigint
);


--
-- Name: events; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.events (
    idx bigint,
    event_type text,
    schema_version smallint,
    event_id text COLLATE pg_catalog."C",
    build_request_id text COLLATE pg_catalog."C",
    partition_ref text COLLATE pg_catalog."C",
    job_run_id text COLLATE pg_catalog."C",
    job_label text COLLATE pg_catalog."C",
    payload jsonb,
    created_at timestamp with time zone
);


--
-- Name: job_run_state; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.job_run_state (
    job_run_id text COLLATE pg_catalog."C",
    build_request_id text COLLATE pg_catalog."C",
    job_label text COLLATE pg_catalog."C",
    status text,
    target_partitions text[],
    exit_code integer,
    message text,
    first_idx bigint,
    last_idx bigint,
    created_at timestamp with time zone,
    updated_at timestamp with time zone
);


--
-- Name: job_runs; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.job_runs (
    job_run_id text,
    build_request_id text,
    job_label text,
    status text,
    target_partitions text[],
    exit_code integer,
    message text,
    first_idx bigint,
    last_idx bigint,
    created_at timestamp with time zone,
    updated_at timestamp with time zone
);


--
-- Name: known_partitions; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.known_partitions (
    partition_ref text COLLATE pg_catalog."C"
);


--
-- Name: list_events; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.list_events (
    idx bigint,
    event jsonb,
    event_type text,
    build_request_id text,
    partition_ref text,
    job_run_id text,
    job_label text,
    created_at timestamp with time zone
);


--
-- Name: partition_state; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.partition_state (
    partition_ref text COLLATE pg_catalog."C",
    status text,
    build_request_id text COLLATE pg_catalog."C",
    job_run_id text COLLATE pg_catalog."C",
    last_idx bigint,
    updated_at timestamp with time zone
);


--
-- Name: sequence; Type: TABLE; Schema: upgrade_check; Owner: -
--

CREATE TABLE upgrade_check.sequence (
    last_value bigint
);


--
-- Data for Name: build_request_state; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.build_request_state (build_request_id, status, requested_partitions, delegations, first_idx, last_idx, created_at, updated_at) FROM stdin;
b-old-1	COMPLETED	{data/a/1,data/b/1}	{}	1	19	2026-11-30 08:14:10.917624+00	2026-11-30 08:14:11.07195+00
b-old-2	COMPLETED	{data/c/1}	{"data/a/1": "b-old-1"}	21	33	2026-11-30 08:14:11.080753+00	2026-11-30 08:14:11.24653+00
b-old-3	EXECUTING	{data/b/1,data/d/1}	{}	35	43	2026-11-30 08:14:11.283654+00	2026-11-30 08:14:11.359554+00
b-old-4	FAILED	{data/e/1}	{}	47	58	2026-11-30 08:14:11.397452+00	2026-11-30 08:14:11.495451+00
b-old-5	CANCELLED	{data/f/1}	{}	59	60	2026-11-30 08:14:11.499418+00	2026-11-30 08:14:11.510989+00
bp	RECEIVED	{p/1}	{}	61	61	2026-11-30 08:14:11.523866+00	2026-11-30 08:14:11.523866+00
b-old-text	RECEIVED	{data/t/1}	{}	62	62	2026-11-30 08:14:11.531448+00	2026-11-30 08:14:11.531448+00
\.


--
-- Data for Name: build_summaries; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.build_summaries (build_request_id, summary) FROM stdin;
b-old-1	{"status": "COMPLETED", "jobRuns": [{"status": "COMPLETED", "lastIdx": 17, "message": "wrote 10 rows", "exitCode": 0, "firstIdx": 8, "jobLabel": "etl/a", "jobRunId": "j-old-1a", "createdAt": "2026-11-30T08:14:10.995112+00:00", "updatedAt": "2026-11-30T08:14:11.063542+00:00", "buildRequestId": "b-old-1", "targetPartitions": ["data/a/1"]}, {"status": "COMPLETED", "lastIdx": 18, "message": "", "exitCode": 0, "firstIdx": 9, "jobLabel": "etl/b", "jobRunId": "j-old-1b", "createdAt": "2026-11-30T08:14:10.999464+00:00", "updatedAt": "2026-11-30T08:14:11.070516+00:00", "buildRequestId": "b-old-1", "targetPartitions": ["data/b/1"]}], "lastIdx": 19, "firstIdx": 1, "eventCount": 19, "delegations": [], "lastEventAt": "2026-11-30T08:14:11.071853+00:00", "firstEventAt": "2026-11-30T08:14:10.915274+00:00", "buildRequestId": "b-old-1", "durationSeconds": 0.156579, "jobRunsByStatus": {"COMPLETED": ["j-old-1a", "j-old-1b"]}, "partitionsByStatus": {"BUILDING": ["data/b/1"], "AVAILABLE": ["data/a/1"]}, "requestedPartitions": [{"status": "AVAILABLE", "jobRunId": "j-old-1a", "partitionRef": "data/a/1", "ownerBuildRequestId": "b-old-1", "delegatedToBuildRequestId": null}, {"status": "BUILDING", "jobRunId": "j-old-3", "partitionRef": "data/b/1", "ownerBuildRequestId": "b-old-3", "delegatedToBuildRequestId": null}]}
b-old-2	{"status": "COMPLETED", "jobRuns": [{"status": "COMPLETED", "lastIdx": 32, "message": "", "exitCode": 0, "firstIdx": 27, "jobLabel": "reports/c", "jobRunId": "j-old-2", "createdAt": "2026-11-30T08:14:11.127066+00:00", "updatedAt": "2026-11-30T08:14:11.203729+00:00", "buildRequestId": "b-old-2", "targetPartitions": ["data/c/1"]}], "lastIdx": 33, "firstIdx": 21, "eventCount": 13, "delegations": [{"partitionRef": "data/a/1", "partitionStatus": null, "delegatedToBuildRequestId": "b-old-1"}], "lastEventAt": "2026-11-30T08:14:11.246299+00:00", "firstEventAt": "2026-11-30T08:14:11.080588+00:00", "buildRequestId": "b-old-2", "durationSeconds": 0.165711, "jobRunsByStatus": {"COMPLETED": ["j-old-2"]}, "partitionsByStatus": {"AVAILABLE": ["data/c/1"]}, "requestedPartitions": [{"status": "AVAILABLE", "jobRunId": "j-old-2", "partitionRef": "data/c/1", "ownerBuildRequestId": "b-old-2", "delegatedToBuildRequestId": null}]}
b-old-3	{"status": "EXECUTING", "jobRuns": [{"status": "RUNNING", "lastIdx": 46, "message": "", "exitCode": null, "firstIdx": 42, "jobLabel": "etl/bd", "jobRunId": "j-old-3", "createdAt": "2026-11-30T08:14:11.34766+00:00", "updatedAt": "2026-11-30T08:14:11.391776+00:00", "buildRequestId": "b-old-3", "targetPartitions": ["data/b/1", "data/d/1"]}], "lastIdx": 46, "firstIdx": 35, "eventCount": 12, "delegations": [], "lastEventAt": "2026-11-30T08:14:11.391659+00:00", "firstEventAt": "2026-11-30T08:14:11.283491+00:00", "buildRequestId": "b-old-3", "durationSeconds": 0.108168, "jobRunsByStatus": {"RUNNING": ["j-old-3"]}, "partitionsByStatus": {"BUILDING": ["data/b/1", "data/d/1"]}, "requestedPartitions": [{"status": "BUILDING", "jobRunId": "j-old-3", "partitionRef": "data/b/1", "ownerBuildRequestId": "b-old-3", "delegatedToBuildRequestId": null}, {"status": "BUILDING", "jobRunId": "j-old-3", "partitionRef": "data/d/1", "ownerBuildRequestId": "b-old-3", "delegatedToBuildRequestId": null}]}
b-old-4	{"status": "FAILED", "jobRuns": [{"status": "FAILED", "lastIdx": 57, "message": "disk full", "exitCode": 3, "firstIdx": 52, "jobLabel": "etl/e", "jobRunId": "j-old-4", "createdAt": "2026-11-30T08:14:11.451522+00:00", "updatedAt": "2026-11-30T08:14:11.487632+00:00", "buildRequestId": "b-old-4", "targetPartitions": ["data/e/1"]}], "lastIdx": 58, "firstIdx": 47, "eventCount": 12, "delegations": [], "lastEventAt": "2026-11-30T08:14:11.495335+00:00", "firstEventAt": "2026-11-30T08:14:11.397332+00:00", "buildRequestId": "b-old-4", "durationSeconds": 0.098003, "jobRunsByStatus": {"FAILED": ["j-old-4"]}, "partitionsByStatus": {"FAILED": ["data/e/1"]}, "requestedPartitions": [{"status": "FAILED", "jobRunId": "j-old-4", "partitionRef": "data/e/1", "ownerBuildRequestId": "b-old-4", "delegatedToBuildRequestId": null}]}
b-old-5	{"status": "CANCELLED", "jobRuns": [], "lastIdx": 60, "firstIdx": 59, "eventCount": 2, "delegations": [], "lastEventAt": "2026-11-30T08:14:11.510885+00:00", "firstEventAt": "2026-11-30T08:14:11.499315+00:00", "buildRequestId": "b-old-5", "durationSeconds": 0.01157, "jobRunsByStatus": {}, "partitionsByStatus": {"NONE": ["data/f/1"]}, "requestedPartitions": [{"status": "NONE", "jobRunId": null, "partitionRef": "data/f/1", "ownerBuildRequestId": null, "delegatedToBuildRequestId": null}]}
bp	{"status": "RECEIVED", "jobRuns": [], "lastIdx": 61, "firstIdx": 61, "eventCount": 1, "delegations": [], "lastEventAt": "2026-11-30T08:14:11.523376+00:00", "firstEventAt": "2026-11-30T08:14:11.523376+00:00", "buildRequestId": "bp", "durationSeconds": 0.0, "jobRunsByStatus": {}, "partitionsByStatus": {"NONE": ["p/1"]}, "requestedPartitions": [{"status": "NONE", "jobRunId": null, "partitionRef": "p/1", "ownerBuildRequestId": null, "delegatedToBuildRequestId": null}]}
b-old-text	{"status": "RECEIVED", "jobRuns": [], "lastIdx": 62, "firstIdx": 62, "eventCount": 1, "delegations": [], "lastEventAt": "2026-11-30T08:14:11.531326+00:00", "firstEventAt": "2026-11-30T08:14:11.531326+00:00", "buildRequestId": "b-old-text", "durationSeconds": 0.0, "jobRunsByStatus": {}, "partitionsByStatus": {"NONE": ["data/t/1"]}, "requestedPartitions": [{"status": "NONE", "jobRunId": null, "partitionRef": "data/t/1", "ownerBuildRequestId": null, "delegatedToBuildRequestId": null}]}
\.


--
-- Data for Name: event_partitions; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.event_partitions (partition_ref, idx) FROM stdin;
data/a/1	1
data/b/1	1
data/a/1	3
data/b/1	4
data/a/1	5
data/b/1	6
data/a/1	8
data/b/1	9
data/a/1	11
data/b/1	12
data/a/1	13
data/b/1	14
data/a/1	15
data/b/1	16
data/a/1	17
data/b/1	18
data/c/1	21
data/a/1	23
data/c/1	24
data/c/1	25
data/c/1	27
data/c/1	29
data/c/1	30
data/c/1	31
data/c/1	32
data/b/1	34
data/b/1	35
data/d/1	35
data/b/1	37
data/d/1	38
data/b/1	39
data/d/1	40
data/b/1	42
data/d/1	42
data/b/1	44
data/d/1	45
data/b/1	46
data/d/1	46
data/e/1	47
data/e/1	49
data/e/1	50
data/e/1	52
data/e/1	54
data/e/1	55
data/e/1	56
data/e/1	57
data/f/1	59
p/1	61
data/t/1	62
\.


--
-- Data for Name: events; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.events (idx, event_type, schema_version, event_id, build_request_id, partition_ref, job_run_id, job_label, payload, created_at) FROM stdin;
1	build_request	1	old-1:received	b-old-1	\N	\N	\N	{"eventId": "old-1:received", "timestamp": "2026-11-30T08:14:10.917624+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "message": "nightly", "requestedPartitions": ["data/a/1", "data/b/1"]}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.915274+00
2	build_request	1	old-1:planning	b-old-1	\N	\N	\N	{"eventId": "old-1:planning", "timestamp": "2026-11-30T08:14:10.945421+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.945217+00
3	partition	1	old-1:a:requested	b-old-1	data/a/1	\N	\N	{"eventId": "old-1:a:requested", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.967448+00
4	partition	1	old-1:b:requested	b-old-1	data/b/1	\N	\N	{"eventId": "old-1:b:requested", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.967448+00
5	partition	1	\N	b-old-1	data/a/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.967448+00
6	partition	1	\N	b-old-1	data/b/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.967448+00
7	build_request	1	\N	b-old-1	\N	\N	\N	{"timestamp": "2026-11-30T08:14:10.983568+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.983405+00
8	job_run	1	\N	b-old-1	\N	j-old-1a	etl/a	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/a", "jobRunId": "j-old-1a", "targetPartitions": ["data/a/1"]}, "timestamp": "2026-11-30T08:14:10.995112+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.994961+00
9	job_run	1	\N	b-old-1	\N	j-old-1b	etl/b	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/b", "jobRunId": "j-old-1b", "targetPartitions": ["data/b/1"]}, "timestamp": "2026-11-30T08:14:10.999464+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:10.999351+00
10	build_request	1	\N	b-old-1	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.011750+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.011509+00
11	partition	1	\N	b-old-1	data/a/1	j-old-1a	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-1a", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:11.020332+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.020218+00
12	partition	1	\N	b-old-1	data/b/1	j-old-1b	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-1b", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.027580+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.027482+00
13	job_run	1	\N	b-old-1	\N	j-old-1a	etl/a	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/a", "jobRunId": "j-old-1a", "targetPartitions": ["data/a/1"]}, "timestamp": "2026-11-30T08:14:11.030524+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.030257+00
14	job_run	1	\N	b-old-1	\N	j-old-1b	etl/b	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/b", "jobRunId": "j-old-1b", "targetPartitions": ["data/b/1"]}, "timestamp": "2026-11-30T08:14:11.043462+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.043346+00
15	partition	1	\N	b-old-1	data/a/1	j-old-1a	\N	{"partition": {"status": "PARTITION_AVAILABLE", "jobRunId": "j-old-1a", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:11.049288+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.049188+00
16	partition	1	\N	b-old-1	data/b/1	j-old-1b	\N	{"partition": {"status": "PARTITION_AVAILABLE", "jobRunId": "j-old-1b", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.055475+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.055364+00
17	job_run	1	\N	b-old-1	\N	j-old-1a	etl/a	{"jobRun": {"status": "JOB_RUN_COMPLETED", "message": "wrote 10 rows", "jobLabel": "etl/a", "jobRunId": "j-old-1a", "targetPartitions": ["data/a/1"]}, "timestamp": "2026-11-30T08:14:11.063542+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.063423+00
18	job_run	1	\N	b-old-1	\N	j-old-1b	etl/b	{"jobRun": {"status": "JOB_RUN_COMPLETED", "jobLabel": "etl/b", "jobRunId": "j-old-1b", "targetPartitions": ["data/b/1"]}, "timestamp": "2026-11-30T08:14:11.070516+00:00", "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.069999+00
19	build_request	1	old-1:completed	b-old-1	\N	\N	\N	{"eventId": "old-1:completed", "timestamp": "2026-11-30T08:14:11.071950+00:00", "buildRequest": {"status": "BUILD_REQUEST_COMPLETED"}, "buildRequestId": "b-old-1"}	2026-11-30 08:14:11.071853+00
21	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.080753+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/c/1"]}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.080588+00
22	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.086639+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.08653+00
23	delegation	1	\N	b-old-2	data/a/1	\N	\N	{"timestamp": "2026-11-30T08:14:11.097848+00:00", "delegation": {"message": "input built by b-old-1", "partitionRef": "data/a/1", "delegatedToBuildRequestId": "b-old-1"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.097739+00
24	partition	1	\N	b-old-2	data/c/1	\N	\N	{"partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.103513+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.103409+00
25	partition	1	\N	b-old-2	data/c/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.111543+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.11136+00
26	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.119481+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.119068+00
27	job_run	1	\N	b-old-2	\N	j-old-2	reports/c	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "reports/c", "jobRunId": "j-old-2", "targetPartitions": ["data/c/1"]}, "timestamp": "2026-11-30T08:14:11.127066+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.12694+00
28	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.135475+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.135364+00
29	partition	1	\N	b-old-2	data/c/1	j-old-2	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-2", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.140437+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.140342+00
30	job_run	1	\N	b-old-2	\N	j-old-2	reports/c	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "reports/c", "jobRunId": "j-old-2", "targetPartitions": ["data/c/1"]}, "timestamp": "2026-11-30T08:14:11.147590+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.147367+00
31	partition	1	\N	b-old-2	data/c/1	j-old-2	\N	{"partition": {"status": "PARTITION_AVAILABLE", "jobRunId": "j-old-2", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.159363+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.159269+00
32	job_run	1	\N	b-old-2	\N	j-old-2	reports/c	{"jobRun": {"status": "JOB_RUN_COMPLETED", "jobLabel": "reports/c", "jobRunId": "j-old-2", "targetPartitions": ["data/c/1"]}, "timestamp": "2026-11-30T08:14:11.203729+00:00", "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.203289+00
33	build_request	1	\N	b-old-2	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.246530+00:00", "buildRequest": {"status": "BUILD_REQUEST_COMPLETED"}, "buildRequestId": "b-old-2"}	2026-11-30 08:14:11.246299+00
34	invalidation	1	invalidate:data/b/1	\N	data/b/1	\N	\N	{"eventId": "invalidate:data/b/1", "timestamp": "2026-11-30T08:14:11.276020+00:00", "invalidation": {"reason": "late upstream data", "partitionRef": "data/b/1"}}	2026-11-30 08:14:11.275786+00
35	build_request	1	\N	b-old-3	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.283654+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/b/1", "data/d/1"]}, "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.283491+00
36	build_request	1	\N	b-old-3	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.295641+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.295364+00
37	partition	1	\N	b-old-3	data/b/1	\N	\N	{"partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.303613+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.303489+00
38	partition	1	\N	b-old-3	data/d/1	\N	\N	{"partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/d/1"}, "timestamp": "2026-11-30T08:14:11.313981+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.313854+00
39	partition	1	\N	b-old-3	data/b/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.319476+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.319369+00
40	partition	1	\N	b-old-3	data/d/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/d/1"}, "timestamp": "2026-11-30T08:14:11.327182+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.327075+00
41	build_request	1	\N	b-old-3	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.335500+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.33539+00
42	job_run	1	\N	b-old-3	\N	j-old-3	etl/bd	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/bd", "jobRunId": "j-old-3", "targetPartitions": ["data/b/1", "data/d/1"]}, "timestamp": "2026-11-30T08:14:11.347660+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.34738+00
43	build_request	1	\N	b-old-3	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.359554+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.359444+00
44	partition	1	\N	b-old-3	data/b/1	j-old-3	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-3", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.366528+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.366421+00
45	partition	1	\N	b-old-3	data/d/1	j-old-3	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-3", "partitionRef": "data/d/1"}, "timestamp": "2026-11-30T08:14:11.379072+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.378862+00
46	job_run	1	\N	b-old-3	\N	j-old-3	etl/bd	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/bd", "jobRunId": "j-old-3", "targetPartitions": ["data/b/1", "data/d/1"]}, "timestamp": "2026-11-30T08:14:11.391776+00:00", "buildRequestId": "b-old-3"}	2026-11-30 08:14:11.391659+00
47	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.397452+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/e/1"]}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.397332+00
48	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.403601+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.40333+00
49	partition	1	\N	b-old-4	data/e/1	\N	\N	{"partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.413635+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.413528+00
50	partition	1	\N	b-old-4	data/e/1	\N	\N	{"partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.423852+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.423748+00
51	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.431332+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.431157+00
52	job_run	1	\N	b-old-4	\N	j-old-4	etl/e	{"jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/e", "jobRunId": "j-old-4", "targetPartitions": ["data/e/1"]}, "timestamp": "2026-11-30T08:14:11.451522+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.451382+00
53	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.459467+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.459354+00
54	partition	1	\N	b-old-4	data/e/1	j-old-4	\N	{"partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-4", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.464567+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.464458+00
55	job_run	1	\N	b-old-4	\N	j-old-4	etl/e	{"jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/e", "jobRunId": "j-old-4", "targetPartitions": ["data/e/1"]}, "timestamp": "2026-11-30T08:14:11.479477+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.479352+00
56	partition	1	\N	b-old-4	data/e/1	j-old-4	\N	{"partition": {"status": "PARTITION_FAILED", "message": "disk full", "jobRunId": "j-old-4", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.481666+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.481569+00
57	job_run	1	\N	b-old-4	\N	j-old-4	etl/e	{"jobRun": {"status": "JOB_RUN_FAILED", "message": "disk full", "exitCode": 3, "jobLabel": "etl/e", "jobRunId": "j-old-4", "targetPartitions": ["data/e/1"]}, "timestamp": "2026-11-30T08:14:11.487632+00:00", "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.487504+00
58	build_request	1	\N	b-old-4	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.495451+00:00", "buildRequest": {"status": "BUILD_REQUEST_FAILED", "message": "data/e/1 failed"}, "buildRequestId": "b-old-4"}	2026-11-30 08:14:11.495335+00
59	build_request	1	\N	b-old-5	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.499418+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/f/1"]}, "buildRequestId": "b-old-5"}	2026-11-30 08:14:11.499315+00
60	build_request	1	\N	b-old-5	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.510989+00:00", "buildRequest": {"status": "BUILD_REQUEST_CANCELLED", "message": "superseded"}, "buildRequestId": "b-old-5"}	2026-11-30 08:14:11.510885+00
61	build_request	1	\N	bp	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.523866+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["p/1"]}, "buildRequestId": "bp"}	2026-11-30 08:14:11.523376+00
62	build_request	1	\N	b-old-text	\N	\N	\N	{"timestamp": "2026-11-30T08:14:11.531448+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/t/1"]}, "buildRequestId": "b-old-text"}	2026-11-30 08:14:11.531326+00
\.


--
-- Data for Name: job_run_state; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.job_run_state (job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message, first_idx, last_idx, created_at, updated_at) FROM stdin;
j-old-1a	b-old-1	etl/a	COMPLETED	{data/a/1}	0	wrote 10 rows	8	17	2026-11-30 08:14:10.995112+00	2026-11-30 08:14:11.063542+00
j-old-1b	b-old-1	etl/b	COMPLETED	{data/b/1}	0		9	18	2026-11-30 08:14:10.999464+00	2026-11-30 08:14:11.070516+00
j-old-2	b-old-2	reports/c	COMPLETED	{data/c/1}	0		27	32	2026-11-30 08:14:11.127066+00	2026-11-30 08:14:11.203729+00
j-old-3	b-old-3	etl/bd	RUNNING	{data/b/1,data/d/1}	\N		42	46	2026-11-30 08:14:11.34766+00	2026-11-30 08:14:11.391776+00
j-old-4	b-old-4	etl/e	FAILED	{data/e/1}	3	disk full	52	57	2026-11-30 08:14:11.451522+00	2026-11-30 08:14:11.487632+00
\.


--
-- Data for Name: job_runs; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.job_runs (job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message, first_idx, last_idx, created_at, updated_at) FROM stdin;
j-old-1a	b-old-1	etl/a	COMPLETED	{data/a/1}	0	wrote 10 rows	8	17	2026-11-30 08:14:10.995112+00	2026-11-30 08:14:11.063542+00
j-old-1b	b-old-1	etl/b	COMPLETED	{data/b/1}	0		9	18	2026-11-30 08:14:10.999464+00	2026-11-30 08:14:11.070516+00
j-old-2	b-old-2	reports/c	COMPLETED	{data/c/1}	0		27	32	2026-11-30 08:14:11.127066+00	2026-11-30 08:14:11.203729+00
j-old-3	b-old-3	etl/bd	RUNNING	{data/b/1,data/d/1}	\N		42	46	2026-11-30 08:14:11.34766+00	2026-11-30 08:14:11.391776+00
j-old-4	b-old-4	etl/e	FAILED	{data/e/1}	3	disk full	52	57	2026-11-30 08:14:11.451522+00	2026-11-30 08:14:11.487632+00
\.


--
-- Data for Name: known_partitions; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.known_partitions (partition_ref) FROM stdin;
data/a/1
data/b/1
data/c/1
data/d/1
data/e/1
data/f/1
p/1
data/t/1
\.


--
-- Data for Name: list_events; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.list_events (idx, event, event_type, build_request_id, partition_ref, job_run_id, job_label, created_at) FROM stdin;
1	{"idx": "1", "eventId": "old-1:received", "timestamp": "2026-11-30T08:14:10.917624+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "message": "nightly", "requestedPartitions": ["data/a/1", "data/b/1"]}, "buildRequestId": "b-old-1"}	build_request	b-old-1	\N	\N	\N	2026-11-30 08:14:10.915274+00
2	{"idx": "2", "eventId": "old-1:planning", "timestamp": "2026-11-30T08:14:10.945421+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-1"}	build_request	b-old-1	\N	\N	\N	2026-11-30 08:14:10.945217+00
3	{"idx": "3", "eventId": "old-1:a:requested", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	partition	b-old-1	data/a/1	\N	\N	2026-11-30 08:14:10.967448+00
4	{"idx": "4", "eventId": "old-1:b:requested", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	partition	b-old-1	data/b/1	\N	\N	2026-11-30 08:14:10.967448+00
5	{"idx": "5", "partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	partition	b-old-1	data/a/1	\N	\N	2026-11-30 08:14:10.967448+00
6	{"idx": "6", "partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:10.967851+00:00", "buildRequestId": "b-old-1"}	partition	b-old-1	data/b/1	\N	\N	2026-11-30 08:14:10.967448+00
7	{"idx": "7", "timestamp": "2026-11-30T08:14:10.983568+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-1"}	build_request	b-old-1	\N	\N	\N	2026-11-30 08:14:10.983405+00
8	{"idx": "8", "jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/a", "jobRunId": "j-old-1a", "targetPartitions": ["data/a/1"]}, "timestamp": "2026-11-30T08:14:10.995112+00:00", "buildRequestId": "b-old-1"}	job_run	b-old-1	\N	j-old-1a	etl/a	2026-11-30 08:14:10.994961+00
9	{"idx": "9", "jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/b", "jobRunId": "j-old-1b", "targetPartitions": ["data/b/1"]}, "timestamp": "2026-11-30T08:14:10.999464+00:00", "buildRequestId": "b-old-1"}	job_run	b-old-1	\N	j-old-1b	etl/b	2026-11-30 08:14:10.999351+00
10	{"idx": "10", "timestamp": "2026-11-30T08:14:11.011750+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-1"}	build_request	b-old-1	\N	\N	\N	2026-11-30 08:14:11.011509+00
11	{"idx": "11", "partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-1a", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:11.020332+00:00", "buildRequestId": "b-old-1"}	partition	b-old-1	data/a/1	j-old-1a	\N	2026-11-30 08:14:11.020218+00
12	{"idx": "12", "partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-1b", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.027580+00:00", "buildRequestId": "b-old-1"}	partition	b-old-1	data/b/1	j-old-1b	\N	2026-11-30 08:14:11.027482+00
13	{"idx": "13", "jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/a", "jobRunId": "j-old-1a", "targetPartitions": ["data/a/1"]}, "timestamp": "2026-11-30T08:14:11.030524+00:00", "buildRequestId": "b-old-1"}	job_run	b-old-1	\N	j-old-1a	etl/a	2026-11-30 08:14:11.030257+00
14	{"idx": "14", "jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/b", "jobRunId": "j-old-1b", "targetPartitions": ["data/b/1"]}, "timestamp": "2026-11-30T08:14:11.043462+00:00", "buildRequestId": "b-old-1"}	job_run	b-old-1	\N	j-old-1b	etl/b	2026-11-30 08:14:11.043346+00
15	{"idx": "15", "partition": {"status": "PARTITION_AVAILABLE", "jobRunId": "j-old-1a", "partitionRef": "data/a/1"}, "timestamp": "2026-11-30T08:14:11.049288+00:00", "buildRequestId": "b-old-1"}	partition	b-old-1	data/a/1	j-old-1a	\N	2026-11-30 08:14:11.049188+00
16	{"idx": "16", "partition": {"status": "PARTITION_AVAILABLE", "jobRunId": "j-old-1b", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.055475+00:00", "buildRequestId": "b-old-1"}	partition	b-old-1	data/b/1	j-old-1b	\N	2026-11-30 08:14:11.055364+00
17	{"idx": "17", "jobRun": {"status": "JOB_RUN_COMPLETED", "message": "wrote 10 rows", "jobLabel": "etl/a", "jobRunId": "j-old-1a", "targetPartitions": ["data/a/1"]}, "timestamp": "2026-11-30T08:14:11.063542+00:00", "buildRequestId": "b-old-1"}	job_run	b-old-1	\N	j-old-1a	etl/a	2026-11-30 08:14:11.063423+00
18	{"idx": "18", "jobRun": {"status": "JOB_RUN_COMPLETED", "jobLabel": "etl/b", "jobRunId": "j-old-1b", "targetPartitions": ["data/b/1"]}, "timestamp": "2026-11-30T08:14:11.070516+00:00", "buildRequestId": "b-old-1"}	job_run	b-old-1	\N	j-old-1b	etl/b	2026-11-30 08:14:11.069999+00
19	{"idx": "19", "eventId": "old-1:completed", "timestamp": "2026-11-30T08:14:11.071950+00:00", "buildRequest": {"status": "BUILD_REQUEST_COMPLETED"}, "buildRequestId": "b-old-1"}	build_request	b-old-1	\N	\N	\N	2026-11-30 08:14:11.071853+00
21	{"idx": "21", "timestamp": "2026-11-30T08:14:11.080753+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/c/1"]}, "buildRequestId": "b-old-2"}	build_request	b-old-2	\N	\N	\N	2026-11-30 08:14:11.080588+00
22	{"idx": "22", "timestamp": "2026-11-30T08:14:11.086639+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-2"}	build_request	b-old-2	\N	\N	\N	2026-11-30 08:14:11.08653+00
23	{"idx": "23", "timestamp": "2026-11-30T08:14:11.097848+00:00", "delegation": {"message": "input built by b-old-1", "partitionRef": "data/a/1", "delegatedToBuildRequestId": "b-old-1"}, "buildRequestId": "b-old-2"}	delegation	b-old-2	data/a/1	\N	\N	2026-11-30 08:14:11.097739+00
24	{"idx": "24", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.103513+00:00", "buildRequestId": "b-old-2"}	partition	b-old-2	data/c/1	\N	\N	2026-11-30 08:14:11.103409+00
25	{"idx": "25", "partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.111543+00:00", "buildRequestId": "b-old-2"}	partition	b-old-2	data/c/1	\N	\N	2026-11-30 08:14:11.11136+00
26	{"idx": "26", "timestamp": "2026-11-30T08:14:11.119481+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-2"}	build_request	b-old-2	\N	\N	\N	2026-11-30 08:14:11.119068+00
27	{"idx": "27", "jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "reports/c", "jobRunId": "j-old-2", "targetPartitions": ["data/c/1"]}, "timestamp": "2026-11-30T08:14:11.127066+00:00", "buildRequestId": "b-old-2"}	job_run	b-old-2	\N	j-old-2	reports/c	2026-11-30 08:14:11.12694+00
28	{"idx": "28", "timestamp": "2026-11-30T08:14:11.135475+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-2"}	build_request	b-old-2	\N	\N	\N	2026-11-30 08:14:11.135364+00
29	{"idx": "29", "partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-2", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.140437+00:00", "buildRequestId": "b-old-2"}	partition	b-old-2	data/c/1	j-old-2	\N	2026-11-30 08:14:11.140342+00
30	{"idx": "30", "jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "reports/c", "jobRunId": "j-old-2", "targetPartitions": ["data/c/1"]}, "timestamp": "2026-11-30T08:14:11.147590+00:00", "buildRequestId": "b-old-2"}	job_run	b-old-2	\N	j-old-2	reports/c	2026-11-30 08:14:11.147367+00
31	{"idx": "31", "partition": {"status": "PARTITION_AVAILABLE", "jobRunId": "j-old-2", "partitionRef": "data/c/1"}, "timestamp": "2026-11-30T08:14:11.159363+00:00", "buildRequestId": "b-old-2"}	partition	b-old-2	data/c/1	j-old-2	\N	2026-11-30 08:14:11.159269+00
32	{"idx": "32", "jobRun": {"status": "JOB_RUN_COMPLETED", "jobLabel": "reports/c", "jobRunId": "j-old-2", "targetPartitions": ["data/c/1"]}, "timestamp": "2026-11-30T08:14:11.203729+00:00", "buildRequestId": "b-old-2"}	job_run	b-old-2	\N	j-old-2	reports/c	2026-11-30 08:14:11.203289+00
33	{"idx": "33", "timestamp": "2026-11-30T08:14:11.246530+00:00", "buildRequest": {"status": "BUILD_REQUEST_COMPLETED"}, "buildRequestId": "b-old-2"}	build_request	b-old-2	\N	\N	\N	2026-11-30 08:14:11.246299+00
34	{"idx": "34", "eventId": "invalidate:data/b/1", "timestamp": "2026-11-30T08:14:11.276020+00:00", "invalidation": {"reason": "late upstream data", "partitionRef": "data/b/1"}}	invalidation	\N	data/b/1	\N	\N	2026-11-30 08:14:11.275786+00
35	{"idx": "35", "timestamp": "2026-11-30T08:14:11.283654+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/b/1", "data/d/1"]}, "buildRequestId": "b-old-3"}	build_request	b-old-3	\N	\N	\N	2026-11-30 08:14:11.283491+00
36	{"idx": "36", "timestamp": "2026-11-30T08:14:11.295641+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-3"}	build_request	b-old-3	\N	\N	\N	2026-11-30 08:14:11.295364+00
37	{"idx": "37", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.303613+00:00", "buildRequestId": "b-old-3"}	partition	b-old-3	data/b/1	\N	\N	2026-11-30 08:14:11.303489+00
38	{"idx": "38", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/d/1"}, "timestamp": "2026-11-30T08:14:11.313981+00:00", "buildRequestId": "b-old-3"}	partition	b-old-3	data/d/1	\N	\N	2026-11-30 08:14:11.313854+00
39	{"idx": "39", "partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.319476+00:00", "buildRequestId": "b-old-3"}	partition	b-old-3	data/b/1	\N	\N	2026-11-30 08:14:11.319369+00
40	{"idx": "40", "partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/d/1"}, "timestamp": "2026-11-30T08:14:11.327182+00:00", "buildRequestId": "b-old-3"}	partition	b-old-3	data/d/1	\N	\N	2026-11-30 08:14:11.327075+00
41	{"idx": "41", "timestamp": "2026-11-30T08:14:11.335500+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-3"}	build_request	b-old-3	\N	\N	\N	2026-11-30 08:14:11.33539+00
42	{"idx": "42", "jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/bd", "jobRunId": "j-old-3", "targetPartitions": ["data/b/1", "data/d/1"]}, "timestamp": "2026-11-30T08:14:11.347660+00:00", "buildRequestId": "b-old-3"}	job_run	b-old-3	\N	j-old-3	etl/bd	2026-11-30 08:14:11.34738+00
43	{"idx": "43", "timestamp": "2026-11-30T08:14:11.359554+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-3"}	build_request	b-old-3	\N	\N	\N	2026-11-30 08:14:11.359444+00
44	{"idx": "44", "partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-3", "partitionRef": "data/b/1"}, "timestamp": "2026-11-30T08:14:11.366528+00:00", "buildRequestId": "b-old-3"}	partition	b-old-3	data/b/1	j-old-3	\N	2026-11-30 08:14:11.366421+00
45	{"idx": "45", "partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-3", "partitionRef": "data/d/1"}, "timestamp": "2026-11-30T08:14:11.379072+00:00", "buildRequestId": "b-old-3"}	partition	b-old-3	data/d/1	j-old-3	\N	2026-11-30 08:14:11.378862+00
46	{"idx": "46", "jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/bd", "jobRunId": "j-old-3", "targetPartitions": ["data/b/1", "data/d/1"]}, "timestamp": "2026-11-30T08:14:11.391776+00:00", "buildRequestId": "b-old-3"}	job_run	b-old-3	\N	j-old-3	etl/bd	2026-11-30 08:14:11.391659+00
47	{"idx": "47", "timestamp": "2026-11-30T08:14:11.397452+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/e/1"]}, "buildRequestId": "b-old-4"}	build_request	b-old-4	\N	\N	\N	2026-11-30 08:14:11.397332+00
48	{"idx": "48", "timestamp": "2026-11-30T08:14:11.403601+00:00", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}, "buildRequestId": "b-old-4"}	build_request	b-old-4	\N	\N	\N	2026-11-30 08:14:11.40333+00
49	{"idx": "49", "partition": {"status": "PARTITION_REQUESTED", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.413635+00:00", "buildRequestId": "b-old-4"}	partition	b-old-4	data/e/1	\N	\N	2026-11-30 08:14:11.413528+00
50	{"idx": "50", "partition": {"status": "PARTITION_ANALYZED", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.423852+00:00", "buildRequestId": "b-old-4"}	partition	b-old-4	data/e/1	\N	\N	2026-11-30 08:14:11.423748+00
51	{"idx": "51", "timestamp": "2026-11-30T08:14:11.431332+00:00", "buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}, "buildRequestId": "b-old-4"}	build_request	b-old-4	\N	\N	\N	2026-11-30 08:14:11.431157+00
52	{"idx": "52", "jobRun": {"status": "JOB_RUN_SCHEDULED", "jobLabel": "etl/e", "jobRunId": "j-old-4", "targetPartitions": ["data/e/1"]}, "timestamp": "2026-11-30T08:14:11.451522+00:00", "buildRequestId": "b-old-4"}	job_run	b-old-4	\N	j-old-4	etl/e	2026-11-30 08:14:11.451382+00
53	{"idx": "53", "timestamp": "2026-11-30T08:14:11.459467+00:00", "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}, "buildRequestId": "b-old-4"}	build_request	b-old-4	\N	\N	\N	2026-11-30 08:14:11.459354+00
54	{"idx": "54", "partition": {"status": "PARTITION_BUILDING", "jobRunId": "j-old-4", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.464567+00:00", "buildRequestId": "b-old-4"}	partition	b-old-4	data/e/1	j-old-4	\N	2026-11-30 08:14:11.464458+00
55	{"idx": "55", "jobRun": {"status": "JOB_RUN_RUNNING", "jobLabel": "etl/e", "jobRunId": "j-old-4", "targetPartitions": ["data/e/1"]}, "timestamp": "2026-11-30T08:14:11.479477+00:00", "buildRequestId": "b-old-4"}	job_run	b-old-4	\N	j-old-4	etl/e	2026-11-30 08:14:11.479352+00
56	{"idx": "56", "partition": {"status": "PARTITION_FAILED", "message": "disk full", "jobRunId": "j-old-4", "partitionRef": "data/e/1"}, "timestamp": "2026-11-30T08:14:11.481666+00:00", "buildRequestId": "b-old-4"}	partition	b-old-4	data/e/1	j-old-4	\N	2026-11-30 08:14:11.481569+00
57	{"idx": "57", "jobRun": {"status": "JOB_RUN_FAILED", "message": "disk full", "exitCode": 3, "jobLabel": "etl/e", "jobRunId": "j-old-4", "targetPartitions": ["data/e/1"]}, "timestamp": "2026-11-30T08:14:11.487632+00:00", "buildRequestId": "b-old-4"}	job_run	b-old-4	\N	j-old-4	etl/e	2026-11-30 08:14:11.487504+00
58	{"idx": "58", "timestamp": "2026-11-30T08:14:11.495451+00:00", "buildRequest": {"status": "BUILD_REQUEST_FAILED", "message": "data/e/1 failed"}, "buildRequestId": "b-old-4"}	build_request	b-old-4	\N	\N	\N	2026-11-30 08:14:11.495335+00
59	{"idx": "59", "timestamp": "2026-11-30T08:14:11.499418+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/f/1"]}, "buildRequestId": "b-old-5"}	build_request	b-old-5	\N	\N	\N	2026-11-30 08:14:11.499315+00
60	{"idx": "60", "timestamp": "2026-11-30T08:14:11.510989+00:00", "buildRequest": {"status": "BUILD_REQUEST_CANCELLED", "message": "superseded"}, "buildRequestId": "b-old-5"}	build_request	b-old-5	\N	\N	\N	2026-11-30 08:14:11.510885+00
61	{"idx": "61", "timestamp": "2026-11-30T08:14:11.523866+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["p/1"]}, "buildRequestId": "bp"}	build_request	bp	\N	\N	\N	2026-11-30 08:14:11.523376+00
62	{"idx": "62", "timestamp": "2026-11-30T08:14:11.531448+00:00", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["data/t/1"]}, "buildRequestId": "b-old-text"}	build_request	b-old-text	\N	\N	\N	2026-11-30 08:14:11.531326+00
\.


--
-- Data for Name: partition_state; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.partition_state (partition_ref, status, build_request_id, job_run_id, last_idx, updated_at) FROM stdin;
data/a/1	AVAILABLE	b-old-1	j-old-1a	15	2026-11-30 08:14:11.049288+00
data/c/1	AVAILABLE	b-old-2	j-old-2	31	2026-11-30 08:14:11.159363+00
data/b/1	BUILDING	b-old-3	j-old-3	44	2026-11-30 08:14:11.366528+00
data/d/1	BUILDING	b-old-3	j-old-3	45	2026-11-30 08:14:11.379072+00
data/e/1	FAILED	b-old-4	j-old-4	56	2026-11-30 08:14:11.481666+00
\.


--
-- Data for Name: sequence; Type: TABLE DATA; Schema: upgrade_check; Owner: -
--

COPY upgrade_check.sequence (last_value) FROM stdin;
63
\.


--
-- PostgreSQL database dump complete
--


