-- 001: threads, items and attachments, keyed by user.
--
-- Documents are stored as the text the backend sent (validated JSON), never
-- re-serialised, so pages are assembled from stored bytes. Listings are keyset
-- scans on (created_us, seq): created_at in microseconds since the epoch (UTC),
-- then insertion order. seq comes from one sequence; an upsert keeps it unless
-- created_at changes.

CREATE SEQUENCE threadstore_seq AS bigint;

CREATE TABLE threads (
    user_id    text   NOT NULL,
    id         text   NOT NULL,
    created_us bigint NOT NULL,
    seq        bigint NOT NULL,
    doc        text   NOT NULL,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX threads_by_time ON threads (user_id, created_us, seq);

CREATE TABLE items (
    user_id    text   NOT NULL,
    thread_id  text   NOT NULL,
    id         text   NOT NULL,
    created_us bigint NOT NULL,
    seq        bigint NOT NULL,
    doc        text   NOT NULL,
    PRIMARY KEY (user_id, thread_id, id),
    FOREIGN KEY (user_id, thread_id) REFERENCES threads (user_id, id) ON DELETE CASCADE
);
CREATE INDEX items_by_time ON items (user_id, thread_id, created_us, seq);

CREATE TABLE attachments (
    user_id text NOT NULL,
    id      text NOT NULL,
    doc     text NOT NULL,
    PRIMARY KEY (user_id, id)
);
