#!/bin/sh
# Temporal's own role and databases beside the platform's, on the Postgres of docker-compose.yml:
# Temporal connects as TEMPORAL_DB_USER, which owns TEMPORAL_DB_NAME and TEMPORAL_VISIBILITY_DB_NAME
# and cannot connect to the platform's database (POSTGRES_DB). The postgres container runs it once,
# when it initialises an empty data volume (/docker-entrypoint-initdb.d). Every statement is
# idempotent, so it can be run by hand on an existing volume as well:
#   docker compose exec postgres /docker-entrypoint-initdb.d/10-temporal.sh
# (which also resets the role's password to TEMPORAL_DB_PASSWORD).
set -eu
: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD}"
export TEMPORAL_DB_USER="${TEMPORAL_DB_USER:-temporal}"
export TEMPORAL_DB_NAME="${TEMPORAL_DB_NAME:-temporal}"
export TEMPORAL_VISIBILITY_DB_NAME="${TEMPORAL_VISIBILITY_DB_NAME:-temporal_visibility}"

# Values reach SQL through \getenv and format(): never spliced into the statements by the shell.
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv temporal_user TEMPORAL_DB_USER
\getenv temporal_password TEMPORAL_DB_PASSWORD
\getenv temporal_db TEMPORAL_DB_NAME
\getenv visibility_db TEMPORAL_VISIBILITY_DB_NAME
\getenv app_db POSTGRES_DB

SELECT format('CREATE ROLE %I LOGIN', :'temporal_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'temporal_user') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'temporal_user', :'temporal_password') \gexec

SELECT format('CREATE DATABASE %I OWNER %I', name, :'temporal_user')
  FROM unnest(ARRAY[:'temporal_db', :'visibility_db']) AS name
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = name) \gexec

-- Only owners (and superusers) connect: Temporal to its two databases, the platform to its own.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', name)
  FROM unnest(ARRAY[:'temporal_db', :'visibility_db', :'app_db']) AS name \gexec
SQL
# The visibility schema's btree_gin extension is a trusted one: the owner creates it with the schema.
