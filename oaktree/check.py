"""Deployment checks: is everything OakTree needs configured, reachable and permitted?

Each check is one function registered with `@check(name)`: it takes the settings and yields
`CheckResult`s (passed, failed with the fix, or skipped when it does not apply). `run_checks`
runs them in registration order. A notification channel's check is one more such function
(`@check("channel.<name>")`); nothing else has to change.

Checks read and prove permissions without changing what matters: DynamoDB and ECS probes aim at
names that do not exist, EC2 uses DryRun, the warehouse probe writes and deletes one small
object under the lake's data path, and one `CheckRuns` point goes to OakTree's own namespace
(PutMetricData has no dry run). The `health` checks are the cheap ones the container health
check runs every minute; the deploy pipeline runs all of them once per release.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import smtplib
import ssl
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from oaktree import aws
from oaktree.accounts import (
    AccountRegion,
    AccountUnavailable,
    monitored_accounts,
    resolve_account_id,
    role_of,
)
from oaktree.aws_permissions import (
    HOME_REGION_PERMISSIONS,
    MONITORED_REGION_PERMISSIONS,
    PermissionDenied,
    PermissionProbe,
    ProbeTarget,
    run_probe,
)
from oaktree.config import ConfigError, Settings
from oaktree.storage.tables import EVENTS_TABLE, METRICS_TABLE, TableSpec

# A partition key no OakTree item has ('~' sorts after every resource id): probes read and delete
# it, so they cost a request each and touch no data.
PROBE_KEY = "~oaktree-check"
READ_ROLE_MODULE = "infra/modules/oaktree-read-role"


class Status(enum.StrEnum):
    """Outcome of one check."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclasses.dataclass(frozen=True, slots=True)
class CheckResult:
    """One thing checked: what, where, the outcome, what was seen, and how to fix a failure."""

    check: str
    target: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the result as JSON-ready values."""
        return {
            "check": self.check,
            "target": self.target,
            "status": str(self.status),
            "detail": self.detail,
            "fix": self.fix,
        }


CheckFunction = Callable[[Settings], Iterable[CheckResult]]


@dataclasses.dataclass(frozen=True, slots=True)
class RegisteredCheck:
    """A check function, its name, and whether the container health check runs it."""

    name: str
    run: CheckFunction
    health: bool


REGISTRY: dict[str, RegisteredCheck] = {}


def check(name: str, *, health: bool = False) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under `name` (`health`: cheap enough for the container health check)."""

    def register(function: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"a check named {name!r} is already registered")
        REGISTRY[name] = RegisteredCheck(name=name, run=function, health=health)
        return function

    return register


