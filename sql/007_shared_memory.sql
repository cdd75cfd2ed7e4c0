-- 007_shared_memory: shared memory — JSON values under keys, scoped to a workflow run or a
-- conversation, each with a version that compare-and-set writes name (the routes
-- GET|PUT|DELETE /api/memory/shared/:scope/:scopeId/:key, gateway/memory/shared.c).
-- scope_id is text and has no foreign key: it holds a run's id or a conversation's id, and an
-- entry may be written before the run it belongs to is visible to this transaction.

-- Versions come from one sequence, so a version is never given twice, not even to a key
-- deleted and written again: a compare-and-set that read version n before a delete cannot
-- succeed against the new entry (no ABA). A key's versions rise with every write, with gaps.
CREATE SEQUENCE shared_memory_version_seq;

CREATE TABLE shared_memory (
    scope      TEXT NOT NULL CHECK (scope IN ('run', 'conversation')),
    scope_id   TEXT NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    value      JSONB NOT NULL,
    version    BIGINT NOT NULL DEFAULT nextval('shared_memory_version_seq'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT,
    -- Also the listing's order: a scope's keys in byte order ("C"), whatever the database's
    -- collation, with the last key of a page as the next page's cursor.
    PRIMARY KEY (scope, scope_id, key)
);
ALTER SEQUENCE shared_memory_version_seq OWNED BY shared_memory.version;

-- An entry as the routes show it (see fs_job_json in 002_jobs for the composite type).
CREATE TYPE fs_shared_doc AS (
    scope text, "scopeId" text, key text, value jsonb, version bigint,
    "createdAt" timestamptz, "updatedAt" timestamptz, "updatedBy" text);

CREATE FUNCTION fs_shared_json(s shared_memory) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(s.scope, s.scope_id, s.key, s.value, s.version, s.created_at,
                           s.updated_at, s.updated_by)::fs_shared_doc)
$$;

-- Writes value under (scope, scope_id, key) when expected allows it: NULL always, 0 only
-- while the key is absent, n only while the entry's version is n. Returns outcome 'created',
-- 'updated' or 'conflict', the version (the new one; on a conflict the current one, 0 when
-- the key is absent) and the entry's JSON (NULL on a conflict). Each write is one statement
-- that checks and writes at once (INSERT … ON CONFLICT DO NOTHING, UPDATE … WHERE version),
-- so concurrent writers with the same expected version cannot both succeed. The loop only
-- runs again when the entry disappeared between two statements (a concurrent delete).
CREATE FUNCTION fs_shared_put(p_scope text, p_scope_id text, p_key text, p_value jsonb,
                              p_expected bigint, p_by text)
RETURNS TABLE (outcome text, version bigint, entry json)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s shared_memory;
    cur bigint;
BEGIN
    LOOP
        IF p_expected IS NULL OR p_expected = 0 THEN
            INSERT INTO shared_memory AS m (scope, scope_id, key, value, updated_by)
            VALUES (p_scope, p_scope_id, p_key, p_value, p_by)
            ON CONFLICT (scope, scope_id, key) DO NOTHING
            RETURNING m.* INTO s;
            IF FOUND THEN
                RETURN QUERY SELECT 'created', s.version, fs_shared_json(s);
                RETURN;
            END IF;
        END IF;
        IF p_expected IS DISTINCT FROM 0 THEN
            UPDATE shared_memory m
            SET value = p_value, version = nextval('shared_memory_version_seq'),
                updated_at = now(), updated_by = p_by
            WHERE m.scope = p_scope AND m.scope_id = p_scope_id AND m.key = p_key
              AND (p_expected IS NULL OR m.version = p_expected)
            RETURNING m.* INTO s;
            IF FOUND THEN
                RETURN QUERY SELECT 'updated', s.version, fs_shared_json(s);
                RETURN;
            END IF;
        END IF;
        SELECT m.version INTO cur FROM shared_memory m
        WHERE m.scope = p_scope AND m.scope_id = p_scope_id AND m.key = p_key;
        IF p_expected IS NOT NULL AND (p_expected <> 0 OR cur IS NOT NULL) THEN
            RETURN QUERY SELECT 'conflict', coalesce(cur, 0), NULL::json;
            RETURN;
        END IF;
    END LOOP;
END
$$;

-- Deletes the entry when expected allows it (NULL always, n only at version n). Returns
-- outcome 'deleted' (with the entry as it was), 'not_found' or 'conflict' (with the
-- current version).
CREATE FUNCTION fs_shared_delete(p_scope text, p_scope_id text, p_key text, p_expected bigint)
RETURNS TABLE (outcome text, version bigint, entry json)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s shared_memory;
    cur bigint;
BEGIN
    DELETE FROM shared_memory m
    WHERE m.scope = p_scope AND m.scope_id = p_scope_id AND m.key = p_key
      AND (p_expected IS NULL OR m.version = p_expected)
    RETURNING m.* INTO s;
    IF FOUND THEN
        RETURN QUERY SELECT 'deleted', s.version, fs_shared_json(s);
        RETURN;
    END IF;
    SELECT m.version INTO cur FROM shared_memory m
    WHERE m.scope = p_scope AND m.scope_id = p_scope_id AND m.key = p_key;
    RETURN QUERY SELECT CASE WHEN cur IS NULL THEN 'not_found' ELSE 'conflict' END,
                        coalesce(cur, 0), NULL::json;
END
$$;
