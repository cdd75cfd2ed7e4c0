-- 004_notify: the triggers that tell listeners what changed, one NOTIFY (or, for API keys,
-- one logged row) per statement however many rows it touched, and that write the job events
-- an operator reads later.
--
-- Channel fs_jobs carries {"<status>":[ids…],…} for the jobs whose status changed (or
-- {"truncated":true} when that would not fit a NOTIFY payload): gateways wake their waiting
-- requests with it (gateway/jobs/jobwait.c). Each agent with newly runnable jobs gets an
-- empty NOTIFY on its wake channel (fs_wake_channel, 002_jobs), which its workers LISTEN on.
-- Channel fs_documents carries {"i":[ids…]} inserted, {"u":[…]} updated (embedding or
-- model), {"d":[…]} deleted, or {"truncated":true} (the listeners then re-read everything):
-- every gateway's vector cache (gateway/memory/vectors.c) follows it.
-- A statement that adds, changes or removes API keys writes their hashes to api_key_changes
-- (001_tables), which every gateway's key cache (gateway/http/auth.c) polls: a NOTIFY would
-- make each gateway listen, and a listening backend is woken by every job's NOTIFY.

-- Sends one statement's job announcements: payload on fs_jobs (NULL: none) and a wake-up
-- for each agent in wake. Agents are woken in one statement rather than a loop.
CREATE FUNCTION fs_notify_changes(payload text, wake text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF payload IS NOT NULL THEN
        PERFORM pg_notify('fs_jobs', CASE WHEN octet_length(payload) > 7900
                                          THEN '{"truncated":true}' ELSE payload END);
    END IF;
    IF wake IS NOT NULL THEN
        PERFORM pg_notify(fs_wake_channel(a), '') FROM unnest(wake) a;
    END IF;
END
$$;

-- The same from a jsonb document of changes ('{}' or NULL: none); the sweeper uses it to
-- wake the agents of jobs that came due.
CREATE FUNCTION fs_announce(changed jsonb, wake text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_notify_changes(CASE WHEN changed <> '{}'::jsonb THEN changed::text END, wake);
END
$$;

-- The payloads are built as json text with array_agg and json_object_agg: jsonb_agg would
-- make a jsonb value id by id only for it to be printed as text at once. (json keeps its own
-- spacing, e.g. { "running" : [1,2] }; listeners parse it.)
CREATE FUNCTION fs_jobs_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_notify_changes(
        (SELECT json_object_agg(status, ids)::text FROM
            (SELECT status, array_to_json(array_agg(id ORDER BY id)) AS ids
             FROM new_rows GROUP BY status) s),
        (SELECT array_agg(DISTINCT target_agent) FROM new_rows
         WHERE status = 'pending' AND run_at <= now()));
    RETURN NULL;
END
$$;

-- Updates also write events: job.handed_back (a worker shutting down gave the job back: its
-- handed_back_at changed), job.retry (a running job failed or was lost and goes back to pending),
-- job.requeued (a failed or cancelled job was retried), job.dead and job.cancelled. Claims
-- (pending → running) and completions (running → completed) cause neither events nor
-- wake-ups, so one cheap look at the new rows (only rows now pending, failed or cancelled
-- can) skips the joins those need on the hot paths; the status lists come from one join.
CREATE FUNCTION fs_jobs_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wake text[];
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE status IN ('pending', 'failed', 'cancelled')) THEN
        INSERT INTO events (type, severity, job_id, agent_name, data)
        SELECT CASE
                 WHEN n.status = 'pending' AND o.status = 'running'
                      AND n.handed_back_at IS DISTINCT FROM o.handed_back_at THEN 'job.handed_back'
                 WHEN n.status = 'pending' AND o.status = 'running' THEN 'job.retry'
                 WHEN n.status = 'pending' THEN 'job.requeued'
                 WHEN n.status = 'failed' THEN 'job.dead'
                 ELSE 'job.cancelled' END,
               CASE
                 WHEN n.status = 'pending' AND o.status = 'running'
                      AND n.handed_back_at IS DISTINCT FROM o.handed_back_at THEN 'info'
                 WHEN n.status = 'pending' AND o.status = 'running' THEN 'warning'
                 WHEN n.status = 'failed' THEN 'error'
                 ELSE 'info' END,
               n.id, n.target_agent,
               jsonb_strip_nulls(jsonb_build_object(
                   'from', o.status, 'attempt', n.attempts, 'maxAttempts', n.max_attempts,
                   'error', n.last_error, 'worker', o.locked_by,
                   'runAt', CASE WHEN n.status = 'pending' THEN n.run_at END))
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status IS DISTINCT FROM o.status
          AND (n.status IN ('failed', 'cancelled')
               OR (n.status = 'pending' AND o.status IN ('running', 'failed', 'cancelled')));
        SELECT array_agg(DISTINCT n.target_agent) INTO wake
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status = 'pending' AND o.status IS DISTINCT FROM 'pending'
          AND n.run_at <= now();
    END IF;
    PERFORM fs_notify_changes(
        (SELECT json_object_agg(status, ids)::text FROM
            (SELECT n.status, array_to_json(array_agg(n.id ORDER BY n.id)) AS ids
             FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE n.status IS DISTINCT FROM o.status GROUP BY n.status) s),
        wake);
    RETURN NULL;
END
$$;

CREATE TRIGGER job_queue_announce_insert AFTER INSERT ON job_queue
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_jobs_after_insert();
CREATE TRIGGER job_queue_announce_update AFTER UPDATE ON job_queue
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fs_jobs_after_update();

-- Sends one documents announcement of one kind ('i', 'u' or 'd'; ids NULL or empty: none).
CREATE FUNCTION fs_documents_announce(kind text, ids jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    IF ids IS NULL OR ids = '[]'::jsonb THEN
        RETURN;
    END IF;
    payload := jsonb_build_object(kind, ids)::text;
    IF octet_length(payload) > 7900 THEN
        payload := '{"truncated":true}';
    END IF;
    PERFORM pg_notify('fs_documents', payload);
END
$$;

CREATE FUNCTION fs_documents_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_documents_announce('i', (SELECT jsonb_agg(id ORDER BY id) FROM new_rows));
    RETURN NULL;
END
$$;

-- Only changes the vector cache holds count as updates (embedding, model); an id changed by
-- hand is the old id deleted and the new one updated.
CREATE FUNCTION fs_documents_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_documents_announce('u',
        (SELECT jsonb_agg(n.id ORDER BY n.id) FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE n.embedding IS DISTINCT FROM o.embedding
            OR n.embedding_model IS DISTINCT FROM o.embedding_model));
    -- an id changed by hand: the old one is gone
    PERFORM fs_documents_announce('d',
        (SELECT jsonb_agg(o.id ORDER BY o.id) FROM old_rows o
         WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = o.id)));
    PERFORM fs_documents_announce('u',
        (SELECT jsonb_agg(n.id ORDER BY n.id) FROM new_rows n
         WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.id = n.id)));
    RETURN NULL;
