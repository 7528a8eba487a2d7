"""Server-side login and logout: the only code that sets or clears the session cookie.

The login page posts an ordinary HTML form to `POST /session/login`. The route checks the
request's Origin (a cross-site page cannot log a browser into an account it chose), runs the auth
service's login (bcrypt, lockout, every attempt recorded), and answers 303 to `/` with the token
in an `HttpOnly; SameSite=Strict; Path=/` cookie (`Secure` when the request came over HTTPS),
so page scripts never see the token and other sites never send it. A refused login redirects to
`/?login_error=<code>` (a code, never the typed name) and the login page shows the message.
`POST /session/logout` revokes the token server-side and clears the cookie.

Streamlit reads cookies once per browser session (the websocket handshake), so each route answers
with a redirect: the reload starts a session that sees the new cookie.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from oaktree.auth.context import AuthContext
from oaktree.config import Settings
from oaktree.logs import get_logger

log = get_logger(__name__)

SESSION_COOKIE = "oaktree_session"
LOGIN_PATH = "/session/login"
LOGOUT_PATH = "/session/logout"
# Form fields bigger than this are not a name or a password: refuse before hashing anything.
MAX_FIELD_CHARS = 1024


class LoginError(enum.StrEnum):
    """Why a login was refused, as the login page's `?login_error=` code."""

    INVALID = "invalid"
    LOCKED = "locked"
    ORIGIN = "origin"
    MISSING = "missing"
    UNAVAILABLE = "unavailable"


LOGIN_ERROR_MESSAGES = {
    LoginError.INVALID: "Invalid username/email or password.",
    LoginError.LOCKED: "Too many failed attempts: this account is locked. Try again in {minutes} minute(s).",
    LoginError.ORIGIN: "The login form was sent from another site; open OakTree directly and sign in again.",
    LoginError.MISSING: "Enter your username or email and your password.",
    LoginError.UNAVAILABLE: "Login is unavailable (the database cannot be reached). Try again soon.",
}


def login_error_message(code: str | None, minutes: str | None = None) -> str | None:
    """Return the message for a `?login_error=` code (None for no or an unknown code)."""
    if code not in {error.value for error in LoginError}:
        return None
    shown = minutes if minutes and minutes.isdigit() and len(minutes) < 5 else "a few"
    return LOGIN_ERROR_MESSAGES[LoginError(code)].format(minutes=shown)


def _is_https(request: Request) -> bool:
    # Behind the ALB, TLS ends at the load balancer, which says so in X-Forwarded-Proto.
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def same_origin(request: Request) -> bool:
    """Return whether the request's Origin (or, without one, its Referer) is this server's own."""
    host = request.headers.get("x-forwarded-host") or request.headers.get("host")
    if not host:
        return False
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    expected_scheme = "https" if _is_https(request) else request.url.scheme
    return parts.scheme == expected_scheme and parts.netloc.lower() == host.lower()


def _redirect_home(**query: str) -> RedirectResponse:
    target = "/" + (f"?{urlencode(query)}" if query else "")
    response = RedirectResponse(target, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


def build_session_routes(
    *, settings_source: Callable[[], Settings], auth_source: Callable[[], AuthContext]
) -> list[Route]:
    """Return the login and logout routes, reading settings and the auth context when called."""
    from sqlalchemy.exc import SQLAlchemyError

    from oaktree import db
    from oaktree.auth.errors import AccountLocked, AuthenticationFailed, InvalidInput, InvalidToken
    from oaktree.auth.sessions import login, logout
    from oaktree.config import ConfigError

    async def login_route(request: Request) -> Response:
        if not same_origin(request):
            log.warning("dashboard.login_refused_origin", origin=request.headers.get("origin"))
            return _redirect_home(login_error=LoginError.ORIGIN)
        form = await request.form()
        identifier = str(form.get("identifier") or "")[:MAX_FIELD_CHARS]
        password = str(form.get("password") or "")[:MAX_FIELD_CHARS]
        if not identifier.strip() or not password:
            return _redirect_home(login_error=LoginError.MISSING)
        settings = settings_source()
        try:
            ctx = auth_source()
            with db.session_scope(settings=settings) as session:
                result = login(session=session, ctx=ctx, identifier=identifier, password=password)
        except AccountLocked as exc:
            minutes = max(1, -(-exc.retry_after_seconds // 60))
            return _redirect_home(login_error=LoginError.LOCKED, minutes=str(minutes))
        except (AuthenticationFailed, InvalidInput):
            return _redirect_home(login_error=LoginError.INVALID)
        except db.SchemaNotCurrent:
            return _redirect_home(login_error=LoginError.UNAVAILABLE)
        except (SQLAlchemyError, ConfigError) as exc:
            # An unreachable database or secret must read as a message, not a 500 page.
            log.error("dashboard.login_failed", error=type(exc).__name__)
            return _redirect_home(login_error=LoginError.UNAVAILABLE)
        response = _redirect_home()
        max_age = max(0, int((result.expires_at - datetime.now(UTC)).total_seconds()))
        response.set_cookie(
            SESSION_COOKIE,
            result.token,
            max_age=max_age,
            path="/",
            secure=_is_https(request),
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout_route(request: Request) -> Response:
        if not same_origin(request):
            # A cross-site logout would only be a nuisance, but nothing else may end a session.
            return _redirect_home()
        token = request.cookies.get(SESSION_COOKIE)
        response = _redirect_home(signed_out="1")
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=_is_https(request), httponly=True, samesite="strict"
        )
        if token:
            try:
                with db.session_scope(settings=settings_source()) as session:
                    logout(session=session, ctx=auth_source(), token=token)
            except InvalidToken:
                pass  # already expired or revoked: clearing the cookie is all that is left to do
            except (SQLAlchemyError, ConfigError) as exc:
                # The cookie is cleared whatever the database says.
                log.error("dashboard.logout_failed", error=type(exc).__name__)
        return response

    return [
        Route(LOGIN_PATH, login_route, methods=["POST"]),
        Route(LOGOUT_PATH, logout_route, methods=["POST"]),
    ]
