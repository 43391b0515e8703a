"""Alembic environment: runs on the connection that ``benchsync_core.migrations`` hands over."""

from alembic import context

from benchsync_core.migrations import SYNC_SCHEMA

# Two processes upgrading at once (the demo and the compose `migrate` service, say) take turns.
MIGRATION_LOCK_KEY = 0x62656E6368  # "bench"

connection = context.config.attributes["connection"]
connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
# The version table lives in our schema, apart from Dagster's own alembic_version in public.
connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SYNC_SCHEMA}")
context.configure(connection=connection, version_table_schema=SYNC_SCHEMA)
with context.begin_transaction():
    context.run_migrations()
