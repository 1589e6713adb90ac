-- 010: the per-user change feed (issue 12).
--
-- Every write records its change in the same statement (src/queries.c,
-- CHANGE): nothing is announced that did not commit, nothing committed goes
-- unannounced. Every table is keyed by user_id and no function writes, so each
-- write stays routable to one shard on a distributed PostgreSQL.
--
-- change_heads: one row per user who ever wrote, kept forever (an erase must
-- not reset the numbers). Every write upserts n = n + 1: the row lock
-- serialises one user's writers until commit, so a user's change numbers are
-- dense and commit order is number order (a reader never sees 11 before 10).
-- at_us is the time of the last change, never going back: a user's changes
-- are in time order too, so retention (by time) removes a prefix of each
-- user's numbers and "cursor n is gone" is exactly "n + 1 was removed".
CREATE TABLE change_heads (
    user_id text   PRIMARY KEY,
    n       bigint NOT NULL,
    at_us   bigint NOT NULL
);

-- changes: kind is one of thread.saved, thread.deleted, item.added,
-- item.saved, item.deleted, attachment.saved, attachment.deleted (attachment:
-- the stored document of the attachment deleted) and user.erased. xid orders
-- the admin feed over all users: a change is listed there only once every
-- transaction with a smaller xid has ended (see the admin statements).
CREATE TABLE changes (
    user_id       text   NOT NULL,
    n             bigint NOT NULL,
    kind          text   NOT NULL,
    thread_id     text,
    item_id       text,
    attachment_id text,
    attachment    text,
    at_us         bigint NOT NULL,
    xid           xid8   NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (user_id, n)
);
CREATE INDEX changes_by_xid ON changes (xid, user_id COLLATE "C", n);
CREATE INDEX changes_by_time ON changes (at_us);

-- The retention sweep's high-water mark for the admin feed: the largest xid
-- it removed (an admin cursor below it may have missed changes: 410).
CREATE TABLE change_sweeps (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    xid  xid8    NOT NULL
);
INSERT INTO change_sweeps (xid) VALUES ('0');
