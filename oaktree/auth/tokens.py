"""Session tokens: JWTs signed with a secret from the environment, Secrets Manager or the sandbox."""

from __future__ import annotations

import dataclasses
import os
import secrets
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from oaktree.auth.errors import InvalidToken
from oaktree.config import MIN_SECRET_BYTES, ConfigError, Settings
from oaktree.logs import get_logger

log = get_logger(__name__)

ISSUER = "oaktree"
SANDBOX_SECRET_FILE = "jwt-secret"
# How far ahead of this host's clock a token's issue time may be: the clocks of the hosts that
# issue and check tokens differ a little. Anything later was not issued by a sane clock.
MAX_CLOCK_SKEW = timedelta(seconds=60)


@dataclasses.dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified contents of a session token."""

    user_id: int
    account_key: str
    username: str
    roles: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    token_id: str
    token_version: int


@dataclasses.dataclass(frozen=True, slots=True)
class TokenSigner:
    """Issues and verifies session tokens with one secret and one HMAC algorithm."""

    secret: str = dataclasses.field(repr=False)
    algorithm: str = "HS256"
    ttl: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.algorithm not in MIN_SECRET_BYTES:
            raise ConfigError(f"unsupported JWT algorithm {self.algorithm!r} (use HS256, HS384 or HS512)")
        minimum = MIN_SECRET_BYTES[self.algorithm]
        if len(self.secret.encode()) < minimum:
            raise ConfigError(f"the JWT secret must be at least {minimum} bytes for {self.algorithm}")

    def issue(
        self,
        *,
        user_id: int,
        account_key: str,
        username: str,
        roles: tuple[str, ...],
        token_version: int,
        now: datetime,
    ) -> str:
        """Return a signed token for the user, valid from `now` for the configured lifetime."""
        claims = {
            "iss": ISSUER,
            "sub": str(user_id),
            "account": account_key,
            "username": username,
            "roles": list(roles),
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
            "jti": uuid.uuid4().hex,
            "ver": token_version,
        }
        return jwt.encode(claims, self.secret, algorithm=self.algorithm)

    def verify(self, token: str, *, now: datetime) -> TokenClaims:
        """Return the claims of a token signed by this signer and valid at `now`, else raise InvalidToken.

        Only this signer's algorithm is accepted, so `alg: none` and algorithm-confusion tokens fail.
        A token is valid from its issue time (less MAX_CLOCK_SKEW) until its expiry.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") != self.algorithm:
            raise InvalidToken(f"token algorithm {header.get('alg')!r} is not accepted")
        try:
            payload = jwt.decode(
                token,
                self.secret,
                algorithms=[self.algorithm],
                issuer=ISSUER,
                # Expiry and issue time are checked below against the injected clock, so tests
                # need no sleeping.
                options={
                    "require": ["iss", "sub", "iat", "exp", "jti"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidToken("token signature is invalid") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"token is invalid ({exc})") from None
        try:
            expires_at = datetime.fromtimestamp(int(payload["exp"]), UTC)
            issued_at = datetime.fromtimestamp(int(payload["iat"]), UTC)
            claims = TokenClaims(
                user_id=int(payload["sub"]),
                account_key=str(payload["account"]),
                username=str(payload["username"]),
                roles=tuple(str(role) for role in payload["roles"]),
                issued_at=issued_at,
                expires_at=expires_at,
                token_id=str(payload["jti"]),
                token_version=int(payload["ver"]),
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidToken("token claims are malformed") from None
        if now >= claims.expires_at:
            raise InvalidToken("token has expired")
        if claims.issued_at > now + MAX_CLOCK_SKEW:
            raise InvalidToken("token was issued in the future")
        return claims


def resolve_jwt_secret(settings: Settings) -> str:
    """Return the signing secret: OAKTREE_JWT_SECRET, else the Secrets Manager secret, else (sandbox
    only) a random secret generated once and kept in the data dir."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.jwt_secret_arn is not None:
        return fetch_secret(settings.jwt_secret_arn, default_region=settings.storage_region)
    if settings.mode != "sandbox":
        raise ConfigError("production mode needs OAKTREE_JWT_SECRET or OAKTREE_JWT_SECRET_ARN")
    return sandbox_secret(settings.data_dir)


def fetch_secret(secret_id: str, *, default_region: str) -> str:
    """Return a Secrets Manager secret's string; the region comes from the ARN when one is given."""
    from botocore.exceptions import ClientError  # only production reads the secret from AWS

    from oaktree import aws

    parts = secret_id.split(":")
    region = parts[3] if secret_id.startswith("arn:") and len(parts) > 3 else default_region
    client = aws.client("secretsmanager", region)
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in {"ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure"}:
            raise ConfigError(f"cannot read the JWT secret {secret_id} ({code})") from None
        raise
    secret = response.get("SecretString")
    if not secret:
        raise ConfigError(f"the JWT secret {secret_id} has no SecretString")
    return secret


def sandbox_secret(data_dir: Path) -> str:
    """Return the sandbox's generated secret, creating it (mode 0600) on first use.

    Kept on disk so tokens survive restarts of the dashboard; never used in production mode.
    """
    path = data_dir / SANDBOX_SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".jwt-secret-")  # created 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        # link() fails if another process got there first; theirs wins and both read the same file.
        try:
            os.link(temporary, path)
            log.warning(
                "auth.sandbox_secret_created", path=str(path), note="sandbox only; set OAKTREE_JWT_SECRET"
            )
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
    return path.read_text(encoding="utf-8").strip()
