-- 012_event_stream: the events table becomes a resumable log that gateways stream
-- (GET /api/events/stream, gateway/events/stream.c) and list (GET /api/events).
--
-- Why a transaction id: ids are drawn when a row is inserted, but transactions commit in
-- any order, so a reader that has seen id 11 may later find id 10 committed by a
-- transaction that was still running when it read. Each row therefore records the
-- transaction that inserted it, and readers take a row only once that transaction is older
-- than their snapshot's xmin (pg_snapshot_xmin(pg_current_snapshot())): every transaction
-- below xmin has ended, so no row with such an xid can appear later. The log's order is
-- (xid, id), and "everything after position P, below xmin" is a prefix that never gains a
-- late row. docs/events.md explains the order and its one cost (a long transaction delays
-- delivery until it ends).
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();

-- The stream's reads: the log in (xid, id) order past a position.
CREATE INDEX events_log_idx ON events (xid, id);
-- The filters of GET /api/events, newest first (job_id has events_job_idx).
CREATE INDEX events_agent_idx ON events (agent_name, id) WHERE agent_name IS NOT NULL;
CREATE INDEX events_type_idx ON events (type, id);
CREATE INDEX events_run_idx ON events ((data->>'runId'), id) WHERE data ? 'runId';
CREATE INDEX events_conversation_idx ON events ((data->>'conversationId'), id)
    WHERE data ? 'conversationId';

-- An event as the API shows it (POST /api/events, GET /api/events, the stream's data: lines).
CREATE FUNCTION fs_event_json(e events) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', e.id, 'type', e.type, 'severity', e.severity,
                             'agentName', e.agent_name, 'jobId', e.job_id, 'data', e.data,
                             'createdAt', e.created_at)
$$;

-- Whether an event type matches a filter's patterns (NULL: no filter): each pattern is a
-- type, or a prefix ending in '*' ("job.*"). The gateway's stream matches the same way in C
-- (gateway/events/evfilter.c); this is the listing's copy, so its filters can use indexes.
CREATE FUNCTION fs_event_type_matches(t text, patterns text[]) RETURNS bool
LANGUAGE sql IMMUTABLE AS $$
    SELECT patterns IS NULL OR EXISTS (
        SELECT 1 FROM unnest(patterns) p
        WHERE t = p OR (right(p, 1) = '*' AND starts_with(t, left(p, -1))))
$$;

-- One empty NOTIFY on fs_events per statement that inserted events, however many rows: it
-- only tells the gateways' stream readers to look (they read the rows themselves, so a
-- payload could say nothing they need). Gateways LISTEN only while a stream subscriber
-- exists (gateway/db/channels.h).
CREATE FUNCTION fs_events_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows) THEN
        PERFORM pg_notify('fs_events', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_announce_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_events_after_insert();
