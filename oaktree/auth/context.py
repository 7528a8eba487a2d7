"""Everything the auth services need besides a database session, built once from settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

from models.base import utcnow
from oaktree.auth.lockout import LockoutPolicy
from oaktree.auth.passwords import PRODUCTION_MIN_ROUNDS
from oaktree.auth.tokens import TokenSigner, resolve_jwt_secret
from oaktree.config import ConfigError, Settings
from oaktree.notify.email import EmailChannel, SmtpConfig

Clock = Callable[[], datetime]


@dataclasses.dataclass(frozen=True, slots=True)
class AuthContext:
    """Signer, password cost, lockout policy, reset-mail settings and the clock the services use.

    The clock is injectable so expiry and lockout can be tested without sleeping.
    """

    signer: TokenSigner
    bcrypt_rounds: int = PRODUCTION_MIN_ROUNDS
    lockout: LockoutPolicy = dataclasses.field(default_factory=LockoutPolicy)
    production: bool = False
    reset_ttl: timedelta = timedelta(hours=1)
    reset_url: str | None = None
    email: EmailChannel | None = None
    clock: Clock = utcnow

    def __post_init__(self) -> None:
        if self.production and self.bcrypt_rounds < PRODUCTION_MIN_ROUNDS:
            raise ConfigError(f"bcrypt cost below {PRODUCTION_MIN_ROUNDS} is allowed only in sandbox mode")

    def now(self) -> datetime:
        """Return the current time from the context's clock."""
        return self.clock()


def auth_context(settings: Settings, *, clock: Clock = utcnow) -> AuthContext:
    """Return the auth context for the settings (resolving the JWT secret, possibly from AWS)."""
    smtp = SmtpConfig.from_settings(settings)
    return AuthContext(
        signer=TokenSigner(
            secret=resolve_jwt_secret(settings),
            algorithm=settings.jwt_algorithm,
            ttl=timedelta(hours=settings.jwt_ttl_hours),
        ),
        bcrypt_rounds=settings.bcrypt_rounds,
        lockout=LockoutPolicy(
            attempts=settings.lockout_attempts,
            window=timedelta(minutes=settings.lockout_window_minutes),
            duration=timedelta(minutes=settings.lockout_minutes),
        ),
        production=settings.mode == "production",
        reset_ttl=timedelta(minutes=settings.password_reset_ttl_minutes),
        reset_url=settings.password_reset_url,
        email=EmailChannel(smtp) if smtp else None,
        clock=clock,
    )
