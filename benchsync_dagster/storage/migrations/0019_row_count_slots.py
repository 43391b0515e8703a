"""Row counts that concurrent writers add to without waiting for each other.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08

Migration 0011 kept one row per counted table, so every transaction that inserted into
``benchling_entity_snapshots`` held that row's lock until it committed and the next writer
waited for it. Now each table's count is split over slots, one chosen by the writing backend's
pid: writers in different backends add to different rows, and a reader sums a table's slots
(``row_counts.current``: at most ``SLOTS`` rows). Counts stay exact, as each slot is added to
under its row lock. Slots are reused, never added per writer, so nothing needs compacting. A
TRUNCATE deletes its table's slots: it holds the table exclusively, so no writer of the table
has a slot row in flight.
"""

from alembic import context, op
from alembic.script import ScriptDirectory

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SLOTS = 128

ROW_COUNT_SLOT = f"""
CREATE FUNCTION benchsync.row_count_slot() RETURNS smallint LANGUAGE sql STABLE
RETURN pg_backend_pid() % {SLOTS}
"""

ADD_TO_ROW_COUNT = """
CREATE FUNCTION benchsync.add_to_row_count(counted_table text, added bigint)
RETURNS void LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO benchsync.row_counts AS kept (table_name, slot, row_count)
    SELECT counted_table, benchsync.row_count_slot(), added WHERE added <> 0
    ON CONFLICT (table_name, slot) DO UPDATE SET row_count = kept.row_count + EXCLUDED.row_count;
END
"""

# Each branch names only its own trigger's transition table (PL/pgSQL plans the branch it runs).
COUNT_ROWS_IN_SLOTS = """
CREATE OR REPLACE FUNCTION benchsync.count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM benchsync.row_counts WHERE table_name = TG_TABLE_NAME;
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM benchsync.add_to_row_count(TG_TABLE_NAME, (SELECT count(*) FROM inserted));
    ELSE
        PERFORM benchsync.add_to_row_count(TG_TABLE_NAME, -(SELECT count(*) FROM deleted));
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute("ALTER TABLE benchsync.row_counts ADD COLUMN slot smallint NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE benchsync.row_counts ALTER COLUMN slot DROP DEFAULT")
    op.execute(
        "ALTER TABLE benchsync.row_counts DROP CONSTRAINT row_counts_pkey,"
        " ADD PRIMARY KEY (table_name, slot)"
    )
    op.execute(ROW_COUNT_SLOT)
    op.execute(ADD_TO_ROW_COUNT)
    op.execute(COUNT_ROWS_IN_SLOTS)


def downgrade() -> None:
    # Every table's slots summed into one row, then the function as migration 0011 made it.
    op.execute("LOCK TABLE benchsync.row_counts IN EXCLUSIVE MODE")
    op.execute(
        "INSERT INTO benchsync.row_counts (table_name, slot, row_count)"
        " SELECT table_name, -1, sum(row_count) FROM benchsync.row_counts GROUP BY table_name"
    )
    op.execute("DELETE FROM benchsync.row_counts WHERE slot <> -1")
    counted_by_0011 = ScriptDirectory.from_config(context.config).get_revision("0011")
    assert counted_by_0011 is not None
    op.execute(
        counted_by_0011.module.COUNT_ROWS.replace(
            "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
        )
    )
    # A function with a SQL-standard body depends on the key its ON CONFLICT names.
    op.execute("DROP FUNCTION benchsync.add_to_row_count(text, bigint)")
    op.execute("DROP FUNCTION benchsync.row_count_slot()")
    op.execute(
        "ALTER TABLE benchsync.row_counts DROP CONSTRAINT row_counts_pkey,"
        " DROP COLUMN slot, ADD PRIMARY KEY (table_name)"
    )
