-- 011_wordnet_index — the HNSW index of the default embedding model.
-- 003_memory indexed the model that was the default then (local-hash-v1-256); the default is
-- now the WordNet model, whose vectors would otherwise be ranked on pgvector servers by an
-- exact scan. The hash model's index stays for installs that choose it. Without pgvector this
-- is the same NOTICE and no-op as in 003.
SELECT fs_pgvector_setup('local-wordnet-v1-512', 512);
