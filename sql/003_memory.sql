-- 003_memory: collective memory — a document's API JSON, the helpers every memory query
-- shares (the memory's time, the filter on agent/type/tag/importance/time, the similarity of
-- two embeddings), and, when the server has pgvector, the vector column and HNSW index behind
-- the gateway's pgvector search path (gateway/memory/pgvector.c, docs/memory.md). Embeddings
-- themselves are computed by the gateway (common/embed.c) and stored in documents.embedding
-- (real[]) with documents.embedding_model.

-- A document as the API shows it (see fs_job_json in 002_jobs for why it is one expression).
CREATE TYPE fs_document_doc AS (id bigint, content text, metadata jsonb, "createdAt" timestamptz);

CREATE FUNCTION fs_document_json(d documents) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(ROW(d.id, d.content, d.metadata, d.created_at)::fs_document_doc)
$$;

-- A document's API JSON with a search's fields appended: fields is their JSON text without
-- braces (',"score":0.5'). Printed as text so the answer stays compact, as every answer is:
-- jsonb's || and json_build_object would print blanks ({"id": 1, …}, {"score" : 0.5}).
CREATE FUNCTION fs_document_json_with(d documents, fields text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT (left(fs_document_json(d)::text, -1) || fields || '}')::json
$$;

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

-- pgvector, when the server has it:
--   * documents.embedding_vec, an untyped `vector` column generated from `embedding` for every
--     embedded document, whatever its model or dimension;
--   * HNSW needs a fixed dimension, so each indexed model gets a partial expression index on
--     embedding_vec::vector(dims) WHERE embedding_model = model AND
--     vector_dims(embedding_vec) = dims (cosine ops). This migration indexes the default local
--     model; fs_pgvector_setup(model, dims) indexes another one (HNSW takes at most 2,000
--     dimensions: a larger model is searched by pgvector without an index).
-- Without pgvector (or without the right to create it) every step is skipped with a NOTICE,
-- not failed, and the gateway keeps the exact real[] scan. fs_pgvector_setup() can be run
-- again at any time, e.g. after installing pgvector on a server that lacked it; it returns
-- whether the column exists.

-- The name of the HNSW index for a model and dimension.
CREATE FUNCTION fs_pgvector_index_name(model text, dims int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'documents_vec_' || dims || '_' || left(md5(model), 12)
$$;

CREATE FUNCTION fs_pgvector_setup(model text DEFAULT 'local-hash-v1-256', dims int DEFAULT 256)
RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pgvector is not available (%); memory search uses the exact scan', SQLERRM;
        RETURN false;
    END;
    BEGIN
        -- Rows pgvector cannot represent (empty, too long, NULL or non-finite elements:
        -- only hand-written rows can hold them) get NULL rather than failing their insert.
        EXECUTE 'ALTER TABLE documents ADD COLUMN IF NOT EXISTS embedding_vec vector'
             || ' GENERATED ALWAYS AS (CASE WHEN cardinality(embedding) BETWEEN 1 AND 16000'
             || ' AND array_position(embedding, NULL) IS NULL'
             || ' AND NOT (embedding && ''{NaN,Infinity,-Infinity}''::real[])'
             || ' THEN embedding::vector END) STORED';
        IF dims BETWEEN 1 AND 2000 THEN
            EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON documents USING hnsw'
                           ' ((embedding_vec::vector(%s)) vector_cosine_ops)'
                           ' WHERE embedding_model = %L AND vector_dims(embedding_vec) = %s',
                           fs_pgvector_index_name(model, dims), dims, model, dims);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pgvector column or index not created (%); memory search uses the exact scan',
            SQLERRM;
        RETURN false;
    END;
    RETURN true;
END
$fn$;

SELECT fs_pgvector_setup();
