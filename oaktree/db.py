"""The application database: engines, sessions and schema migrations (PostgreSQL or embedded SQLite)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from oaktree.config import Settings
from oaktree.logs import get_logger

if TYPE_CHECKING:
    from alembic.config import Config

log = get_logger(__name__)

# Alembic's scripts live at the repository top level, next to the `models` package they migrate to.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class SchemaNotCurrent(Exception):
    """The database is not at the latest migration; the message says what to run."""


class MigrationRefused(Exception):
    """A migration cannot apply to the data as it stands; the message says what to fix first."""


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores REFERENCES ... ON DELETE CASCADE unless this is set on every connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    # pre_ping: a dashboard left open across a database restart should reconnect, not fail once.
    return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})


# One pooled engine and session factory per database URL for the whole process.
_ENGINES: dict[str, tuple[Engine, sessionmaker[Session]]] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_and_factory(url: str) -> tuple[Engine, sessionmaker[Session]]:
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            engine = _create_engine(url)
            # expire_on_commit=False: services return ORM objects that callers read after the commit.
            _ENGINES[url] = (engine, sessionmaker(bind=engine, expire_on_commit=False))
        return _ENGINES[url]


def engine_for(url: str) -> Engine:
    """Return the process-wide pooled engine of one database URL."""
    return _engine_and_factory(url)[0]


def session_factory(url: str) -> sessionmaker[Session]:
    """Return the process-wide session factory of one database URL (sessions do not expire on commit)."""
    return _engine_and_factory(url)[1]


def dispose_engines() -> None:
    """Close and forget every engine (tests do this before dropping their databases)."""
    with _ENGINES_LOCK:
        for engine, _factory in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextmanager
def session_scope(*, settings: Settings | None = None, url: str | None = None) -> Iterator[Session]:
    """Yield a session on the settings' (or the given URL's) database; commit on success, else roll back."""
    if url is None:
        if settings is None:
            raise TypeError("session_scope needs settings or url")
        url = settings.sqlalchemy_url
    session = _engine_and_factory(url)[1]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# Alembic is imported by the functions that use it: a command that only checks the schema
# revision (every `oaktree users` command) would otherwise pay for its command layer at start.
def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """Return the newest migration's revision id."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


# The newest migration's revision. Commands that only check the schema compare against this
# instead of loading Alembic and executing every migration script (~0.15 s of a CLI start);
# tests/models/test_schema.py fails when a new migration is added without raising it.
SCHEMA_HEAD = "0004"


def current_revision(url: str) -> str | None:
    """Return the database's migration revision (None for an empty database).

    Read from Alembic's own table with plain SQL (what Alembic's MigrationContext reads too); the
    history is linear, so the table holds at most one row.
    """
    from sqlalchemy import inspect, text

    with engine_for(url).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(url: str, revision: str = "head") -> dict[str, str | None]:
    """Migrate the database to `revision` (default: the latest); return the revisions before and after."""
    before = current_revision(url)
    from alembic import command  # only migrating needs Alembic's command layer

    config = _alembic_config()
    with engine_for(url).begin() as connection:
        # Hand Alembic our connection: no alembic.ini, and passwords in the URL need no escaping.
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    after = current_revision(url)
    log.info("db.upgraded", url=redacted_url(url), before=before, after=after)
    return {"before": before, "after": after}


def downgrade(url: str, revision: str) -> dict[str, str | None]:
    """Migrate the database back to `revision` ("base" empties it); return the revisions before and after."""
    before = current_revision(url)
    from alembic import command

    config = _alembic_config()
    with engine_for(url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    after = current_revision(url)
    log.warning("db.downgraded", url=redacted_url(url), before=before, after=after)
    return {"before": before, "after": after}


def require_current_schema(url: str) -> None:
    """Raise SchemaNotCurrent unless the database is at the latest migration."""
    current, head = current_revision(url), SCHEMA_HEAD
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise SchemaNotCurrent(f"the database is {state}, not {head}; run `oaktree db upgrade`")


def redacted_url(url: str) -> str:
    """Return the URL with its password masked, for logs and command output."""
    return make_url(url).render_as_string(hide_password=True)