@dataclasses.dataclass(frozen=True, slots=True)
class CheckReport:
    """Every result of one `run_checks`."""

    results: tuple[CheckResult, ...]

    @property
    def failed(self) -> list[CheckResult]:
        """Return the failed results."""
        return [result for result in self.results if result.status is Status.FAILED]

    @property
    def passed(self) -> bool:
        """Return True when nothing failed (skipped checks do not fail a deployment)."""
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values, with counts per status."""
        counts = {str(status): 0 for status in Status}
        for result in self.results:
            counts[str(result.status)] += 1
        return {"passed": self.passed, "counts": counts, "results": [r.to_dict() for r in self.results]}


def select_checks(only: Collection[str] | None = None, *, health: bool = False) -> list[RegisteredCheck]:
    """Return the registered checks to run: all, the health ones, or those named (or name-prefixed)."""
    chosen = list(REGISTRY.values())
    if health:
        chosen = [entry for entry in chosen if entry.health]
    if only:
        unknown = [
            name for name in only if not any(_matches(entry.name, name) for entry in REGISTRY.values())
        ]
        if unknown:
            raise ConfigError(f"unknown check(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
        chosen = [entry for entry in chosen if any(_matches(entry.name, name) for name in only)]
    return chosen


def _matches(check_name: str, wanted: str) -> bool:
    # "channel" selects "channel.email" and every other channel; "aws" selects both AWS checks.
    return check_name == wanted or check_name.startswith(wanted + ".")


def run_checks(
    load: Callable[[], Settings], *, only: Collection[str] | None = None, health: bool = False
) -> CheckReport:
    """Load the settings, then run the selected checks in order; return every result.

    Unusable settings are the configuration check's failure, and every other check is skipped:
    none of them could say anything true without a configuration.
    """
    selected = select_checks(only, health=health)
    try:
        settings = load()
    except ConfigError as exc:
        results = [
            CheckResult("configuration", "OAKTREE_* settings", Status.FAILED, str(exc), _CONFIG_FIX),
            *(
                CheckResult(entry.name, "-", Status.SKIPPED, "configuration is invalid")
                for entry in selected
                if entry.name != "configuration"
            ),
        ]
        return CheckReport(tuple(results))
    results: list[CheckResult] = []
    for entry in selected:
        results.extend(entry.run(settings))
    return CheckReport(tuple(results))


_CONFIG_FIX = (
    "correct the variable named in the message (every setting: oaktree/config.py, README 'Configuration')"
)


# ---------------------------------------------------------------- configuration


@check("configuration", health=True)
def check_configuration(settings: Settings) -> Iterator[CheckResult]:
    """Settings load; in production mode, the stores are the production ones (not embedded files)."""
    if settings.mode != "production":
        yield CheckResult(
            "configuration", "OAKTREE_MODE", Status.PASSED, "sandbox mode: embedded stores allowed"
        )
        return
    requirements = [
        (
            "OAKTREE_DATABASE_URL",
            settings.database_url is not None and settings.sqlalchemy_url.startswith("postgresql"),
            "set it to the RDS PostgreSQL URL (infra sets postgresql+psycopg://user@host:5432/db)",
        ),
        (
            "OAKTREE_WAREHOUSE_CATALOG",
            (settings.warehouse_catalog or "").startswith(("postgresql:", "postgres:", "postgresql+")),
            "set it to a postgresql:// URL (the RDS database); a SQLite catalog is one machine's file",
        ),
        (
            "OAKTREE_WAREHOUSE_DATA_PATH",
            (settings.warehouse_data_path or "").startswith("s3://"),
            "set it to s3://<warehouse bucket>/<prefix>/ (infra output warehouse_data_path)",
        ),
    ]
    for variable, satisfied, fix in requirements:
        if satisfied:
            yield CheckResult("configuration", variable, Status.PASSED, "production value")
        else:
            yield CheckResult("configuration", variable, Status.FAILED, "embedded default in production", fix)


# ---------------------------------------------------------------- application database


@check("database", health=True)
def check_database(settings: Settings) -> Iterator[CheckResult]:
    """The application database answers, and is at the newest migration."""
    from oaktree import db  # alembic and the models load only when this check runs

    url = settings.sqlalchemy_url
    shown = db.redacted_url(url)
    try:
        with db.engine_for(url).connect() as connection:
            connection.execute(text("SELECT 1"))
        current = db.current_revision(url)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        yield CheckResult(
            "database",
            shown,
            Status.FAILED,
            f"cannot connect: {reason}",
            "check OAKTREE_DATABASE_URL and PGPASSWORD, and that port 5432 is open to this task",
        )
        return
    yield CheckResult("database", shown, Status.PASSED, "connected")
    head = db.head_revision()
    if current == head:
        yield CheckResult("database", "migrations", Status.PASSED, f"at head {head}")
    else:
        state = "empty" if current is None else f"at {current}"
        yield CheckResult(
            "database", "migrations", Status.FAILED, f"{state}, head is {head}", "run `oaktree db upgrade`"
        )


# ---------------------------------------------------------------- DynamoDB tables


def _key_schema(description: dict[str, Any]) -> tuple[str | None, str | None, dict[str, str]]:
    keys = {item["KeyType"]: item["AttributeName"] for item in description["KeySchema"]}
    types = {item["AttributeName"]: item["AttributeType"] for item in description["AttributeDefinitions"]}
    return keys.get("HASH"), keys.get("RANGE"), types


def _table_probes(client: Any, table: str, spec: TableSpec) -> list[tuple[str, Callable[[], Any]]]:
    key = {spec.partition_key: {"S": PROBE_KEY}, spec.sort_key: {"S": PROBE_KEY}}
    return [
        (
            "dynamodb:Query",
            lambda: client.query(
                TableName=table,
                KeyConditionExpression="#p = :p",
                ExpressionAttributeNames={"#p": spec.partition_key},
                ExpressionAttributeValues={":p": {"S": PROBE_KEY}},
                Limit=1,
            ),
        ),
        ("dynamodb:BatchGetItem", lambda: client.batch_get_item(RequestItems={table: {"Keys": [key]}})),
        # Deleting an item that does not exist writes nothing and proves the write permission.
        (
            "dynamodb:BatchWriteItem",
            lambda: client.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": key}}]}),
        ),
    ]


@check("dynamodb")
def check_dynamodb_tables(settings: Settings) -> Iterator[CheckResult]:
    """OakTree's two tables exist with the key schema of `oaktree.storage.tables`, and may be used."""
    region = settings.storage_region
    client = aws.client("dynamodb", region)
    for table, spec in ((settings.metrics_table, METRICS_TABLE), (settings.events_table, EVENTS_TABLE)):
        target = f"{table} ({region})"
        try:
            description = client.describe_table(TableName=table)["Table"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            fix = (
                "create it: `terraform apply` in infra/ (or `oaktree bootstrap` outside production)"
                if code == "ResourceNotFoundException"
                else f"grant dynamodb:DescribeTable on {table} to this task's role"
            )
            yield CheckResult("dynamodb", target, Status.FAILED, _aws_reason(exc), fix)
            continue
        except BotoCoreError as exc:
            yield CheckResult(
                "dynamodb", target, Status.FAILED, str(exc), "check AWS_REGION and the endpoint"
            )
            continue
        partition, sort, types = _key_schema(description)
        wanted = (spec.partition_key, spec.sort_key)
        if (partition, sort) != wanted or types.get(partition) != "S" or types.get(sort) != "S":
            yield CheckResult(
                "dynamodb",
                target,
                Status.FAILED,
                f"keys are {partition}/{sort}, expected {wanted[0]} (S) / {wanted[1]} (S)",
                "the table predates the current key schema: recreate it (README 'Data model')",
            )
            continue
        yield CheckResult("dynamodb", target, Status.PASSED, f"keys {partition} (S) / {sort} (S)")
        yield from _ttl_result(client, table, spec, target)
        for action, call in _table_probes(client, table, spec):
            yield _probe_result("dynamodb", f"{action} on {table}", call, f"grant {action} on {table}")


def _ttl_result(client: Any, table: str, spec: TableSpec, target: str) -> Iterator[CheckResult]:
    if spec.ttl_attribute is None:
        return
    try:
        ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    except ClientError as exc:
        yield CheckResult(
            "dynamodb",
            f"TTL of {target}",
            Status.FAILED,
            _aws_reason(exc),
            "grant dynamodb:DescribeTimeToLive",
        )
        return
    if (
        ttl.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}
        and ttl.get("AttributeName") == spec.ttl_attribute
    ):
        yield CheckResult("dynamodb", f"TTL of {target}", Status.PASSED, f"on {spec.ttl_attribute}")
    else:
        yield CheckResult(
            "dynamodb",
            f"TTL of {target}",
            Status.FAILED,
            f"TTL is {ttl.get('TimeToLiveStatus', 'DISABLED')} ({ttl.get('AttributeName', 'no attribute')})",
            f"enable TTL on {spec.ttl_attribute} (infra/data.tf does; raw points otherwise never expire)",
        )


