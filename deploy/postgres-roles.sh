#!/usr/bin/env bash
# benchsync's roles in the compose stack's Postgres, neither a superuser:
#   benchsync_owner   owns benchsync's schemas (benchsync, benchling), its tables in public and
#                     the dagster database; `benchsync db upgrade`, grant-bridge and the Dagster
#                     services connect as it. Not named benchsync: a role's default search_path
#                     starts with the schema of its name, where the seed's tables would land.
#   benchsync_bridge  may log in; grant-bridge then lets it read and insert inbox rows, no more.
# Each password comes from its own secret file, named by BENCHSYNC_OWNER_PASSWORD_FILE and
# BENCHSYNC_BRIDGE_PASSWORD_FILE. The postgres image runs this once, on the first start, as the
# superuser over its socket (sourced, so: no `exit`, no `set -u`). Safe to run again, e.g. on a
# volume made before these roles existed (README): it creates only what is missing, sets both
# passwords anew, and hands benchsync's objects that the superuser owns to benchsync_owner.
benchsync_owner_password=$(cat "${BENCHSYNC_OWNER_PASSWORD_FILE:?must name a file}")
benchsync_bridge_password=$(cat "${BENCHSYNC_BRIDGE_PASSWORD_FILE:?must name a file}")
: "${benchsync_owner_password:?$BENCHSYNC_OWNER_PASSWORD_FILE is empty}"
: "${benchsync_bridge_password:?$BENCHSYNC_BRIDGE_PASSWORD_FILE is empty}"
benchsync_psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}")

# The passwords reach psql through its environment (\getenv), not its command line.
BENCHSYNC_OWNER_PASSWORD=$benchsync_owner_password \
BENCHSYNC_BRIDGE_PASSWORD=$benchsync_bridge_password \
"${benchsync_psql[@]}" --dbname "${POSTGRES_DB:-benchling}" <<'SQL'
\getenv owner_password BENCHSYNC_OWNER_PASSWORD
\getenv bridge_password BENCHSYNC_BRIDGE_PASSWORD
SELECT format('CREATE ROLE %I', name)
FROM unnest(ARRAY['benchsync_owner', 'benchsync_bridge']) AS name
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) \gexec
ALTER ROLE benchsync_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'owner_password';
ALTER ROLE benchsync_bridge LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'bridge_password';
-- Migrations create the schemas benchsync and benchling here, and the seed's tables in public.
SELECT format('GRANT CREATE ON DATABASE %I TO benchsync_owner', current_database()) \gexec
GRANT CREATE ON SCHEMA public TO benchsync_owner;
SELECT 'CREATE DATABASE dagster OWNER benchsync_owner'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dagster') \gexec
ALTER DATABASE dagster OWNER TO benchsync_owner;
-- Dagster's storage is benchsync_owner's alone: other logins (the bridge's) may not even connect.
REVOKE CONNECT, TEMPORARY ON DATABASE dagster FROM PUBLIC;
SQL

# benchsync's objects that the superuser owns (a stack from before these roles ran everything as
# postgres) become benchsync_owner's: in this database its schemas and the seed's two tables, in
# dagster everything. A serial or identity column's sequence follows its table.
benchsync_handover=$(cat <<'SQL'
DO $$
DECLARE
    statement text;
BEGIN
    FOR statement IN
        SELECT format('ALTER SCHEMA %I OWNER TO benchsync_owner', nspname)
        FROM pg_namespace
        WHERE nspname IN ('benchsync', 'benchling') AND nspowner = current_user::regrole
        UNION ALL
        SELECT format('ALTER TABLE %s OWNER TO benchsync_owner', c.oid::regclass)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relowner = current_user::regrole
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT EXISTS (
              SELECT FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND d.deptype IN ('a', 'i'))
          AND (n.nspname IN ('benchsync', 'benchling')
               OR (n.nspname = 'public'
                   AND (current_database() = 'dagster'
                        OR c.relname IN ('synced_benchling_data', 'benchling_entity_snapshots'))))
        UNION ALL
        SELECT format('ALTER ROUTINE %s OWNER TO benchsync_owner', p.oid::regprocedure)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('benchsync', 'benchling') AND p.proowner = current_user::regrole
    LOOP
        EXECUTE statement;
    END LOOP;
END
$$;
SQL
)
for benchsync_database in "${POSTGRES_DB:-benchling}" dagster; do
    printf '%s\n' "$benchsync_handover" |
        "${benchsync_psql[@]}" --quiet --dbname "$benchsync_database"
done
