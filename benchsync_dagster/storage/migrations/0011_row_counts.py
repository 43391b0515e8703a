"""Row counts kept by triggers, so that a run's metadata reads one row instead of counting a
whole table (``dagster/row_count`` costs the same at 10^4 rows as at 10^6).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Statement-level triggers with transition tables add what an INSERT inserted (an upsert's
updated rows are not in its insert transition table) and take off what a DELETE deleted; a
TRUNCATE sets the count to zero. A statement that inserts nothing does not touch the counter,
so upserts that only update take no lock on it.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COUNTED_TABLES = ("benchling_entity_snapshots", "synced_benchling_data")
# One function for all three triggers: PL/pgSQL compiles it per trigger and plans only the
# branch that runs, so each branch may name the transition table its trigger has.
COUNT_ROWS = """
CREATE FUNCTION benchsync.count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint := 0;
BEGIN
    IF TG_OP = 'INSERT' THEN
        changed := (SELECT count(*) FROM inserted);
    ELSIF TG_OP = 'DELETE' THEN
        changed := -(SELECT count(*) FROM deleted);
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO benchsync.row_counts VALUES (TG_TABLE_NAME, 0)
        ON CONFLICT (table_name) DO UPDATE SET row_count = 0;
    ELSIF changed <> 0 THEN
        INSERT INTO benchsync.row_counts AS kept VALUES (TG_TABLE_NAME, changed)
        ON CONFLICT (table_name) DO UPDATE SET row_count = kept.row_count + changed;
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute(
        "CREATE TABLE benchsync.row_counts (table_name text PRIMARY KEY, row_count bigint NOT NULL)"
    )
    op.execute(COUNT_ROWS)
    # Locked while counted, so that no write slips in between the count and the triggers.
    op.execute("LOCK TABLE benchling_entity_snapshots, synced_benchling_data IN SHARE MODE")
    for table in COUNTED_TABLES:  # this module's constants, not input: safe to format in
        op.execute(
            f"INSERT INTO benchsync.row_counts SELECT '{table}', count(*) FROM {table}"  # noqa: S608
        )
        op.execute(
            f"""
            CREATE TRIGGER counted_inserts AFTER INSERT ON {table}
                REFERENCING NEW TABLE AS inserted
                FOR EACH STATEMENT EXECUTE FUNCTION benchsync.count_rows();
            CREATE TRIGGER counted_deletes AFTER DELETE ON {table}
                REFERENCING OLD TABLE AS deleted
                FOR EACH STATEMENT EXECUTE FUNCTION benchsync.count_rows();
            CREATE TRIGGER counted_truncates AFTER TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION benchsync.count_rows();
            """
        )


def downgrade() -> None:
    for table in COUNTED_TABLES:
        for trigger in ("counted_inserts", "counted_deletes", "counted_truncates"):
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
    op.execute(
        """
        DROP FUNCTION benchsync.count_rows();
        DROP TABLE benchsync.row_counts;
        """
    )
