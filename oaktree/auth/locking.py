"""The accounts lock: one writer at a time for changes that depend on who the users and admins are.

Deciding that a registration is the first (so it becomes admin) or that a change would remove the
last active admin means reading other rows and then writing; two transactions doing that at once
would each decide on what the other is about to change. Holding this lock from before the read
until the commit makes them take turns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

# PostgreSQL advisory lock ids share one namespace per database: derive ours from a name so that
# it cannot collide with small integers other tools pick.
ACCOUNTS_LOCK_ID = int.from_bytes(
    hashlib.blake2b(b"oaktree.auth.accounts", digest_size=8).digest(), "big", signed=True
)


def lock_accounts(session: Session) -> None:
    """Take the accounts lock for the rest of the session's transaction (its commit or rollback ends it).

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the database's write lock, taken up
    front with BEGIN IMMEDIATE (by default SQLite takes it only at the first write, after the reads
    that must be serialised).
    """
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(ACCOUNTS_LOCK_ID)))
    elif dialect == "sqlite":
        # The sqlite3 module opens a transaction only just before a write, and that write took the
        # write lock already: only a connection outside a transaction needs to begin one.
        if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        raise NotImplementedError(f"no accounts lock for the {dialect} dialect")


@contextmanager
def accounts_locked(session: Session) -> Iterator[None]:
    """Run the block holding the accounts lock, which its commit releases; roll back if it raises."""
    try:
        lock_accounts(session)
        yield
    except BaseException:
        session.rollback()  # also releases the lock, so a refused change does not hold up others
        raise
