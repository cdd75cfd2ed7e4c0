-- 003_memory: collective memory — the helpers every memory query shares (the memory's time,
-- the filter on agent/type/tag/importance/time, the similarity of two embeddings), and the
-- pgvector column + HNSW index when the server has the extension (skipped, not failed,
-- when it has not). Embeddings themselves are computed by the gateway (common/embed.c) and
-- stored in documents.embedding (real[]) with documents.embedding_model.

-- A memory's time: metadata.timestamp when it looks like an ISO 8601 time, else the row's
-- created_at (rows written by hand may carry anything in metadata).
CREATE FUNCTION fs_memory_time(metadata jsonb, created_at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN metadata->>'timestamp'
                     ~ '^\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]\d\d(:?\d\d)?)$'
                THEN (metadata->>'timestamp')::timestamptz ELSE created_at END
$$;

-- A memory's importance, or NULL when metadata.importance is not a number.
CREATE FUNCTION fs_memory_importance(metadata jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(metadata->'importance') = 'number'
                THEN (metadata->>'importance')::numeric END
$$;

-- The filters of every memory read (NULL: no filter).
CREATE FUNCTION fs_memory_match(d documents, agent text, memory_type text, tag text,
                                min_importance int, since timestamptz, until timestamptz)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (agent IS NULL OR d.metadata->>'agentName' = agent)
       AND (memory_type IS NULL OR d.metadata->>'memoryType' = memory_type)
       AND (tag IS NULL OR d.metadata->'tags' ? tag)
       AND (min_importance IS NULL OR fs_memory_importance(d.metadata) >= min_importance)
       AND (since IS NULL OR fs_memory_time(d.metadata, d.created_at) >= since)
       AND (until IS NULL OR fs_memory_time(d.metadata, d.created_at) < until)
$$;

-- Cosine similarity of two L2-normalised embeddings (their dot product); NULL when the
-- lengths differ.
CREATE FUNCTION fs_embedding_dot(a real[], b real[]) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN cardinality(a) = cardinality(b)
                THEN (SELECT sum(x::float8 * y) FROM unnest(a, b) t(x, y)) END
$$;

CREATE INDEX documents_embedding_model_idx ON documents (embedding_model)
    WHERE embedding IS NOT NULL;

-- pgvector, when installed on the server: a vector copy of the local model's embeddings
-- and an HNSW index for approximate search. Every step is guarded, so a server without the
-- extension (or without the right to create it) simply keeps the exact real[] scan.
DO $pgvector$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pgvector is not available (%); memory search uses the exact scan', SQLERRM;
        RETURN;
    END;
    BEGIN
        EXECUTE 'ALTER TABLE documents ADD COLUMN IF NOT EXISTS embedding_vec vector(256)'
             || ' GENERATED ALWAYS AS (CASE WHEN embedding_model = ''local-hash-v1-256'''
             || ' THEN embedding::vector(256) END) STORED';
        EXECUTE 'CREATE INDEX IF NOT EXISTS documents_embedding_hnsw_idx ON documents'
             || ' USING hnsw (embedding_vec vector_cosine_ops)';
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pgvector column or index not created (%); memory search uses the exact scan',
            SQLERRM;
    END;
END
$pgvector$;
