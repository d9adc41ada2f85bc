"""login expiry indexes: ended logins and revoked sessions are removed by one indexed
delete, and a user's logins are counted without reading everyone's

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_logins_expires_at", "logins", ["expires_at"])
    op.create_index("ix_logins_username_expires_at", "logins", ["username", "expires_at"])
    op.create_index("ix_revoked_sessions_expires_at", "revoked_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_revoked_sessions_expires_at", table_name="revoked_sessions")
    op.drop_index("ix_logins_username_expires_at", table_name="logins")
    op.drop_index("ix_logins_expires_at", table_name="logins")
