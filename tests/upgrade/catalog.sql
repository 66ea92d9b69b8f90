-- A normalized description of everything extension bel put in the current database, one
-- line per fact, sorted: the upgrade test compares it between a fresh install of the
-- current version and a database updated from 0.1.0 (and a restored dump). OIDs never
-- appear, only names, so two databases compare line by line.
--   psql -X -At -v ON_ERROR_STOP=1 -f tests/upgrade/catalog.sql
-- Covered: extension (version, schema, relocatable, tables registered for pg_dump), every
-- member object, functions (pg_get_functiondef: signature, defaults, return type,
-- volatility, strictness, SECURITY DEFINER, parallel, cost, SET options, C symbol),
-- relations (kind, persistence, options, RLS), columns (position, type, collation, not
-- null, default, identity, generated), constraints, indexes, triggers (and whether they
-- fire ALWAYS), policies, sequences, views, types, owners, comments, every ACL and the
-- initial privileges pg_dump compares ACLs with.
WITH ext AS (
    SELECT e.oid, e.extname, e.extversion, e.extrelocatable, e.extnamespace, e.extconfig, e.extcondition
    FROM pg_catalog.pg_extension e WHERE e.extname = 'bel'
),
bel_ns AS (
    SELECT n.oid, n.nspname, n.nspowner, n.nspacl FROM pg_catalog.pg_namespace n
    WHERE n.oid IN (SELECT extnamespace FROM ext)
),
members AS (
    SELECT d.classid, d.objid, d.objsubid FROM pg_catalog.pg_depend d, ext
    WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
),
rels AS (
    SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reloptions, c.relrowsecurity,
           c.relforcerowsecurity, c.relowner, c.relacl
    FROM pg_catalog.pg_class c WHERE c.relnamespace IN (SELECT oid FROM bel_ns)
),
procs AS (
    SELECT p.oid, p.oid::pg_catalog.regprocedure::text AS sig, p.prokind, p.proowner, p.proacl
    FROM pg_catalog.pg_proc p WHERE p.pronamespace IN (SELECT oid FROM bel_ns)
),
acl(kind, name, acl, owner) AS (
    SELECT 'schema', nspname, nspacl, nspowner FROM bel_ns
    UNION ALL SELECT 'relation', relname, relacl, relowner FROM rels WHERE relkind <> 'i'
    UNION ALL SELECT 'function', sig, proacl, proowner FROM procs
),
facts(line) AS (
    SELECT pg_catalog.format('extension %s version=%s schema=%s relocatable=%s', extname, extversion,
                             extnamespace::regnamespace, extrelocatable)
    FROM ext
    UNION ALL
    SELECT pg_catalog.format('extension config %s condition=%L', cfg.rel::regclass, cfg.cond)
    FROM ext, ROWS FROM (pg_catalog.unnest(ext.extconfig), pg_catalog.unnest(ext.extcondition)) AS cfg(rel, cond)
    UNION ALL
    SELECT 'member ' || pg_catalog.pg_describe_object(classid, objid, objsubid) FROM members
    UNION ALL
    SELECT pg_catalog.format('owner %s %s = %s', kind, name, owner::regrole) FROM acl
    UNION ALL
    -- acldefault: a NULL ACL means the default privileges, which differ by object kind.
    SELECT pg_catalog.format('acl %s %s: %s -> %s %s%s', a.kind, a.name,
                             (a.privs).grantor::regrole,
                             CASE (a.privs).grantee WHEN 0 THEN 'PUBLIC' ELSE (a.privs).grantee::regrole::text END,
                             (a.privs).privilege_type, CASE WHEN (a.privs).is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
    FROM (SELECT kind, name, pg_catalog.aclexplode(COALESCE(acl, pg_catalog.acldefault(
              (CASE kind WHEN 'schema' THEN 'n' WHEN 'function' THEN 'f' ELSE 'r' END)::"char", owner))) AS privs
          FROM acl) a
    UNION ALL
    -- The privileges the install (or update) script set: pg_dump dumps only the changes made
    -- after it, so both must start from the same.
    SELECT pg_catalog.format('initial privileges of %s (%s): %s',
                             pg_catalog.pg_describe_object(i.classoid, i.objoid, i.objsubid), i.privtype, i.initprivs)
    FROM pg_catalog.pg_init_privs i
    WHERE (i.classoid = 'pg_catalog.pg_proc'::regclass AND i.objoid IN (SELECT oid FROM procs))
       OR (i.classoid = 'pg_catalog.pg_class'::regclass AND i.objoid IN (SELECT oid FROM rels))
       OR (i.classoid = 'pg_catalog.pg_namespace'::regclass AND i.objoid IN (SELECT oid FROM bel_ns))
    UNION ALL
    SELECT pg_catalog.format('relation %s kind=%s persistence=%s options=%s rls=%s forcerls=%s', relname, relkind,
                             relpersistence, reloptions, relrowsecurity, relforcerowsecurity)
    FROM rels
    UNION ALL
    SELECT pg_catalog.format('column %s #%s %s %s collate=%s notnull=%s default=%s identity=%s generated=%s',
                             r.relname,
                             pg_catalog.row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum),
                             a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
                             CASE WHEN a.attcollation <> 0 THEN a.attcollation::regcollation::text END,
                             a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated)
    FROM rels r
    JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
    UNION ALL
    SELECT pg_catalog.format('constraint %s %s: %s', r.relname, co.conname, pg_catalog.pg_get_constraintdef(co.oid))
    FROM pg_catalog.pg_constraint co JOIN rels r ON r.oid = co.conrelid
    UNION ALL
    SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
    FROM pg_catalog.pg_index i JOIN rels r ON r.oid = i.indrelid
    UNION ALL
    SELECT pg_catalog.format('trigger %s enabled=%s', pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled)
    FROM pg_catalog.pg_trigger t JOIN rels r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT pg_catalog.format('policy %s %s cmd=%s permissive=%s roles=%s using=%s check=%s', r.relname, po.polname,
                             po.polcmd, po.polpermissive,
                             (SELECT pg_catalog.array_agg(CASE x WHEN 0 THEN 'PUBLIC' ELSE x::regrole::text END ORDER BY 1)
                              FROM pg_catalog.unnest(po.polroles) AS x),
                             pg_catalog.pg_get_expr(po.polqual, po.polrelid),
                             pg_catalog.pg_get_expr(po.polwithcheck, po.polrelid))
    FROM pg_catalog.pg_policy po JOIN rels r ON r.oid = po.polrelid
    UNION ALL
    SELECT pg_catalog.format('sequence %s type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s', r.relname,
                             s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
    FROM pg_catalog.pg_sequence s JOIN rels r ON r.oid = s.seqrelid
    UNION ALL
    SELECT pg_catalog.format('view %s: %s', r.relname, pg_catalog.pg_get_viewdef(r.oid))
    FROM rels r WHERE r.relkind IN ('v', 'm')
    UNION ALL
    SELECT pg_catalog.format('type %s kind=%s', t.typname, t.typtype)
    FROM pg_catalog.pg_type t
    WHERE t.typnamespace IN (SELECT oid FROM bel_ns) AND t.typrelid = 0 AND t.typelem = 0
    UNION ALL
    SELECT pg_catalog.format('enum %s #%s %s', t.typname, e.enumsortorder, e.enumlabel)
    FROM pg_catalog.pg_enum e JOIN pg_catalog.pg_type t ON t.oid = e.enumtypid
    WHERE t.typnamespace IN (SELECT oid FROM bel_ns)
    UNION ALL
    -- The whole definition: a changed body, flag, default or SET option shows as a changed line.
    SELECT pg_catalog.format('function %s: %s', sig,
                             pg_catalog.regexp_replace(pg_catalog.pg_get_functiondef(oid), '\s+', ' ', 'g'))
    FROM procs WHERE prokind IN ('f', 'p', 'w')
    UNION ALL
    SELECT pg_catalog.format('aggregate %s', sig) FROM procs WHERE prokind = 'a'
    UNION ALL
    SELECT pg_catalog.format('comment schema %s: %s', nspname, pg_catalog.obj_description(oid, 'pg_namespace'))
    FROM bel_ns WHERE pg_catalog.obj_description(oid, 'pg_namespace') IS NOT NULL
    UNION ALL
    SELECT pg_catalog.format('comment relation %s: %s', relname, pg_catalog.obj_description(oid, 'pg_class'))
    FROM rels WHERE pg_catalog.obj_description(oid, 'pg_class') IS NOT NULL
    UNION ALL
    SELECT pg_catalog.format('comment column %s.%s: %s', r.relname, a.attname, pg_catalog.col_description(r.oid, a.attnum))
    FROM rels r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE pg_catalog.col_description(r.oid, a.attnum) IS NOT NULL
    UNION ALL
    SELECT pg_catalog.format('comment function %s: %s', sig, pg_catalog.obj_description(oid, 'pg_proc'))
    FROM procs WHERE pg_catalog.obj_description(oid, 'pg_proc') IS NOT NULL
    UNION ALL
    -- Objects in the schema that are not members would be lost by pg_dump (it dumps members
    -- only as CREATE EXTENSION): list them so that a fresh install and an update compare.
    SELECT pg_catalog.format('not a member: relation %s', r.relname) FROM rels r
    WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.classid = 'pg_catalog.pg_class'::regclass AND m.objid = r.oid)
      AND r.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT pg_catalog.format('not a member: function %s', p.sig) FROM procs p
    WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.classid = 'pg_catalog.pg_proc'::regclass AND m.objid = p.oid)
)
SELECT line FROM facts ORDER BY line COLLATE "C";
