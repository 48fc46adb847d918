"""users: ids never reused (SQLite AUTOINCREMENT), now that accounts can be deleted

Revision ID: 0002
Revises: 0001

A token names its account by id and stays valid until it expires, even after the
account is deleted. SQLite hands the highest free rowid to the next row unless the
table is AUTOINCREMENT, so a new account could inherit a deleted one's id and its
live tokens. PostgreSQL's sequence never goes back: nothing to do there.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _rebuild_users(autoincrement: bool) -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    # SQLite cannot add AUTOINCREMENT in place: batch mode copies the table into a new one.
    # app.migrate turns foreign keys off meanwhile, or dropping the old table would cascade to tasks.
    with op.batch_alter_table("users", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass


def upgrade() -> None:
    _rebuild_users(autoincrement=True)


def downgrade() -> None:
    _rebuild_users(autoincrement=False)
