-- 007_pgvector_search: the storage behind the gateway's pgvector search path (used when the
-- vector cache cannot answer; see docs/memory.md). When the server has pgvector:
--   * documents.embedding_vec becomes an untyped `vector` column generated from `embedding`
--     for every embedded document, whatever its model or dimension (003 made a vector(256)
--     column for the local model only; it is replaced);
--   * HNSW needs a fixed dimension, so each indexed model gets a partial expression index
--     on embedding_vec::vector(dims) WHERE embedding_model = model AND
--     vector_dims(embedding_vec) = dims (cosine ops). The migration indexes the default
--     local model; fs_pgvector_setup(model, dims) indexes another one (HNSW takes at most
--     2,000 dimensions: a larger model is searched by pgvector without an index).
-- Without pgvector every step is skipped with a NOTICE, not failed, and the gateway keeps
-- the exact real[] scan. fs_pgvector_setup() can be run again at any time, e.g. after
-- installing pgvector on a server that lacked it; it returns whether the column exists.

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
        -- 003's typed, local-only column gives way to the untyped one.
        IF EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = 'documents'::regclass AND attname = 'embedding_vec'
                     AND NOT attisdropped AND format_type(atttypid, atttypmod) <> 'vector') THEN
            DROP INDEX IF EXISTS documents_embedding_hnsw_idx;
            ALTER TABLE documents DROP COLUMN embedding_vec;
        END IF;
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
