-- gen.sql: bench data, generated inside PostgreSQL (no HTTP, no client-side rows).
--
--   psql -v users=1000 -v threads=100 -v items=10 -v big_items=1000000 [-v part=P] -f bench/gen.sql
--
-- part: all (default), or prepare, then regular and big (two sessions at once), then finish,
-- as bench_load in bench/lib.sh runs it. Replaces the contents of threads and items: never
-- run it against a real database (bench/run.sh only runs it on the database it created).
-- Rows are filled exactly as the service fills them: user_id = the token's sub, id = the
-- document's id, created_us = microseconds since the epoch (UTC) of the document's
-- created_at, seq = nextval('threadstore_seq'), doc = the document's JSON text.
--
-- Ids are a pure function of indexes, so bench/loadgen can name them without asking the
-- database (bench/workload.c has the same formulas):
--   user u (0 <= u < users)      user_id  = (1000000 + u)::text  (pgbench can pass it as :uid)
--   thread t of user u           g = u * threads + t,  id = 'thr_' || hex8(mix(g))
--   item i of that thread        id = 'msg_' || hex8(mix(g * items + i))
--   the big user / thread        user_id = '9000000', id = 'thr_' || hex8(mix(2147483647))
--   item i of the big thread     id = 'msg_' || hex8(mix(1073741824 + i))
-- where mix(x) = (x * 2654435761) mod 2^32, a bijection on 32 bits (x < 2^31 keeps the product
-- in a bigint), so ids are unique while users * threads * items < 2^30 and big_items < 2^30.
-- Item i is older than item i + 1 in every thread.
\set ON_ERROR_STOP on
\if :{?users}
\else
\set users 1000
\endif
\if :{?threads}
\else
\set threads 100
\endif
\if :{?items}
\else
\set items 10
\endif
\if :{?big_items}
\else
\set big_items 1000000
\endif
\if :{?part}
\else
\set part all
\endif

SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';
SET work_mem = '512MB';
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.mix(x bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (x * 2654435761) % 4294967296 $$;
CREATE FUNCTION pg_temp.hex8(x bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lpad(to_hex(x), 8, '0') $$;
-- created_at text of a microsecond offset from 2025-01-01T00:00:00 UTC, as chatkit-python's
-- model_dump(mode="json") writes a naive datetime. Integer seconds + a 6-digit fraction, so
-- the text and created_us agree to the microsecond (no float rounding).
CREATE FUNCTION pg_temp.iso(off_us bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_char(timestamp '2025-01-01 00:00:00' + (off_us / 1000000) * interval '1 second',
                         'YYYY-MM-DD"T"HH24:MI:SS') || '.' || lpad((off_us % 1000000)::text, 6, '0') $$;

-- Word pools: titles and ~300-byte messages are drawn from them once, then rows pick by hash.
CREATE TEMP TABLE bench_title (k int PRIMARY KEY, j text NOT NULL);
CREATE TEMP TABLE bench_msg (k int PRIMARY KEY, user_j text NOT NULL, asst_j text NOT NULL);

WITH w AS (
    SELECT ARRAY['Trip to', 'Ideas for', 'Questions about', 'Help with', 'Notes on', 'Planning',
                 'Debugging', 'Summary of', 'Draft for', 'Review of', 'Budget for', 'Comparing']
               AS verb,
           ARRAY['Lisbon', 'the quarterly report', 'a birthday party', 'sourdough bread',
                 'our Postgres migration', 'the onboarding flow', 'a job interview',
                 'marathon training', 'the garden', 'Kyoto in spring', 'the API design',
                 'a cover letter', 'tax forms', 'the team offsite', 'flaky CI', 'a used car',
                 'the wedding toast', 'home network setup', 'a reading list', 'Rust lifetimes']
               AS topic
)
INSERT INTO bench_title (k, j)
SELECT k,
       CASE WHEN k % 20 = 7 THEN 'null'
            ELSE to_json(verb[1 + (k * 7) % array_length(verb, 1)] || ' ' ||
                         topic[1 + (k * 13 + k / 11) % array_length(topic, 1)] ||
                         CASE WHEN k % 3 = 0 THEN '' ELSE ' (' || (2 + k % 9)::text || ')' END)::text
       END
FROM w, generate_series(0, 255) k;

WITH s AS (
    SELECT ARRAY[
        'Can you help me figure out the best way to handle this?',
        'I tried the approach from yesterday but it still fails on the second step.',
        'Here is the error message I get when I run the script with the new settings.',
        'What would be a reasonable budget if we want to keep it under three thousand?',
        'Please keep the answer short, I only need the main points for the meeting.',
        'My manager asked for a comparison with last year, including the regional numbers.',
        'Is there a way to do this without changing the existing database schema?',
        'We have about two hundred people coming, and half of them are vegetarian.',
        'The flight lands at 7 in the morning, so the first day should be light.',
        'Could you rewrite the second paragraph so that it sounds less formal?',
        'I am not sure whether to use a queue here or just retry with backoff.',
        'Thanks, that worked. Now the tests pass locally but not in CI.'] AS u,
           ARRAY[
        'Sure. The simplest option is to split the work into two steps and check each one.',
        'That error usually means the connection was closed before the response arrived.',
        'Here is a short plan: start with the essentials, then add details once they work.',
        'A reasonable budget would be around 2,400 for travel and 500 for everything else.',
        'In summary: revenue grew 12% year over year, mostly driven by the northern region.',
        'You can keep the schema as is and add an index that matches the query order.',
        'For two hundred guests, plan about 1.5 main dishes per person, half vegetarian.',
        'On the first day, check in, take a walk along the river and have an early dinner.',
        'Here is a less formal version: "We would love to have you join us next month."',
        'A bounded queue with backoff is safer: it keeps latency predictable under load.',
        'CI often differs in timing and environment; pin the versions and retry the step.',
        'Let me know if you want me to expand any of these points into a full draft.'] AS a
)
INSERT INTO bench_msg (k, user_j, asst_j)
SELECT k,
       to_json((SELECT string_agg(u[1 + (k * 5 + n * 7 + n * n) % array_length(u, 1)], ' ')
                FROM generate_series(0, 2 + k % 4) n))::text,
       to_json((SELECT string_agg(a[1 + (k * 3 + n * 5 + n * n) % array_length(a, 1)], ' ')
                FROM generate_series(0, 2 + k % 4) n))::text
FROM s, generate_series(0, 1023) k;


-- Which part this session runs.
SELECT :'part' IN ('all', 'prepare') AS do_prepare,
       :'part' IN ('all', 'regular') AS do_regular,
       :'part' IN ('all', 'big') AS do_big,
       :'part' IN ('all', 'finish') AS do_finish,
       :'part' IN ('all', 'prepare', 'regular', 'big', 'finish') AS part_ok \gset
\if :part_ok
\else
\echo gen.sql: part must be all, prepare, regular, big or finish
SELECT 1 / 0 AS bad_part;
\endif

\if :do_prepare
-- CASCADE: thread_activity (sql/008) references threads; thread_counts (sql/009) is kept by
-- triggers, which TRUNCATE does not fire.
SELECT to_regclass('thread_counts') IS NOT NULL AS has_counts \gset
TRUNCATE items, threads CASCADE;
\if :has_counts
TRUNCATE thread_counts;
\endif
CREATE TABLE IF NOT EXISTS bench_dataset (users int, threads int, items int, big_items int,
                                          loaded_at timestamptz);
TRUNCATE bench_dataset;
\endif

\if :do_regular
-- Threads of user u are spread over 300 days (newest last), each with up to an hour of jitter.
INSERT INTO threads (user_id, id, created_us, seq, doc)
SELECT uid, tid, 1735689600000000 + off, nextval('threadstore_seq'),
       '{"id":"' || tid || '","created_at":"' || pg_temp.iso(off) ||
       '","status":{"type":"active"},"metadata":{},"title":' || ti.j || '}'
FROM (SELECT (1000000 + u)::text AS uid,
             'thr_' || pg_temp.hex8(pg_temp.mix(u * :threads + t)) AS tid,
             t * (25920000000000 / :threads) + pg_temp.mix(u * :threads + t) % 3600000000 AS off,
             pg_temp.mix(u * :threads + t + 99) % 256 AS tk
      FROM generate_series(0::bigint, :users - 1) u, generate_series(0::bigint, :threads - 1) t) r
JOIN bench_title ti ON ti.k = r.tk
ORDER BY uid, off;

-- Item i of a thread comes (i + 1) * 37 s after it, plus under a second of jitter; even items
-- are the user's messages, odd ones the assistant's.
INSERT INTO items (user_id, thread_id, id, created_us, seq, doc)
SELECT uid, tid, iid, 1735689600000000 + off, nextval('threadstore_seq'),
       '{"id":"' || iid || '","thread_id":"' || tid || '","created_at":"' || pg_temp.iso(off) ||
       CASE WHEN i % 2 = 0
            THEN '","type":"user_message","content":[{"type":"input_text","text":' || m.user_j ||
                 '}],"attachments":[],"quoted_text":null,"inference_options":{"tool_choice":null,"model":null}}'
            ELSE '","type":"assistant_message","content":[{"type":"output_text","text":' || m.asst_j ||
                 ',"annotations":[]}]}'
       END
FROM (SELECT (1000000 + u)::text AS uid,
             'thr_' || pg_temp.hex8(pg_temp.mix(g)) AS tid,
             'msg_' || pg_temp.hex8(pg_temp.mix(g * :items + i)) AS iid,
             i,
             t * (25920000000000 / :threads) + pg_temp.mix(g) % 3600000000
               + (i + 1) * 37000000 + pg_temp.mix(g * :items + i) % 1000000 AS off,
             pg_temp.mix(g * :items + i + 7) % 1024 AS mk
      FROM generate_series(0::bigint, :users - 1) u, generate_series(0::bigint, :threads - 1) t,
           LATERAL (SELECT u * :threads + t AS g) gg,
           generate_series(0::bigint, :items - 1) i) r
JOIN bench_msg m ON m.k = r.mk
ORDER BY uid, tid, off;
\endif

\if :do_big
-- One user with one long thread, an item a second from 2025-01-01T00:00:01.
INSERT INTO threads (user_id, id, created_us, seq, doc)
SELECT '9000000', tid, 1735689600000000, nextval('threadstore_seq'),
       '{"id":"' || tid || '","created_at":"' || pg_temp.iso(0) ||
       '","status":{"type":"active"},"metadata":{},"title":"A very long conversation"}'
FROM (SELECT 'thr_' || pg_temp.hex8(pg_temp.mix(2147483647)) AS tid) r;

INSERT INTO items (user_id, thread_id, id, created_us, seq, doc)
SELECT '9000000', tid, iid, 1735689600000000 + off, nextval('threadstore_seq'),
       '{"id":"' || iid || '","thread_id":"' || tid || '","created_at":"' || pg_temp.iso(off) ||
       CASE WHEN i % 2 = 0
            THEN '","type":"user_message","content":[{"type":"input_text","text":' || m.user_j ||
                 '}],"attachments":[],"quoted_text":null,"inference_options":{"tool_choice":null,"model":null}}'
            ELSE '","type":"assistant_message","content":[{"type":"output_text","text":' || m.asst_j ||
                 ',"annotations":[]}]}'
       END
FROM (SELECT 'thr_' || pg_temp.hex8(pg_temp.mix(2147483647)) AS tid,
             'msg_' || pg_temp.hex8(pg_temp.mix(1073741824 + i)) AS iid,
             i,
             (i + 1) * 1000000 + pg_temp.mix(1073741824 + i) % 1000000 AS off,
             pg_temp.mix(1073741824 + i + 7) % 1024 AS mk
      FROM generate_series(0::bigint, :big_items - 1) i) r
JOIN bench_msg m ON m.k = r.mk
ORDER BY off;
\endif

\if :do_finish
-- Threads written here, not through the service, get the activity row save_thread writes
-- (sql/008: their creation).
SELECT to_regclass('thread_activity') IS NOT NULL AS has_activity \gset
\if :has_activity
INSERT INTO thread_activity (user_id, thread_id, updated_us, updated_seq, facets)
SELECT user_id, id, COALESCE(updated_us, created_us), COALESCE(updated_seq, seq),
       COALESCE(facets, threadstore_facets(doc))
FROM threads ON CONFLICT DO NOTHING;
VACUUM (ANALYZE) thread_activity;
\endif
VACUUM (ANALYZE) threads;
VACUUM (ANALYZE) items;
-- created_us must be what the service computes from created_at: check a sample of rows.
SELECT count(*) AS bad_created_us, count(*) > 0 AS created_us_bad FROM (
    (SELECT created_us, doc FROM threads ORDER BY random() LIMIT 500)
    UNION ALL
    (SELECT created_us, doc FROM items TABLESAMPLE SYSTEM (0.1) LIMIT 2000)
) s
WHERE created_us <> (extract(epoch FROM (doc::json ->> 'created_at')::timestamp) * 1000000)::bigint
\gset
\if :created_us_bad
\echo gen.sql: :bad_created_us rows have a created_us that does not match created_at
SELECT 1 / 0 AS created_us_mismatch;
\endif
INSERT INTO bench_dataset VALUES (:users, :threads, :items, :big_items, now());
SELECT (SELECT count(*) FROM threads) AS threads, (SELECT count(*) FROM items) AS items,
       pg_size_pretty(pg_total_relation_size('threads')) AS threads_size,
       pg_size_pretty(pg_total_relation_size('items')) AS items_size,
       (SELECT round(avg(length(doc))) FROM (SELECT doc FROM items LIMIT 10000) s) AS avg_item_bytes;
\endif
