-- GIN indexes for FerretDB 1.24 on PostgreSQL (FerretDB issue 4646).
--
-- FerretDB pushes a top-level equality such as {conversationId: "c1"} down
-- as `_jsonb->'conversationId' @> '"c1"'`, but the indexes it makes for
-- createIndexes are btree indexes on `(_jsonb->'key')`, which `@>` cannot
-- use: every find, update and delete by _id or by a foreign key was a
-- sequential scan of the collection (22 ms per point find at 50,000
-- messages; with these indexes 1.9 ms, /work/shared/measurements).
--
-- The services keep speaking only the MongoDB protocol and create their own
-- MongoDB indexes, which a real MongoDB uses as they are; this file is the
-- local stack's help for FerretDB alone. deploy/lib/stack.sh runs it in the
-- cluster's `ferretdb` database at every start (it is idempotent).
--
-- Why an event trigger: FerretDB creates a collection's table when the
-- first write or createIndexes names it, at any time a service or a test
-- chooses. A trigger on CREATE TABLE adds the GIN indexes in the same
-- transaction, before any document is stored, so nothing depends on when
-- the collections appear. The backfill at the end covers tables made before
-- this file changed.
--
-- FerretDB maps a MongoDB database to a schema that holds its table
-- `_ferretdb_database_metadata`, and a collection to a table named after it
-- (lower case, other characters replaced by `_`) plus `_` and 8 hex digits.
-- Extra PostgreSQL indexes are invisible to MongoDB clients (listIndexes
-- reads FerretDB's metadata) and go with the table when it is dropped.

CREATE SCHEMA IF NOT EXISTS chat_gin;

-- The keys that the services filter on by equality, per collection (grep
-- services/ for BCON_NEW filters); every collection also gets _id. `$in`,
-- `$lt`/`$gt` and nested keys are not pushed down by FerretDB 1.24, so
-- indexes would not help them.
CREATE OR REPLACE FUNCTION chat_gin.keys(collection text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['_id'] || CASE collection
    WHEN 'users' THEN ARRAY['username']
    -- an array: `@>` with one id matches the documents whose array holds it
    WHEN 'conversations' THEN ARRAY['participants']
    WHEN 'members' THEN ARRAY['conversationId', 'userId']
    WHEN 'messages' THEN ARRAY['conversationId']
    WHEN 'sessions' THEN ARRAY['userId', 'gatewayId']
    WHEN 'read_states' THEN ARRAY['conversationId', 'userId']
    WHEN 'guests' THEN ARRAY['room', 'gatewayId']
    ELSE ARRAY[]::text[]
  END
$$;

-- True when schema.table has a GIN index on (_jsonb -> key) already (ours,
-- or one that replaced an index of FerretDB's, below): a second one would
-- only double the cost of every write.
CREATE OR REPLACE FUNCTION chat_gin.has_gin(schema_name text, table_name text, key text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 JOIN pg_am am ON am.oid = i.relam
                 WHERE x.indrelid = to_regclass(format('%I.%I', schema_name, table_name))
                   AND am.amname = 'gin'
                   AND pg_get_indexdef(x.indexrelid, 1, true) = format('(_jsonb -> %L::text)', key))
$$;

-- Creates the missing GIN indexes of one FerretDB collection table.
CREATE OR REPLACE FUNCTION chat_gin.index_table(schema_name text, table_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  collection text := regexp_replace(table_name, '_[0-9a-f]{8}$', '');
  key text;
BEGIN
  FOREACH key IN ARRAY chat_gin.keys(collection) LOOP
    CONTINUE WHEN chat_gin.has_gin(schema_name, table_name, key);
    -- jsonb_path_ops: smaller than the default jsonb_ops and serves @>,
    -- the only operator FerretDB sends for equality.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops)',
                   left(table_name, 40) || '_' || lower(key) || '_gin', schema_name, table_name, key);
  END LOOP;
END
$$;

-- True when schema.table is a collection table of FerretDB: a jsonb column
-- `_jsonb` in a schema with FerretDB's metadata table, and not one of
-- FerretDB's own `_ferretdb_` tables.
CREATE OR REPLACE FUNCTION chat_gin.is_collection(schema_name text, table_name text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT table_name NOT LIKE '\_ferretdb\_%'
     AND to_regclass(format('%I.%I', schema_name, '_ferretdb_database_metadata')) IS NOT NULL
     AND EXISTS (SELECT 1 FROM pg_attribute a
                 WHERE a.attrelid = to_regclass(format('%I.%I', schema_name, table_name))
                   AND a.attname = '_jsonb' AND a.atttypid = 'jsonb'::regtype AND NOT a.attisdropped)
$$;

CREATE OR REPLACE FUNCTION chat_gin.on_create_table() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  created record;
BEGIN
  FOR created IN
    SELECT n.nspname, c.relname
    FROM pg_event_trigger_ddl_commands() d
    JOIN pg_class c ON c.oid = d.objid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE d.command_tag = 'CREATE TABLE' AND d.object_type = 'table'
  LOOP
    IF chat_gin.is_collection(created.nspname, created.relname) THEN
      PERFORM chat_gin.index_table(created.nspname, created.relname);
    END IF;
  END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS chat_gin_on_create_table;
CREATE EVENT TRIGGER chat_gin_on_create_table ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION chat_gin.on_create_table();

-- A MongoDB index on an array field is multikey: one entry per element.
-- FerretDB 1.24 makes it a btree index over the whole array value, which
-- no query of FerretDB can use and which refuses a write once the array
-- passes btree's 2,704 bytes: a group of about 100 members could not take
-- one more (`index row size 2800 exceeds btree version 4 maximum 2704 for
-- index "conversations_..._participant_last_m_..._idx"`). Such an index is
-- replaced, under the name FerretDB gave it (so dropIndexes still finds
-- it), by a GIN index on that field, which serves `@>` on one element.
CREATE OR REPLACE FUNCTION chat_gin.array_keys(collection text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE collection
    WHEN 'conversations' THEN ARRAY['participants']
    ELSE ARRAY[]::text[]
  END
$$;

-- Replaces the btree index index_oid when its first key is an array field.
CREATE OR REPLACE FUNCTION chat_gin.replace_array_index(index_oid oid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  idx record;
  key text;
BEGIN
  SELECT n.nspname AS schema_name, t.relname AS table_name, i.relname AS index_name,
         am.amname, pg_get_indexdef(index_oid, 1, true) AS first_key
    INTO idx
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_am am ON am.oid = i.relam
   WHERE x.indexrelid = index_oid;
  IF NOT FOUND OR idx.amname <> 'btree' OR NOT chat_gin.is_collection(idx.schema_name, idx.table_name) THEN
    RETURN;
  END IF;
  FOREACH key IN ARRAY chat_gin.array_keys(regexp_replace(idx.table_name, '_[0-9a-f]{8}$', '')) LOOP
    IF idx.first_key = format('(_jsonb -> %L::text)', key) THEN
      EXECUTE format('DROP INDEX %I.%I', idx.schema_name, idx.index_name);
      EXECUTE format('CREATE INDEX %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops)',
                     idx.index_name, idx.schema_name, idx.table_name, key);
      -- ours on the same key (index_table) is now a duplicate
      EXECUTE format('DROP INDEX IF EXISTS %I.%I', idx.schema_name,
                     left(idx.table_name, 40) || '_' || lower(key) || '_gin');
      RETURN;
    END IF;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION chat_gin.on_create_index() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  created record;
BEGIN
  FOR created IN
    SELECT d.objid FROM pg_event_trigger_ddl_commands() d
    WHERE d.command_tag = 'CREATE INDEX' AND d.object_type = 'index'
  LOOP
    PERFORM chat_gin.replace_array_index(created.objid);
  END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS chat_gin_on_create_index;
CREATE EVENT TRIGGER chat_gin_on_create_index ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION chat_gin.on_create_index();

-- Backfill: the tables that exist already.
DO $$
DECLARE
  existing record;
BEGIN
  FOR existing IN
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND chat_gin.is_collection(n.nspname, c.relname)
  LOOP
    PERFORM chat_gin.index_table(existing.nspname, existing.relname);
  END LOOP;
  FOR existing IN
    SELECT x.indexrelid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_am am ON am.oid = i.relam WHERE am.amname = 'btree'
  LOOP
    PERFORM chat_gin.replace_array_index(existing.indexrelid);
  END LOOP;
END
$$;
