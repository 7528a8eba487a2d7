"""`oaktree db ...` (application database migrations) and `oaktree users ...` (accounts and roles).

The CLI acts as the trusted system principal: whoever can run it can reach the database anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from cli.common import JsonOption, UsageError, current_settings, emit, one_line_errors, stdin_secret
from oaktree.auth.roles import Principal, Role

if TYPE_CHECKING:
    from oaktree.config import Settings

P = ParamSpec("P")
R = TypeVar("R")

CLI_PRINCIPAL = Principal.system("cli")

UsernameOption = Annotated[str, typer.Option("--username", help="The account's username.")]
RoleOption = Annotated[Role, typer.Option("--role", help="admin, operator or viewer.", case_sensitive=False)]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input (else one is generated)."),
]


def database_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn database and auth errors into one-line UsageErrors (exit code 2 via one_line_errors)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # Imported per call: the database layer costs more than the rest of `oaktree --help`.
        from sqlalchemy.exc import DBAPIError, OperationalError

        from oaktree import db
        from oaktree.auth.errors import AuthError

        try:
            return command(*args, **kwargs)
        except (AuthError, db.SchemaNotCurrent, db.MigrationRefused) as exc:
            raise UsageError(str(exc)) from None
        except OperationalError as exc:
            url = db.redacted_url(current_settings().sqlalchemy_url)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown error"
            raise UsageError(f"cannot use the database at {url} ({reason})") from None
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unknown error"
            raise UsageError(f"database error ({reason})") from None

    return wrapper


def _ready_settings() -> Settings:
    from oaktree import db

    settings = current_settings()
    db.require_current_schema(settings.sqlalchemy_url)
    return settings


def _users_table(summary: dict[str, Any]) -> str:
    rows = summary["users"]
    if not rows:
        return "no users"
    lines = [f"{'USERNAME':<24} {'ROLES':<16} {'ACTIVE':<7} EMAIL"]
    lines += [
        f"{row['username']:<24} {','.join(row['roles']):<16} "
        f"{'yes' if row['is_active'] else 'no':<7} {row['email']}"
        for row in rows
    ]
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add the `db` and `users` command groups to the app."""
    db_app = typer.Typer(
        help="The application database (users, roles, settings, alerts).", no_args_is_help=True
    )
    users_app = typer.Typer(help="Accounts and their roles.", no_args_is_help=True)
    app.add_typer(db_app, name="db")
    app.add_typer(users_app, name="users")

    @db_app.command("upgrade")
    @one_line_errors
    @database_errors
    def db_upgrade(as_json: JsonOption = False) -> None:
        """Bring the database to the latest migration (creates it when empty)."""
        from oaktree import db

        url = current_settings().sqlalchemy_url
        result = db.upgrade(url)
        emit(
            {"database": db.redacted_url(url), "before": result["before"], "revision": result["after"]},
            as_json=as_json,
        )

    @db_app.command("status")
    @one_line_errors
    @database_errors
    def db_status(as_json: JsonOption = False) -> None:
        """Show the database's migration revision and whether it is the latest."""
        from oaktree import db

        url = current_settings().sqlalchemy_url
        current, head = db.current_revision(url), db.head_revision()
        emit(
            {
                "database": db.redacted_url(url),
                "revision": current,
                "head": head,
                "up_to_date": current == head,
            },
            as_json=as_json,
        )

    @users_app.command("create")
    @one_line_errors
    @database_errors
    def users_create(
        username: UsernameOption,
        email: Annotated[str, typer.Option("--email", help="The account's email address.")],
        role: RoleOption = Role.VIEWER,
        password_stdin: PasswordStdinOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Create an account; without --password-stdin a strong password is generated and shown once."""
        from oaktree import db
        from oaktree.auth import users as user_service
        from oaktree.auth.context import auth_context
        from oaktree.auth.demo import generate_password

        settings = _ready_settings()
        password = stdin_secret() if password_stdin else generate_password()
        with db.session_scope(settings=settings) as session:
            user = user_service.register_user(
                session=session,
                ctx=auth_context(settings),
                principal=CLI_PRINCIPAL,
                username=username,
                email=email,
                password=password,
                role=role,
            )
            summary = user_service.describe_user(user)
        if not password_stdin:
            summary["password"] = password
        emit(summary, as_json=as_json)

    @users_app.command("list")
    @one_line_errors
    @database_errors
    def users_list(as_json: JsonOption = False) -> None:
        """List every account with its roles."""
        from oaktree import db
        from oaktree.auth import users as user_service

        settings = _ready_settings()
        with db.session_scope(settings=settings) as session:
            rows = user_service.list_users(session=session, principal=CLI_PRINCIPAL)
        emit({"users": rows}, as_json=as_json, human=_users_table)

    @users_app.command("set-role")
    @one_line_errors
    @database_errors
    def users_set_role(username: UsernameOption, role: RoleOption, as_json: JsonOption = False) -> None:
        """Give an account exactly one role (its sessions end, since they carry the old roles)."""
        from oaktree import db
        from oaktree.auth import users as user_service
        from oaktree.auth.context import auth_context

        settings = _ready_settings()
        with db.session_scope(settings=settings) as session:
            user = user_service.set_role(
                session=session,
                ctx=auth_context(settings),
                principal=CLI_PRINCIPAL,
                username=username,
                role=role,
            )
            summary = user_service.describe_user(user)
        emit(summary, as_json=as_json)

    def _set_active(username: str, active: bool, as_json: bool) -> None:
        from oaktree import db
        from oaktree.auth import users as user_service
        from oaktree.auth.context import auth_context

        settings = _ready_settings()
        with db.session_scope(settings=settings) as session:
            user = user_service.set_active(
                session=session,
                ctx=auth_context(settings),
                principal=CLI_PRINCIPAL,
                username=username,
                active=active,
            )
            summary = user_service.describe_user(user)
        emit(summary, as_json=as_json)

    @users_app.command("disable")
    @one_line_errors
    @database_errors
    def users_disable(username: UsernameOption, as_json: JsonOption = False) -> None:
        """Disable an account: it cannot log in and its sessions end."""
        _set_active(username, False, as_json)

    @users_app.command("enable")
    @one_line_errors
    @database_errors
    def users_enable(username: UsernameOption, as_json: JsonOption = False) -> None:
        """Re-enable a disabled account."""
        _set_active(username, True, as_json)

    @users_app.command("set-password")
    @one_line_errors
    @database_errors
    def users_set_password(
        username: UsernameOption, password_stdin: PasswordStdinOption = False, as_json: JsonOption = False
    ) -> None:
        """Set an account's password (ends its sessions and lifts a lockout)."""
        from oaktree import db
        from oaktree.auth import users as user_service
        from oaktree.auth.context import auth_context
        from oaktree.auth.demo import generate_password

        settings = _ready_settings()
        password = stdin_secret() if password_stdin else generate_password()
        with db.session_scope(settings=settings) as session:
            user_service.set_password(
                session=session,
                ctx=auth_context(settings),
                principal=CLI_PRINCIPAL,
                username=username,
                new_password=password,
            )
        summary: dict[str, Any] = {"username": username, "password_set": True}
        if not password_stdin:
            summary["password"] = password
        emit(summary, as_json=as_json)
