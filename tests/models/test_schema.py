"""The migrated schema: equal to the models, faithful to the seed, cascading, timestamps maintained."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

import models
from models import Alert, AuditEntry, LoginAttempt, PasswordResetToken, Role, User, UserRole, UserSetting
from oaktree import db

# SQLite cannot reflect expression indexes (unique lower(username), lower(email)), so inspection and
# the drift check skip them there; test_names_and_addresses_are_unique_whatever_their_case covers them.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index"),
]

SEED_COLUMNS = {
    "users": ["id", "username", "email", "password_hash", "is_admin", "created_at", "updated_at"],
    "roles": ["id", "name", "description", "created_at"],
    "user_roles": ["user_id", "role_id", "created_at"],
    "settings": ["id", "user_id", "key", "value", "created_at", "updated_at"],
    "alerts": [
        "id",
        "user_id",
        "resource_type",
        "resource_id",
        "metric_name",
        "threshold",
        "comparison_operator",
        "status",
        "created_at",
        "updated_at",
    ],
}


ALERT_ENGINE_COLUMNS = [
    "name",
    "statistic",
    "period_seconds",
    "evaluation_periods",
    "datapoints_to_alarm",
    "treat_missing_data",
    "severity",
    "owner",
    "selector",
    "description",
    "recovery_periods",
    "flap_transitions",
    "flap_window_minutes",
]


def test_migrated_schema_equals_the_models(db_url: str) -> None:
    with db.engine_for(db_url).connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, models.Base.metadata) == []


def test_the_schema_head_the_commands_check_is_alembics_head() -> None:
    assert db.head_revision() == db.SCHEMA_HEAD, "a new migration: raise oaktree.db.SCHEMA_HEAD to it"


def test_an_empty_database_has_no_revision_and_a_stale_one_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    assert db.current_revision(url) is None
    with pytest.raises(db.SchemaNotCurrent, match="empty"):
        db.require_current_schema(url)
    db.upgrade(url, "0003")
    with pytest.raises(db.SchemaNotCurrent, match="at revision 0003, not 0004"):
        db.require_current_schema(url)
    db.upgrade(url)
    db.require_current_schema(url)
    db.dispose_engines()


def test_upgrade_reports_revisions_and_is_idempotent(db_url: str) -> None:
    assert db.current_revision(db_url) == db.head_revision() == "0004"
    assert db.upgrade(db_url) == {"before": "0004", "after": "0004"}


def test_seed_tables_keep_the_seed_columns_in_order(db_url: str) -> None:
    inspector = inspect(db.engine_for(db_url))
    for table, columns in SEED_COLUMNS.items():
        actual = [column["name"] for column in inspector.get_columns(table)]
        assert actual[: len(columns)] == columns, table
    # The alert engine's columns (migration 0003) follow the seed's.
    alert_columns = [c["name"] for c in inspector.get_columns("alerts")]
    assert alert_columns == SEED_COLUMNS["alerts"] + ALERT_ENGINE_COLUMNS


def test_seed_constraints_and_cascades(db_url: str) -> None:
    inspector = inspect(db.engine_for(db_url))
    nullable = {c["name"]: c["nullable"] for c in inspector.get_columns("alerts")}
    assert {name: nullable[name] for name in SEED_COLUMNS["alerts"]} == {
        "id": False,
        "user_id": True,
        "resource_type": False,
        "resource_id": False,
        "metric_name": False,
        "threshold": False,
        "comparison_operator": False,
        "status": True,
        "created_at": True,
        "updated_at": True,
    }
    lengths = {c["name"]: getattr(c["type"], "length", None) for c in inspector.get_columns("users")}
    assert (lengths["username"], lengths["email"], lengths["password_hash"]) == (100, 255, 255)
    assert {tuple(u["column_names"]) for u in inspector.get_unique_constraints("users")} == {
        ("username",),
        ("email",),
    }
    assert [tuple(u["column_names"]) for u in inspector.get_unique_constraints("settings")] == [
        ("user_id", "key")
    ]
    assert inspector.get_pk_constraint("user_roles")["constrained_columns"] == ["user_id", "role_id"]
    on_delete = {
        (table, fk["referred_table"]): fk["options"].get("ondelete")
        for table in (
            "user_roles",
            "settings",
            "alerts",
            "audit_log",
            "login_attempts",
            "password_reset_tokens",
        )
        for fk in inspector.get_foreign_keys(table)
    }
    assert on_delete == {
        ("user_roles", "users"): "CASCADE",
        ("user_roles", "roles"): "CASCADE",
        ("settings", "users"): "CASCADE",
        ("alerts", "users"): "CASCADE",
        ("audit_log", "users"): "SET NULL",
        ("login_attempts", "users"): "CASCADE",
        ("password_reset_tokens", "users"): "CASCADE",
    }


def test_roles_are_seeded_by_the_migration(db_url: str) -> None:
    with Session(db.engine_for(db_url)) as session:
        assert sorted(session.scalars(select(Role.name))) == ["admin", "operator", "viewer"]


def test_server_defaults_match_the_seed(db_url: str) -> None:
    # Raw SQL, as another tool would write: the database itself supplies the seed's defaults.
    with db.engine_for(db_url).begin() as connection:
        connection.execute(
            text("INSERT INTO users (username, email, password_hash) VALUES ('raw', 'raw@example.com', 'x')")
        )
        user_id = connection.execute(text("SELECT id FROM users WHERE username = 'raw'")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO alerts (user_id, resource_type, resource_id, metric_name, threshold, "
                "comparison_operator) VALUES (:u, 'ec2_instance', 'i-1', 'CPUUtilization', 80.5, "
                "'GreaterThanThreshold')"
            ),
            {"u": user_id},
        )
    with Session(db.engine_for(db_url)) as session:
        user = session.scalars(select(User).where(User.username == "raw")).one()
        assert (user.is_admin, user.is_active, user.token_version) == (False, True, 0)
        assert user.created_at is not None and user.created_at.tzinfo == UTC
        alert = session.scalars(select(Alert)).one()
        assert (alert.status, alert.threshold) == ("ACTIVE", Decimal("80.5"))
        # A seed-style rule evaluates with CloudWatch's defaults (migration 0003's server defaults).
        assert (
            alert.name,
            alert.statistic,
            alert.period_seconds,
            alert.evaluation_periods,
            alert.datapoints_to_alarm,
            alert.treat_missing_data,
            alert.severity,
        ) == (None, "Average", 300, 1, 1, "missing", "warning")


def _user(session: Session, name: str) -> User:
    user = User(username=name, email=f"{name}@example.com", password_hash="x")
    session.add(user)
    session.flush()
    return user


def test_deleting_a_user_cascades_and_keeps_the_audit_trail(db_url: str) -> None:
    now = datetime(2025, 4, 20, tzinfo=UTC)
    with Session(db.engine_for(db_url)) as session:
        user = _user(session, "leaver")
        viewer = session.scalars(select(Role).where(Role.name == "viewer")).one()
        session.add_all(
            [
                UserRole(user_id=user.id, role_id=viewer.id),
                UserSetting(user_id=user.id, key="theme", value="dark"),
                Alert(
                    user_id=user.id,
                    resource_type="ec2_instance",
                    resource_id="i-1",
                    metric_name="CPUUtilization",
                    threshold=Decimal(90),
                    comparison_operator="GreaterThanThreshold",
                ),
                LoginAttempt(user_id=user.id, identifier="leaver", outcome="success", at=now),
                PasswordResetToken(user_id=user.id, token_hash="0" * 64, created_at=now, expires_at=now),
                AuditEntry(user_id=user.id, actor="leaver", action="user.logout", target="leaver", at=now),
            ]
        )
        session.commit()
        # Core DELETE: the database's ON DELETE rules do the work, not the ORM.
        session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user.id})
        session.commit()
        for model in (UserRole, UserSetting, Alert, LoginAttempt, PasswordResetToken):
            assert session.scalars(select(model)).all() == [], model.__name__
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.user_id, entry.actor) == (None, "leaver")
        assert session.scalars(select(Role.name)).all()  # roles are untouched


def test_updated_at_is_maintained_and_created_at_kept(db_url: str) -> None:
    with Session(db.engine_for(db_url), expire_on_commit=False) as session:
        user = _user(session, "changer")
        setting = UserSetting(user_id=user.id, key="theme", value="dark")
        session.add(setting)
        session.commit()
        created, updated, setting_updated = user.created_at, user.updated_at, setting.updated_at
        user.email = "changed@example.com"
        setting.value = "light"
        session.commit()
        session.refresh(user)
        session.refresh(setting)
        assert user.created_at == created
        assert user.updated_at > updated
        assert setting.updated_at > setting_updated
        assert user.updated_at.tzinfo == UTC


def test_one_value_per_user_and_key(db_url: str) -> None:
    with Session(db.engine_for(db_url)) as session:
        user = _user(session, "dup")
        session.add_all([UserSetting(user_id=user.id, key="theme", value="a")])
        session.flush()
        session.add(UserSetting(user_id=user.id, key="theme", value="b"))
        with pytest.raises(IntegrityError):
            session.flush()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("mallory", "m1@example.com"), ("Mallory", "m2@example.com")),
        (("eve", "eve@example.com"), ("eve2", "EVE@example.com")),
    ],
)
def test_names_and_addresses_are_unique_whatever_their_case(
    db_url: str, first: tuple[str, str], second: tuple[str, str]
) -> None:
    # Raw SQL, as another tool would write: the database itself refuses the second account.
    insert = text("INSERT INTO users (username, email, password_hash) VALUES (:username, :email, 'x')")
    with db.engine_for(db_url).begin() as connection:
        connection.execute(insert, dict(zip(("username", "email"), first, strict=True)))
    with pytest.raises(IntegrityError), db.engine_for(db_url).begin() as connection:
        connection.execute(insert, dict(zip(("username", "email"), second, strict=True)))


def test_naive_timestamps_are_refused(sqlite_only_url: str) -> None:
    with Session(db.engine_for(sqlite_only_url)) as session:
        session.add(LoginAttempt(identifier="x", outcome="failure", at=datetime(2025, 1, 1)))
        with pytest.raises(StatementError, match="timezone-aware"):
            session.flush()


def test_timestamps_round_trip_as_utc(db_url: str) -> None:
    singapore = datetime(2025, 4, 20, 20, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Singapore"))
    with Session(db.engine_for(db_url)) as session:
        session.add(LoginAttempt(identifier="tz", outcome="failure", at=singapore))
        session.commit()
        stored = session.scalars(select(LoginAttempt.at)).one()
    assert stored == datetime(2025, 4, 20, 12, 30, 15, 123456, tzinfo=UTC)
    assert stored.tzinfo == UTC


def test_downgrade_removes_everything_and_upgrade_restores_it(sqlite_only_url: str) -> None:
    assert db.downgrade(sqlite_only_url, "base") == {"before": "0004", "after": None}
    assert set(inspect(db.engine_for(sqlite_only_url)).get_table_names()) == {"alembic_version"}
    assert db.upgrade(sqlite_only_url) == {"before": None, "after": "0004"}
    assert "users" in inspect(db.engine_for(sqlite_only_url)).get_table_names()


def test_upgrade_refuses_accounts_differing_only_in_case(db_url: str) -> None:
    db.downgrade(db_url, "0001")
    with db.engine_for(db_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (username, email, password_hash) "
                "VALUES ('mallory', 'a@example.com', 'x'), ('Mallory', 'b@example.com', 'x')"
            )
        )
    with pytest.raises(db.MigrationRefused, match=r"users\.username values differing only in case: mallory;"):
        db.upgrade(db_url)
    assert db.current_revision(db_url) == "0001"


def test_downgrade_to_0001_keeps_the_data_and_upgrade_gives_each_user_a_key(db_url: str) -> None:
    with Session(db.engine_for(db_url)) as session:
        for name in ("first", "second", "third"):
            session.add(UserSetting(user_id=_user(session, name).id, key="theme", value="dark"))
        session.commit()
    db.downgrade(db_url, "0001")
    with db.engine_for(db_url).connect() as connection:
        # Nothing cascaded away: SQLite must not have rebuilt the users table.
        assert connection.execute(text("SELECT count(*) FROM settings")).scalar_one() == 3
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 3
    db.upgrade(db_url)
    with Session(db.engine_for(db_url)) as session:
        keys = session.scalars(select(User.account_key)).all()
    assert len(set(keys)) == 3
    assert all(key is not None and len(key) == 32 for key in keys)


def test_upgrade_forgets_the_names_typed_at_past_logins(db_url: str) -> None:
    db.downgrade(db_url, "0001")
    with db.engine_for(db_url).begin() as connection:
        connection.execute(
            text("INSERT INTO users (username, email, password_hash) VALUES ('known', 'k@example.com', 'x')")
        )
        user_id = connection.execute(text("SELECT id FROM users")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO login_attempts (user_id, identifier, outcome, at) VALUES "
                "(:user_id, 'known', 'failure', :at), (NULL, 'hunter2-in-the-name-box', 'failure', :at)"
            ),
            {"user_id": user_id, "at": datetime(2025, 4, 20, tzinfo=UTC)},
        )
    db.upgrade(db_url)
    with db.engine_for(db_url).connect() as connection:
        rows = connection.execute(text("SELECT user_id, identifier FROM login_attempts")).all()
    assert [tuple(row) for row in rows] == [(user_id, "")]


def test_downgrade_to_0002_keeps_the_seed_rules(db_url: str) -> None:
    with db.engine_for(db_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO alerts (resource_type, resource_id, metric_name, threshold, "
                "comparison_operator, name, statistic) VALUES ('ec2_instance', 'i-1', 'CPUUtilization', 80, "
                "'GreaterThanThreshold', 'cpu', 'Maximum')"
            )
        )
    db.downgrade(db_url, "0002")
    inspector = inspect(db.engine_for(db_url))
    assert [c["name"] for c in inspector.get_columns("alerts")] == SEED_COLUMNS["alerts"]
    assert "alert_transitions" not in inspector.get_table_names()
    with db.engine_for(db_url).connect() as connection:
        assert connection.execute(text("SELECT resource_id FROM alerts")).scalars().all() == ["i-1"]
    db.upgrade(db_url)
    with Session(db.engine_for(db_url)) as session:
        assert session.scalars(select(Alert.statistic)).all() == ["Average"]
