"""The one settings class: every knob of OakTree, read from `OAKTREE_*` environment variables."""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigError(Exception):
    """A configuration value is unusable; the message is one line meant for the operator."""


# RFC 7518 section 3.2: an HMAC key must be at least as long as the hash output.
MIN_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
# Upper bounds: beyond them a value is a typo, and some would overflow a timedelta later.
MAX_DAYS_KEPT = 10 * 366
MAX_MINUTES_IN_A_DAY = 24 * 60
# CloudWatch keeps 1-minute data for 15 days: there is nothing older to backfill.
MAX_BACKFILL_MINUTES = 15 * MAX_MINUTES_IN_A_DAY
MAX_TPS = 100_000.0
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
DYNAMODB_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
SECRETS_MANAGER_ARN = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:[A-Za-z0-9/_+=.@-]+"
)
SECRETS_MANAGER_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
ACCOUNT_ID = re.compile(r"\d{12}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/[A-Za-z0-9/_+=,.@-]{1,512}")
# STS: an external id is 2 to 1,224 characters of letters, digits and +=,.@:/-
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")


@functools.cache
def known_regions() -> frozenset[str]:
    """Return every region name of botocore's endpoint data (every partition)."""
    # The same file a boto3 session reads, parsed directly: every `oaktree` command validates
    # its regions before it runs, and importing botocore's loader costs more than reading it.
    endpoints = json.loads((importlib.resources.files("botocore") / "data" / "endpoints.json").read_text())
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])


