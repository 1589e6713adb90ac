-- gen_history.sql: the history user of bench/history.sh: one user with many threads and items,
-- generated inside PostgreSQL as the service would have written them (schema 006+).
--
--   psql -v hthreads=100000 -v hitems=10 -f bench/gen_history.sql
--
-- Replaces the rows of user '8000000' only. Ids (bench/workload.c has the same formulas):
--   thread t   id = 'thr_' || hex8(mix(1500000000 + t))
--   item i     id = 'msg_' || hex8(mix(1200000000 + t * hitems + i))
-- Thread t: created 2025-01-01 + t minutes; metadata {"project": "p<t % 50>", "agent":
-- one of 5}; status closed for t % 20 = 1, locked for t % 20 = 2, else active; activity
-- (updated_us) spread over 30 days by a hash, so activity order is not creation order.
-- Items alternate user/assistant messages from bench/gen.sql's sentences plus one word
-- "ticket<k>", k = hash % 10000: a search for one ticket matches ~100 items.
\set ON_ERROR_STOP on
\if :{?hthreads}
\else
\set hthreads 100000
\endif
\if :{?hitems}
\else
\set hitems 10
\endif
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';
SET work_mem = '256MB';
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.mix(x bigint) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (x * 2654435761) % 4294967296 $$;
CREATE FUNCTION pg_temp.hex8(x bigint) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lpad(to_hex(x), 8, '0') $$;
CREATE FUNCTION pg_temp.iso(us bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(timestamp '1970-01-01' + (us / 1000000) * interval '1 second',
                   'YYYY-MM-DD"T"HH24:MI:SS') || '.' || lpad((us % 1000000)::text, 6, '0') $$;

DELETE FROM threads WHERE user_id = '8000000';

CREATE TEMP TABLE h_sentence (k int PRIMARY KEY, s text NOT NULL);
INSERT INTO h_sentence
SELECT k - 1, s FROM unnest(ARRAY[
    'Can you help me figure out the best way to handle this?',
    'I tried the approach from yesterday but it still fails on the second step.',
    'Here is the error message I get when I run the script with the new settings.',
    'What would be a reasonable budget if we want to keep it under three thousand?',
    'Please keep the answer short, I only need the main points for the meeting.',
    'Is there a way to do this without changing the existing database schema?',
    'Sure. The simplest option is to split the work into two steps and check each one.',
    'That error usually means the connection was closed before the response arrived.',
    'Here is a short plan: start with the essentials, then add details once they work.',
    'You can keep the schema as is and add an index that matches the query order.',
    'A bounded queue with backoff is safer: it keeps latency predictable under load.',
    'CI often differs in timing and environment; pin the versions and retry the step.'])
    WITH ORDINALITY AS x(s, k);

INSERT INTO threads (user_id, id, created_us, seq, doc, updated_us, updated_seq, facets, tsv)
SELECT '8000000', tid, 1735689600000000 + t * 60000000, nextval('threadstore_seq'), doc,
       1735689600000000 + t * 60000000 + pg_temp.mix(t + 5) % 2592000000000,
       nextval('threadstore_seq'), threadstore_facets(doc),
       to_tsvector('simple', title)
FROM (SELECT t, tid, title,
             '{"id":"' || tid || '","created_at":"' || pg_temp.iso(1735689600000000 + t * 60000000) ||
             '","status":{"type":"' ||
             CASE t % 20 WHEN 1 THEN 'closed","reason":null' WHEN 2 THEN 'locked","reason":null'
                  ELSE 'active"' END ||
             '},"metadata":{"project":"p' || t % 50 || '","agent":"' ||
             (ARRAY['support', 'travel', 'code', 'writing', 'research'])[1 + t % 5] ||
             '"},"title":"' || title || '"}' AS doc
      FROM (SELECT t, 'thr_' || pg_temp.hex8(pg_temp.mix(1500000000 + t)) AS tid,
                   'Conversation ' || t || ' about ticket' || pg_temp.mix(t) % 10000 AS title
            FROM generate_series(0::bigint, :hthreads - 1) t) a) b;

INSERT INTO items (user_id, thread_id, id, created_us, seq, doc, tsv)
SELECT '8000000', tid, iid, cus, nextval('threadstore_seq'),
       '{"id":"' || iid || '","thread_id":"' || tid || '","created_at":"' || pg_temp.iso(cus) ||
       CASE WHEN i % 2 = 0
            THEN '","type":"user_message","content":[{"type":"input_text","text":' || to_json(txt) ||
                 '}],"attachments":[],"quoted_text":null,"inference_options":{"tool_choice":null,"model":null}}'
            ELSE '","type":"assistant_message","content":[{"type":"output_text","text":' ||
                 to_json(txt) || ',"annotations":[]}]}'
       END,
       to_tsvector('simple', txt)
FROM (SELECT t, i, 'thr_' || pg_temp.hex8(pg_temp.mix(1500000000 + t)) AS tid,
             'msg_' || pg_temp.hex8(pg_temp.mix(1200000000 + t * :hitems + i)) AS iid,
             1735689600000000 + t * 60000000 + (i + 1) * 1000000 AS cus,
             s1.s || ' ' || s2.s || ' ticket' || pg_temp.mix(t * :hitems + i + 3) % 10000 AS txt
      FROM generate_series(0::bigint, :hthreads - 1) t, generate_series(0::bigint, :hitems - 1) i,
           LATERAL (SELECT s FROM h_sentence WHERE k = pg_temp.mix(t * 7 + i) % 12) s1,
           LATERAL (SELECT s FROM h_sentence WHERE k = pg_temp.mix(t * 11 + i + 1) % 12) s2) r
ORDER BY tid, cus;

VACUUM (ANALYZE) threads;
VACUUM (ANALYZE) items;
SELECT count(*) AS history_threads FROM threads WHERE user_id = '8000000';
SELECT count(*) AS history_items FROM items WHERE user_id = '8000000';