def _probe_result(check_name: str, target: str, call: Callable[[], Any], fix: str) -> CheckResult:
    try:
        call()
    except ClientError as exc:
        return CheckResult(check_name, target, Status.FAILED, _aws_reason(exc), fix)
    except BotoCoreError as exc:
        return CheckResult(check_name, target, Status.FAILED, str(exc), "check the AWS endpoint and region")
    return CheckResult(check_name, target, Status.PASSED, "allowed")


def _aws_reason(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}".rstrip(": ")


# ---------------------------------------------------------------- warehouse (DuckLake)

# Anything that opens the lake for writing creates it; in production the task roles may not
# create DynamoDB tables, so `bootstrap` is for the sandbox and `warehouse compact` for production.
_CREATE_LAKE = "run `oaktree bootstrap` (production: `oaktree warehouse compact`) to create the lake"


@check("warehouse")
def check_warehouse(settings: Settings) -> Iterator[CheckResult]:
    """The DuckLake catalog attaches and holds the tables; the data path takes a write, read and delete."""
    from oaktree.warehouse.errors import WarehouseError
    from oaktree.warehouse.lake import lake_location, missing_tables, open_lake

    try:
        location = lake_location(settings)
    except WarehouseError as exc:
        yield CheckResult("warehouse", "catalog", Status.FAILED, str(exc), "fix OAKTREE_WAREHOUSE_CATALOG")
        return
    if not location.exists():
        yield CheckResult(
            "warehouse",
            location.shown,
            Status.FAILED,
            "no catalog yet",
            _CREATE_LAKE,
        )
    else:
        try:
            connection = open_lake(location, read_only=True)
        except WarehouseError as exc:
            yield CheckResult(
                "warehouse",
                location.shown,
                Status.FAILED,
                str(exc),
                f"check OAKTREE_WAREHOUSE_CATALOG and PGPASSWORD; a new catalog: {_CREATE_LAKE}",
            )
        else:
            try:
                missing = [table.name for table in missing_tables(connection)]
            finally:
                connection.close()
            if missing:
                yield CheckResult(
                    "warehouse",
                    location.shown,
                    Status.FAILED,
                    f"tables missing: {', '.join(missing)}",
                    _CREATE_LAKE,
                )
            else:
                yield CheckResult(
                    "warehouse", location.shown, Status.PASSED, "catalog attached, tables present"
                )
    yield _data_path_result(location.data_path)


