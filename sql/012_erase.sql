-- 012: thread expiry ("threadstore:expires_at" in a thread's metadata) and the lease of
-- the retention sweep.
--
-- expires_us is added nullable without a default (a catalog change, no rewrite) and kept
-- by save_thread; every read statement treats a thread whose expires_us has passed, and
-- everything in it, as gone (queries.c EXPIRED), and the sweep deletes it. Threads saved
-- by an older binary while this rolls out carry no expires_us until their next save.
--
-- threadstore_sweep holds one row: which instance runs the sweep, and until when (a
-- lease, renewed by each pass). A row rather than a session advisory lock: the service's
-- connections are pipelined and shared (and may sit behind a transaction pooler), so no
-- session is the sweep's own; a lease works through any pooler and lapses by itself when
-- its instance dies.
SET LOCAL lock_timeout = '5s';

ALTER TABLE threads ADD COLUMN IF NOT EXISTS expires_us bigint;

CREATE TABLE IF NOT EXISTS threadstore_sweep (
    id       int    PRIMARY KEY CHECK (id = 1),
    owner    text,
    until_us bigint NOT NULL DEFAULT 0
);
INSERT INTO threadstore_sweep (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