END
$$;

CREATE FUNCTION fs_documents_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_documents_announce('d', (SELECT jsonb_agg(id ORDER BY id) FROM old_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION fs_documents_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fs_documents', '{"truncated":true}');
    RETURN NULL;
END
$$;

CREATE TRIGGER documents_announce_insert AFTER INSERT ON documents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_documents_after_insert();
CREATE TRIGGER documents_announce_update AFTER UPDATE ON documents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fs_documents_after_update();
CREATE TRIGGER documents_announce_delete AFTER DELETE ON documents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_documents_after_delete();
CREATE TRIGGER documents_announce_truncate AFTER TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION fs_documents_after_truncate();

-- Logs one statement's key changes: hashes of the keys it added, changed or removed (none:
-- nothing logged), or NULL for every key (a truncate, or more than 100 keys, which the
-- gateways then drop all at once). The lock makes revisions become visible in order: a
-- writer takes its revision only once the previous writer has committed, so a gateway that
-- has read revision n will never later see a smaller one appear. Pruning is skipped under
-- REPEATABLE READ and SERIALIZABLE, where deleting a row another writer pruned concurrently
-- would fail the caller's statement; the next READ COMMITTED change prunes instead.
CREATE FUNCTION fs_key_changes_log(hashes text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    rev bigint;
BEGIN
    IF cardinality(hashes) = 0 THEN
        RETURN;
    END IF;
    LOCK TABLE api_key_changes IN SHARE ROW EXCLUSIVE MODE;
    INSERT INTO api_key_changes (hashes)
    VALUES (CASE WHEN cardinality(hashes) > 100 THEN NULL ELSE hashes END)
    RETURNING revision INTO rev;
    IF current_setting('transaction_isolation') = 'read committed' THEN
        DELETE FROM api_key_changes WHERE revision <= rev - 1000;
    END IF;
END
$$;

CREATE FUNCTION fs_keys_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_key_changes_log((SELECT coalesce(array_agg(DISTINCT key_hash), '{}') FROM new_rows));
    RETURN NULL;
END
$$;

-- A key counts as changed when its hash, role or revocation differs between the old and the
-- new rows (a rename changes nothing a cache holds); both hashes count when a hash changes.
CREATE FUNCTION fs_keys_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_key_changes_log((
        SELECT coalesce(array_agg(DISTINCT key_hash), '{}') FROM (
            (SELECT key_hash, role, revoked_at FROM old_rows
             EXCEPT SELECT key_hash, role, revoked_at FROM new_rows)
            UNION ALL
            (SELECT key_hash, role, revoked_at FROM new_rows
             EXCEPT SELECT key_hash, role, revoked_at FROM old_rows)) changed));
    RETURN NULL;
END
$$;

CREATE FUNCTION fs_keys_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_key_changes_log((SELECT coalesce(array_agg(DISTINCT key_hash), '{}') FROM old_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION fs_keys_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_key_changes_log(NULL);
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_log_insert AFTER INSERT ON api_keys
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_keys_after_insert();
CREATE TRIGGER api_keys_log_update AFTER UPDATE ON api_keys
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_keys_after_update();
CREATE TRIGGER api_keys_log_delete AFTER DELETE ON api_keys
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_keys_after_delete();
CREATE TRIGGER api_keys_log_truncate AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION fs_keys_after_truncate();