def _data_path_result(data_path: str) -> CheckResult:
    probe_name = f"_oaktree_check/{uuid.uuid4().hex}"
    body = b"oaktree check"
    if data_path.startswith("s3://"):
        parts = urlsplit(data_path)
        bucket, key = parts.netloc, parts.path.lstrip("/") + probe_name
        s3 = aws.client("s3", aws.default_region())
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            read_back = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            s3.delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            return CheckResult(
                "warehouse",
                data_path,
                Status.FAILED,
                _aws_reason(exc),
                "grant s3:PutObject, GetObject and DeleteObject on the data path prefix to this task's role",
            )
        except BotoCoreError as exc:
            return CheckResult("warehouse", data_path, Status.FAILED, str(exc), "check the S3 endpoint")
    else:
        path = Path(data_path) / probe_name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            read_back = path.read_bytes()
            path.unlink()
            path.parent.rmdir()
        except OSError as exc:
            return CheckResult(
                "warehouse", data_path, Status.FAILED, str(exc), "make the data path writable by this user"
            )
    if read_back != body:
        return CheckResult(
            "warehouse", data_path, Status.FAILED, "read back other bytes than written", "check the storage"
        )
    return CheckResult("warehouse", data_path, Status.PASSED, "write, read and delete work")


# ---------------------------------------------------------------- AWS credentials and permissions


@check("aws.credentials")
def check_aws_credentials(settings: Settings) -> Iterator[CheckResult]:
    """boto3's standard chain finds credentials AWS accepts (STS GetCallerIdentity needs no permission)."""
    identity = _caller_identity(settings)
    if isinstance(identity, str):
        yield CheckResult(
            "aws.credentials",
            settings.storage_region,
            Status.FAILED,
            identity,
            "give the task a role (ECS task role) or set AWS credentials; check AWS_ENDPOINT_URL",
        )
    else:
        yield CheckResult(
            "aws.credentials", identity["Account"], Status.PASSED, f"acting as {identity['Arn']}"
        )


