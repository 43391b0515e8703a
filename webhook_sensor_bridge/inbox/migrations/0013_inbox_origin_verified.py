"""Which webhooks' origin the bridge verified: the only ones the sync learns its App id from.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

``origin_verified`` is true when the webhook's signature verified and its envelope names this
deployment's App definition (``APP_DEFINITION_ID``), and its tenant and installation where the
bridge was told them. ``inbox.latest_app_id`` reads only such rows, so a webhook signed for
another App definition, or one a bridge took unverified, never names the installation whose
configuration the sync reads. Rows recorded before are false: nobody checked them (a deployment
that has read its configuration keeps the App id it stored).
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE benchsync.inbox ADD COLUMN origin_verified boolean NOT NULL DEFAULT false"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE benchsync.inbox DROP COLUMN origin_verified")
