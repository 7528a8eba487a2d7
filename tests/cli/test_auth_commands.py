"""`oaktree db` and `oaktree users`: JSON output, one-line errors with exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from cli import app
from oaktree import db
from oaktree.auth import auth_context, login
from oaktree.config import load_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _close_pools() -> Iterator[None]:
    yield
    db.dispose_engines()


def _ok(*args: str, stdin: str | None = None) -> dict:
    result = runner.invoke(app, [*args, "--json"], input=stdin)
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def _error(*args: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 2, result.output
    # stderr also carries JSON-lines logs; the error itself must be exactly one plain line.
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_upgrade_then_manage_users() -> None:
    upgraded = _ok("db", "upgrade")
    assert (upgraded["before"], upgraded["revision"]) == (None, "0004")
    assert upgraded["database"].startswith("sqlite:///") and upgraded["database"].endswith("oaktree.db")
    assert _ok("db", "status")["up_to_date"] is True

    # The first account of an empty database becomes admin whatever role was asked for.
    generated = _ok("users", "create", "--username", "bob", "--email", "bob@example.com", "--role", "viewer")
    assert generated["roles"] == ["admin"] and len(generated["password"]) == 24
    created = _ok(
        "users", "create", "--username", "alice", "--email", "Alice@Example.com", "--role", "operator",
        "--password-stdin", stdin="a-long-cli-passphrase\n",
    )  # fmt: skip
    assert (created["username"], created["email"], created["roles"]) == (
        "alice",
        "alice@example.com",
        ["operator"],
    )
    assert "password" not in created

    settings = load_settings()
    with db.session_scope(settings=settings) as session:
        ctx = auth_context(settings)
        alice = login(session=session, ctx=ctx, identifier="alice", password="a-long-cli-passphrase")
        assert alice.principal.roles == ("operator",)
        assert (
            login(
                session=session, ctx=ctx, identifier="bob", password=generated["password"]
            ).principal.username
            == "bob"
        )

    assert _ok("users", "set-role", "--username", "alice", "--role", "admin")["is_admin"] is True
    assert _ok("users", "set-role", "--username", "alice", "--role", "operator")["is_admin"] is False
    assert _ok("users", "disable", "--username", "alice")["is_active"] is False
    listed = _ok("users", "list")["users"]
    assert [(u["username"], u["roles"], u["is_active"]) for u in listed] == [
        ("alice", ["operator"], False),
        ("bob", ["admin"], True),
    ]
    assert _ok("users", "enable", "--username", "alice")["is_active"] is True
    human = runner.invoke(app, ["users", "list"])
    assert human.stdout.splitlines()[1].split() == ["alice", "operator", "yes", "alice@example.com"]


def test_set_password_from_stdin() -> None:
    _ok("db", "upgrade")
    _ok("users", "create", "--username", "carol", "--email", "carol@example.com")
    assert _ok(
        "users", "set-password", "--username", "carol", "--password-stdin", stdin="carols-new-passphrase\n"
    ) == {
        "username": "carol",
        "password_set": True,
    }
    settings = load_settings()
    with db.session_scope(settings=settings) as session:
        carol = login(
            session=session, ctx=auth_context(settings), identifier="carol", password="carols-new-passphrase"
        )
    assert carol.principal.username == "carol"


def test_a_password_of_several_lines_on_stdin_is_refused() -> None:
    _ok("db", "upgrade")
    several_lines = "first-line-passphrase\nsecond-line-passphrase\n"
    refusal = "oaktree: error: --password-stdin takes one line, and the input has more"
    assert _error("users", "create", "--username", "dave", "--email", "d@example.com",
                  "--password-stdin", stdin=several_lines) == refusal  # fmt: skip
    assert _ok("users", "list")["users"] == []
    # One line, whatever ends it, is fine.
    _ok("users", "create", "--username", "erin", "--email", "e@example.com", "--password-stdin",
        stdin="erins-long-passphrase\r\n")  # fmt: skip
    assert (
        _error("users", "set-password", "--username", "erin", "--password-stdin", stdin=several_lines)
        == refusal
    )
    settings = load_settings()
    with db.session_scope(settings=settings) as session:
        result = login(
            session=session, ctx=auth_context(settings), identifier="erin", password="erins-long-passphrase"
        )
    assert result.principal.username == "erin"


def test_user_errors_are_one_line() -> None:
    assert _error("users", "list") == (
        "oaktree: error: the database is empty, not 0004; run `oaktree db upgrade`"
    )
    _ok("db", "upgrade")
    assert _error(
        "users", "create", "--username", "x", "--email", "bad", "--password-stdin", stdin="short\n"
    ) == (
        "oaktree: error: username: must be 3 to 100 characters; "
        "email: An email address must have an @-sign.; password: must be at least 12 characters"
    )
    assert _error("users", "set-role", "--username", "ghost", "--role", "admin") == (
        "oaktree: error: no user named 'ghost'"
    )
    _ok("users", "create", "--username", "only-admin", "--email", "admin@example.com")
    assert _error("users", "disable", "--username", "only-admin") == (
        "oaktree: error: username: only-admin is the last active admin"
    )
    result = runner.invoke(app, ["users", "set-role", "--username", "only-admin", "--role", "root"])
    assert result.exit_code == 2 and "'root' is not one of" in result.stderr


def test_dead_database_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAKTREE_DATABASE_URL", "postgresql://oaktree:s3cret@127.0.0.1:1/oaktree")
    for command in (["db", "upgrade", "--json"], ["users", "list"]):
        line = _error(*command)
        assert line.startswith(
            "oaktree: error: cannot use the database at postgresql+psycopg://oaktree:***@127.0.0.1:1/"
        )
        assert "s3cret" not in line


@pytest.mark.postgres
def test_upgrade_on_postgresql(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAKTREE_DATABASE_URL", pg_url)
    assert _ok("db", "upgrade")["revision"] == "0004"
    assert _ok("users", "create", "--username", "pg-admin", "--email", "pg@example.com")["is_admin"] is True