def _caller_identity(settings: Settings) -> dict[str, str] | str:
    """Return STS's identity of the caller, or the one-line reason it cannot be had."""
    try:
        aws.check_reachable(settings.storage_region)
        return aws.client("sts", settings.storage_region).get_caller_identity()
    except ClientError as exc:
        return _aws_reason(exc)
    except BotoCoreError as exc:
        return f"{type(exc).__name__}: {exc}"


def _permission_result(
    probe: PermissionProbe, target: ProbeTarget, principal: str, where: str
) -> CheckResult:
    label = f"{probe.action} in {target.region}"
    if target.role is not None:
        label = f"{probe.action} in {target.account_id}/{target.region}"
    try:
        run_probe(probe, target)
    except PermissionDenied as exc:
        return CheckResult(
            "aws.permissions",
            label,
            Status.FAILED,
            f"denied for {probe.needed_by}: {exc}",
            f"allow {probe.action} for {principal} ({where})",
        )
    except (ClientError, BotoCoreError) as exc:
        reason = _aws_reason(exc) if isinstance(exc, ClientError) else str(exc)
        return CheckResult(
            "aws.permissions",
            label,
            Status.FAILED,
            reason,
            "retry; if it persists, check the endpoint and region",
        )
    return CheckResult("aws.permissions", label, Status.PASSED, f"allowed ({probe.needed_by})")


@check("aws.permissions")
def check_aws_permissions(settings: Settings) -> Iterator[CheckResult]:
    """One dry call per permission: discovery and collection per monitored region, then the home region's."""
    identity = _caller_identity(settings)
    if isinstance(identity, str):
        yield CheckResult("aws.permissions", "-", Status.SKIPPED, f"no usable credentials ({identity})")
        return
    principal = identity["Arn"]
    for account in monitored_accounts(settings):
        role = role_of(account)
        account_id = account.id if account else identity["Account"]
        if role is not None:
            try:
                resolve_account_id(AccountRegion(account_id, settings.regions_of(account)[0], role))
            except AccountUnavailable as exc:
                yield CheckResult(
                    "aws.accounts",
                    account_id,
                    Status.FAILED,
                    f"cannot assume {role.role_arn}: {exc.error_code}: {exc.message}",
                    f"apply {READ_ROLE_MODULE} in account {account_id} trusting {principal}, with the "
                    "external id of OAKTREE_ACCOUNTS",
                )
                continue
            yield CheckResult("aws.accounts", account_id, Status.PASSED, f"assumed {role.role_arn}")
        for region in settings.regions_of(account):
            target = ProbeTarget(region=region, account_id=account_id, role=role)
            for probe in MONITORED_REGION_PERMISSIONS:
                yield _permission_result(
                    probe,
                    target,
                    role.role_arn if role else principal,
                    f"infra/iam.tf collector role, or {READ_ROLE_MODULE}",
                )
    home = ProbeTarget(region=settings.storage_region, account_id=identity["Account"])
    for probe in HOME_REGION_PERMISSIONS:
        yield _permission_result(probe, home, principal, "infra/iam.tf task roles")
    if settings.jwt_secret_arn is not None:
        yield _secret_result(settings.jwt_secret_arn, settings.storage_region, principal)


def _secret_result(secret_id: str, default_region: str, principal: str) -> CheckResult:
    parts = secret_id.split(":")
    region = parts[3] if secret_id.startswith("arn:") and len(parts) > 3 else default_region
    label = f"secretsmanager:GetSecretValue on {secret_id}"
    try:
        value = aws.client("secretsmanager", region).get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        return CheckResult(
            "aws.permissions",
            label,
            Status.FAILED,
            _aws_reason(exc),
            f"create the secret, or allow secretsmanager:GetSecretValue on it for {principal}",
        )
    if not value.get("SecretString"):
        return CheckResult(
            "aws.permissions", label, Status.FAILED, "no SecretString", "store the secret as a string"
        )
    return CheckResult("aws.permissions", label, Status.PASSED, "readable")