class AccountSettings(BaseModel):
    """One monitored AWS account: its id, the role to assume in it, and the regions to watch there.

    Without `role_arn` the account is read with the standard chain's own credentials (the account
    OakTree runs in). Without `regions` it is watched in `OAKTREE_REGIONS`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="12-digit AWS account id")
    role_arn: str | None = None
    external_id: SecretStr | None = None
    regions: tuple[str, ...] | None = None
    name: str | None = Field(default=None, max_length=100)

    @field_validator("id", mode="before")
    @classmethod
    def _account_id(cls, value: object) -> object:
        if isinstance(value, int):  # YAML reads an unquoted id as a number
            value = f"{value:012d}"
        if not isinstance(value, str) or not ACCOUNT_ID.fullmatch(value):
            raise ValueError("an account id is 12 digits")
        return value

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value is not None and not ROLE_ARN.fullmatch(value):
            raise ValueError("not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)")
        return value

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not EXTERNAL_ID.fullmatch(value.get_secret_value()):
            raise ValueError("an external id is 2 to 1224 letters, digits and +=,.@:/-")
        return value

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("list at least one region, or leave regions out to use OAKTREE_REGIONS")
        unknown = [region for region in value if region not in known_regions()]
        if unknown:
            raise ValueError(f"unknown AWS region(s): {', '.join(unknown)}")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _role_in_account(self) -> AccountSettings:
        if self.role_arn is not None and self.role_arn.split(":")[4] != self.id:
            raise ValueError(f"role_arn belongs to account {self.role_arn.split(':')[4]}, not {self.id}")
        if self.external_id is not None and self.role_arn is None:
            raise ValueError("external_id needs a role_arn")
        return self

    @property
    def label(self) -> str:
        """Return how messages name the account: its name and id, or the id."""
        return f"{self.name} ({self.id})" if self.name else self.id


def parse_accounts(value: str) -> list[dict[str, object]]:
    """Return the account entries of OAKTREE_ACCOUNTS: inline JSON, or the path of a YAML file.

    Both take a list of accounts or a mapping with an `accounts` list.
    """
    text = value.strip()
    if text.startswith(("[", "{")):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
        source = "the JSON"
    else:
        import yaml  # only when a file is named: most deployments have no accounts file

        path = Path(text).expanduser()
        try:
            document = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ValueError(f"cannot read {path} ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
        source = str(path)
    if isinstance(document, dict) and set(document) == {"accounts"}:
        document = document["accounts"]
    if not isinstance(document, list) or not all(isinstance(entry, dict) for entry in document):
        raise ValueError(f"{source} must be a list of accounts (or a mapping with an 'accounts' list)")
    return document


class Settings(BaseSettings):
    """OakTree configuration. AWS credentials and endpoint come from boto3's standard chain."""

    model_config = SettingsConfigDict(env_prefix="OAKTREE_", extra="ignore")

    # "sandbox" allows developer conveniences (a generated JWT secret); "production" refuses them.
    mode: Literal["sandbox", "production"] = "sandbox"
    # Of the JSON-lines log on stderr (any case: "debug" is DEBUG).
    log_level: LogLevel = "INFO"
    regions: Annotated[tuple[str, ...], NoDecode] = ("ap-southeast-1", "us-east-1")
    data_dir: Path = Path(".oaktree")
    database_url: str | None = None
    # Region holding OakTree's own DynamoDB tables; defaults to the first monitored region.
    home_region: str | None = None
    # Accounts to monitor: inline JSON or the path of a YAML file (see `parse_accounts`). Unset is
    # the account of the standard chain's credentials, in `regions`, as a single account.
    accounts: Annotated[tuple[AccountSettings, ...], NoDecode] = ()
    metrics_table: str = "oaktree-metrics"
    events_table: str = "oaktree-events"

    # Collection (issue 3): CloudWatch's 1-minute data lives 15 days, so raw items expire with it.
    raw_ttl_days: int = Field(default=15, ge=1, le=MAX_DAYS_KEPT)
    settling_overlap_minutes: int = Field(default=3, ge=0, le=MAX_MINUTES_IN_A_DAY)
    backfill_lookback_minutes: int = Field(default=180, ge=1, le=MAX_BACKFILL_MINUTES)
    # Collection (issue 3): request budgets per (region, API) for one process. GetMetricData's quota is
    # 50 TPS per account and region; staying below it leaves room for consoles and other tools.
    getmetricdata_tps: float = Field(default=40.0, gt=0, le=MAX_TPS)
    dynamodb_write_tps: float = Field(default=1000.0, gt=0, le=MAX_TPS)
    dynamodb_read_tps: float = Field(default=1000.0, gt=0, le=MAX_TPS)
    # Collection (issue 3): attempts per API call when throttled (ThrottlingException, 429, 5xx).
    collection_max_attempts: int = Field(default=6, ge=1, le=20)
    # Collection (issue 3): GetMetricData batches fetched in parallel within one region.
    collection_threads: int = Field(default=4, ge=1, le=32)

    # Auth (issue 4). The algorithm comes first: the secret's minimum length depends on it.
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    jwt_ttl_hours: int = Field(default=24, ge=1, le=30 * 24)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    lockout_attempts: int = Field(default=5, ge=1, le=100)
    lockout_window_minutes: int = Field(default=15, ge=1, le=MAX_MINUTES_IN_A_DAY)
    lockout_minutes: int = Field(default=15, ge=1, le=MAX_MINUTES_IN_A_DAY)
    # Auth (issue 4): a password-reset token is single use and expires after this long.
    password_reset_ttl_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # Auth (issue 4): the dashboard page that accepts a reset token (sent as `?token=...`); without it
    # the email carries the bare token.
    password_reset_url: str | None = None

    # Email channel (issue 4; the alerting issue reuses it). No host: sandbox logs instead of sending.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_sender: str = "OakTree <oaktree@localhost>"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    # Alerts. A period is evaluated once it ended this long ago and never before
    # collection reached its end. CloudWatch may still revise a value later (collection re-reads
    # the last minutes); a minute is enough for its late samples to land in practice, and more
    # delays every alert by as much.
    alert_settle_seconds: int = Field(default=60, ge=0, le=3600)
    # Alerts: delivery from the outbox. A failed delivery is retried after
    # base x 2^(attempts-1) seconds (at most the max, at least the channel's Retry-After) until
    # the attempts run out; then it is `failed` and shown in the history.
    alert_delivery_max_attempts: int = Field(default=10, ge=1, le=100)
    alert_retry_base_seconds: float = Field(default=5.0, ge=0, le=3600)
    alert_retry_max_seconds: float = Field(default=600.0, ge=0, le=86400)
    alert_send_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Alerts: a notification claimed by a sender that died while sending is sent again
    # after this long (channels receive an idempotency key; see docs/alerts.md).
    alert_sending_lease_seconds: int = Field(default=300, ge=10, le=86400)
    # Alerts: PagerDuty Events API v2; a channel may name its own endpoint.
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"

    # Warehouse (issue 3): days each resolution is kept; the defaults mirror CloudWatch's own retention
    # (1-minute 15 days, 5-minute 63 days, 1-hour 455 days) plus five years of daily buckets.
    warehouse_retention_1m_days: int = Field(default=15, ge=1, le=MAX_DAYS_KEPT)
    warehouse_retention_5m_days: int = Field(default=63, ge=1, le=MAX_DAYS_KEPT)
    warehouse_retention_1h_days: int = Field(default=455, ge=1, le=MAX_DAYS_KEPT)
    warehouse_retention_1d_days: int = Field(default=1825, ge=1, le=MAX_DAYS_KEPT)
    # Inventory change events are kept as long as the hourly rollups they explain.
    warehouse_retention_events_days: int = Field(default=455, ge=1, le=MAX_DAYS_KEPT)
    # Warehouse (DuckLake). The catalog: unset is a SQLite file in the data dir (other processes
    # read while the flows write); production names a PostgreSQL database, e.g. the application's
    # RDS database (postgresql://user@host:5432/db), whose `warehouse_catalog_schema` keeps the
    # lake's tables apart from the application's.
    warehouse_catalog: str | None = None
    warehouse_catalog_schema: str = Field(default="ducklake", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Where the lake's Parquet files go: unset is `<data dir>/warehouse/`; production uses
    # s3://bucket/prefix/ with boto3's credential chain (AWS_ENDPOINT_URL honoured).
    warehouse_data_path: str | None = None
    # Snapshots older than this are expired (time travel reaches this far back); files they alone
    # used are deleted `warehouse_file_grace_minutes` later, longer than any query runs.
    warehouse_snapshot_retention_hours: int = Field(default=24, ge=1, le=24 * 366)
    warehouse_file_grace_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)

    # Sandbox AWS account.
    sandbox_port: int = Field(default=5055, ge=1, le=65535)
    sandbox_seed: int = Field(default=42, ge=0, le=2**32 - 1)

    @field_validator("*", mode="before")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        # An empty variable is a mistake, not a way to unset one: unset means the default.
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty (unset the variable to use the default)")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("regions", mode="before")
    @classmethod
    def _split_regions(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one region is required")
        unknown = [region for region in value if region not in known_regions()]
        if unknown:
            raise ValueError(f"unknown AWS region(s): {', '.join(unknown)}")
        return tuple(dict.fromkeys(value))

    @field_validator("accounts", mode="before")
    @classmethod
    def _read_accounts(cls, value: object) -> object:
        return parse_accounts(value) if isinstance(value, str) else value

    @field_validator("accounts")
    @classmethod
    def _distinct_accounts(cls, value: tuple[AccountSettings, ...]) -> tuple[AccountSettings, ...]:
        ids = [account.id for account in value]
        repeated = sorted({account_id for account_id in ids if ids.count(account_id) > 1})
        if repeated:
            raise ValueError(f"account(s) listed twice: {', '.join(repeated)}")
        return value

    @field_validator("home_region")
    @classmethod
    def _known_home_region(cls, value: str | None) -> str | None:
        if value is not None and value not in known_regions():
            raise ValueError(f"unknown AWS region: {value}")
        return value

    @field_validator("metrics_table", "events_table")
    @classmethod
    def _dynamodb_table_name(cls, value: str) -> str:
        if not DYNAMODB_TABLE_NAME.fullmatch(value):
            raise ValueError("a DynamoDB table name is 3 to 255 letters, digits, '_', '-' or '.'")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        algorithm = info.data.get("jwt_algorithm")  # absent when the algorithm itself was invalid
        if value is not None and algorithm in MIN_SECRET_BYTES:
            minimum = MIN_SECRET_BYTES[algorithm]
            if len(value.get_secret_value().encode()) < minimum:
                raise ValueError(f"the JWT secret must be at least {minimum} bytes for {algorithm}")
        return value

    @field_validator("jwt_secret_arn")
    @classmethod
    def _secret_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("arn:"):
            arn = SECRETS_MANAGER_ARN.fullmatch(value)
            if arn is None:
                raise ValueError("not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:...)")
            if arn.group(1) not in known_regions():
                raise ValueError(f"unknown AWS region in the ARN: {arn.group(1)}")
        elif not SECRETS_MANAGER_NAME.fullmatch(value):
            raise ValueError("a secret name is up to 512 letters, digits and /_+=.@-")
        return value

    @field_validator("password_reset_url", "pagerduty_events_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("smtp_sender")
    @classmethod
    def _mail_address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError("must be an address such as 'OakTree <oaktree@example.com>'")
        return value

    @field_validator("database_url")
    @classmethod
    def _parsable_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Imported only when a URL is set: SQLAlchemy is a second of a command's start-up.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"cannot parse database URL ({exc})") from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError("database URL must be sqlite:/// or postgresql+psycopg://")
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.mode == "production":
            if self.bcrypt_rounds < 12:
                raise ValueError("bcrypt_rounds below 12 is allowed only in sandbox mode")
            if self.jwt_secret is None and self.jwt_secret_arn is None:
                raise ValueError("production mode needs OAKTREE_JWT_SECRET or OAKTREE_JWT_SECRET_ARN")
        return self

    def regions_of(self, account: AccountSettings | None) -> tuple[str, ...]:
        """Return the regions watched in an account (None: the credentials' own account)."""
        return (account.regions if account is not None else None) or self.regions

    def account(self, account_id: str | None) -> AccountSettings | None:
        """Return the configured account with this id; None asks for the credentials' own account.

        Raises ConfigError for an id that is not configured.
        """
        if account_id is None:
            return None
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise ConfigError(f"account {account_id} is not in OAKTREE_ACCOUNTS")

    @property
    def storage_region(self) -> str:
        """Return the region of OakTree's own DynamoDB tables."""
        return self.home_region or self.regions[0]

    @property
    def sqlalchemy_url(self) -> str:
        """Return the application database URL; the embedded default is SQLite in the data dir."""
        if self.database_url:
            from sqlalchemy.engine import make_url

            url = make_url(self.database_url)
            if url.drivername == "postgresql":  # plain postgresql:// would pick psycopg2
                url = url.set(drivername="postgresql+psycopg")
            return url.render_as_string(hide_password=False)
        return f"sqlite:///{(self.data_dir / 'oaktree.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning validation errors into one-line ConfigErrors."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable_of(err['loc'])}: {err['msg'].removeprefix('Value error, ')}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None


def _variable_of(location: tuple[int | str, ...]) -> str:
    """Return where a validation error is: OAKTREE_REGIONS, or OAKTREE_ACCOUNTS[1].role_arn."""
    if not location:
        return "OAKTREE_SETTINGS"
    name, *inner = location
    if name == "accounts" and inner:
        index, *fields = inner
        # Entries are numbered from 1, as a person counts them in the file.
        where = f"[{index + 1}]" if isinstance(index, int) else f".{index}"
        return f"OAKTREE_ACCOUNTS{where}" + "".join(f".{field}" for field in fields)
    return f"OAKTREE_{'_'.join(str(part) for part in location).upper()}"


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings, read once on first use (never at import time)."""
    return load_settings()
