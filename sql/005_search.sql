-- 005: full-text search over thread titles and the text of user and assistant messages.
--
-- tsv columns are added nullable without defaults (no rewrite, a moment's lock) and kept by
-- the write statements themselves (queries.c), in the write's transaction; 006 fills the rows
-- written before and builds the indexes. The configuration (--search-language) is a
-- parameter of each write and each search.
--
-- btree_gin lets one GIN index hold (user_id, tsv), so a search reads only the caller's
-- postings: it is a trusted extension (a database owner may create it) shipped with
-- PostgreSQL itself.
SET LOCAL lock_timeout = '5s';

CREATE EXTENSION IF NOT EXISTS btree_gin;

ALTER TABLE threads ADD COLUMN IF NOT EXISTS tsv tsvector;
ALTER TABLE items ADD COLUMN IF NOT EXISTS tsv tsvector;

-- The text an item shows a person: the text parts of a user message (input_text, and the
-- label of an input_tag) and of an assistant message (output_text); nothing of tool calls,
-- widgets, tasks or attachments. NULL when there is none or jsonb refuses the document.
CREATE OR REPLACE FUNCTION threadstore_item_text(doc text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    d jsonb := threadstore_jsonb(doc);
BEGIN
    IF d IS NULL OR jsonb_typeof(d) <> 'object'
       OR NOT (d ->> 'type' IN ('user_message', 'assistant_message'))
       OR jsonb_typeof(d -> 'content') IS DISTINCT FROM 'array' THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT string_agg(c ->> 'text', E'\n')
            FROM jsonb_array_elements(d -> 'content') c
            WHERE jsonb_typeof(c) = 'object'
              AND c ->> 'type' IN ('input_text', 'input_tag', 'output_text')
              AND jsonb_typeof(c -> 'text') = 'string');
END $$;

-- A thread's title, or NULL.
CREATE OR REPLACE FUNCTION threadstore_title(doc text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(d -> 'title') = 'string' THEN d ->> 'title' END
    FROM (SELECT threadstore_jsonb(doc) AS d) x
$$;

-- to_tsvector that never fails a write. PostgreSQL refuses a tsvector over 1 MB
-- (54000, "string is too long for tsvector (N bytes, max 1048575 bytes)"): then the text
-- is cut to the share that fits, estimated from N, and indexed as far as that goes (a 3 MB
-- message of distinct words keeps its first ~400 kB searchable). Any other failure (an
-- unknown configuration) indexes nothing.
CREATE OR REPLACE FUNCTION threadstore_tsvector(cfg text, t text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    n bigint := length(t);
    size bigint;
BEGIN
    IF t IS NULL OR t = '' THEN
        RETURN NULL;
    END IF;
    FOR attempt IN 1..8 LOOP
        BEGIN
            RETURN to_tsvector(cfg::regconfig, left(t, n::int));
        EXCEPTION
            WHEN program_limit_exceeded THEN
                size := substring(SQLERRM FROM '\((\d+) bytes')::bigint;
                n := CASE WHEN size > 1048575 THEN n * 1000000 / size * 9 / 10 ELSE n / 2 END;
                IF n < 1 THEN
                    RETURN NULL;
                END IF;
            WHEN OTHERS THEN
                RETURN NULL;
        END;
    END LOOP;
    RETURN NULL;
END $$;