# ---------------------------------------------------------------- Prefect API


@check("prefect")
def check_prefect(settings: Settings) -> Iterator[CheckResult]:
    """The Prefect API named by PREFECT_API_URL answers its health endpoint (with PREFECT_API_KEY if set)."""
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        yield CheckResult(
            "prefect",
            "PREFECT_API_URL",
            Status.SKIPPED,
            "not set: `oaktree serve` runs the flows on a temporary local server",
        )
        return
    headers = {}
    if os.environ.get("PREFECT_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['PREFECT_API_KEY']}"
    url = api_url.rstrip("/") + "/health"
    try:
        response = httpx.get(url, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        yield CheckResult(
            "prefect",
            api_url,
            Status.FAILED,
            f"{type(exc).__name__}: {exc}",
            "check PREFECT_API_URL and that outbound HTTPS reaches it",
        )
        return
    if response.status_code != 200:
        fix = (
            "set PREFECT_API_KEY (infra: prefect_api_key_secret_arn)"
            if response.status_code in {401, 403}
            else "check PREFECT_API_URL (it ends in /api, or /api/accounts/<id>/workspaces/<id>)"
        )
        yield CheckResult("prefect", api_url, Status.FAILED, f"HTTP {response.status_code} from /health", fix)
        return
    yield CheckResult("prefect", api_url, Status.PASSED, "healthy")


# ---------------------------------------------------------------- notification channels


@check("channel.email")
def check_email_channel(settings: Settings) -> Iterator[CheckResult]:
    """The SMTP server accepts a connection, STARTTLS and the login (no mail is sent)."""
    from oaktree.notify.email import SmtpConfig

    config = SmtpConfig.from_settings(settings)
    if config is None:
        yield CheckResult(
            "channel.email", "OAKTREE_SMTP_HOST", Status.SKIPPED, "not set: emails are written to the log"
        )
        return
    target = f"{config.host}:{config.port}"
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds) as smtp:
            smtp.ehlo()
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if config.user:
                smtp.login(config.user, config.password or "")
            smtp.noop()
    except smtplib.SMTPAuthenticationError as exc:
        yield CheckResult(
            "channel.email",
            target,
            Status.FAILED,
            f"login refused ({exc.smtp_code})",
            "fix OAKTREE_SMTP_USER/PASSWORD",
        )
    except smtplib.SMTPNotSupportedError as exc:
        yield CheckResult(
            "channel.email",
            target,
            Status.FAILED,
            f"server does not support it: {exc}",
            "use the submission port with STARTTLS; OAKTREE_SMTP_STARTTLS=false only on a trusted network",
        )
    except (smtplib.SMTPException, OSError) as exc:
        yield CheckResult(
            "channel.email",
            target,
            Status.FAILED,
            f"{type(exc).__name__}: {exc}",
            "check OAKTREE_SMTP_HOST/PORT and that this task may reach the server",
        )
    else:
        yield CheckResult(
            "channel.email", target, Status.PASSED, "connected" + (", logged in" if config.user else "")
        )


# ---------------------------------------------------------------- the process's own health endpoint


@check("service", health=True)
def check_service(settings: Settings) -> Iterator[CheckResult]:
    """The process in this container answers HEALTHCHECK_URL (Streamlit's or the Prefect worker's)."""
    url = os.environ.get("HEALTHCHECK_URL")
    if not url:
        yield CheckResult("service", "HEALTHCHECK_URL", Status.SKIPPED, "not set: no local service to probe")
        return
    try:
        response = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        yield CheckResult(
            "service",
            url,
            Status.FAILED,
            f"{type(exc).__name__}: {exc}",
            "the service did not start: see its log",
        )
        return
    if response.status_code != 200:
        yield CheckResult(
            "service", url, Status.FAILED, f"HTTP {response.status_code}", "see the service's log"
        )
        return
    yield CheckResult("service", url, Status.PASSED, "answering")
