-- 006_document_notify: announce every change to documents on channel fs_documents, so
-- every gateway's vector cache (gateway/memory/vectors.c) follows inserts, updates and deletes
-- made by any gateway or by hand. Statement-level, one NOTIFY per statement:
-- {"i":[ids…]} inserted, {"u":[…]} updated (content, embedding or model), {"d":[…]}
-- deleted, or {"truncated":true} when the ids would not fit a payload (the gateways then
-- re-read everything).
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

CREATE TRIGGER documents_announce_insert AFTER INSERT ON documents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_documents_after_insert();
CREATE TRIGGER documents_announce_update AFTER UPDATE ON documents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fs_documents_after_update();
CREATE TRIGGER documents_announce_delete AFTER DELETE ON documents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION fs_documents_after_delete();

CREATE FUNCTION fs_documents_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fs_documents', '{"truncated":true}');
    RETURN NULL;
END
$$;

CREATE TRIGGER documents_announce_truncate AFTER TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION fs_documents_after_truncate();
