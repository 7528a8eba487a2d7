"""`oaktree.check` on moto, real PostgreSQL, a real SMTP server and real HTTP servers on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import moto.settings
import pytest

from oaktree import aws as aws_clients
from oaktree import db
from oaktree.aws_permissions import HOME_REGION_PERMISSIONS, MONITORED_REGION_PERMISSIONS
from oaktree.check import (
    REGISTRY,
    CheckResult,
    Status,
    check,
    run_checks,
    select_checks,
)
from oaktree.config import ConfigError, Settings, load_settings
from oaktree.storage.tables import ensure_tables
from oaktree.warehouse.lake import open_for_writing
from tests.notify.smtp_sink import free_port, smtp_sink

REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture(autouse=True)
def _close_pools() -> Iterator[None]:
    yield
    db.dispose_engines()


@pytest.fixture
def two_regions(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OAKTREE_REGIONS", ",".join(REGIONS))
    return load_settings()


def by_target(results: list[CheckResult] | tuple[CheckResult, ...]) -> dict[str, CheckResult]:
    return {result.target: result for result in results}


def statuses(results: list[CheckResult] | tuple[CheckResult, ...]) -> dict[str, Status]:
    return {result.target: result.status for result in results}


@contextmanager
def http_server(status: int, path: str = "/api/health") -> Iterator[str]:
    """Serve `status` at `path` (404 elsewhere) on a loopback port; yield the base URL; record headers."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            code = status if self.path == path else 404
            body = b"true"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
    http_server.seen = seen  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the registry


def test_selection_by_name_family_and_health() -> None:
    assert [entry.name for entry in select_checks(["aws"])] == ["aws.credentials", "aws.permissions"]
    assert [entry.name for entry in select_checks(["channel"])] == ["channel.email"]
    assert [entry.name for entry in select_checks(health=True)] == ["configuration", "database", "service"]
    with pytest.raises(ConfigError, match="unknown check\\(s\\): nope; known: configuration"):
        select_checks(["nope"])


def test_a_new_check_is_one_registered_function(settings: Settings) -> None:
    @check("channel.pager")
    def check_pager(_settings: Settings) -> list[CheckResult]:
        return [CheckResult("channel.pager", "pager", Status.FAILED, "no route", "configure it")]

    try:
        report = run_checks(lambda: settings, only=["channel"])
        assert [(r.check, r.status) for r in report.results] == [
            ("channel.email", Status.SKIPPED),
            ("channel.pager", Status.FAILED),
        ]
        assert report.passed is False
        with pytest.raises(ValueError, match="already registered"):
            check("channel.pager")(check_pager)
    finally:
        del REGISTRY["channel.pager"]


def test_invalid_configuration_fails_and_skips_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAKTREE_REGIONS", "mars-north-1")

    report = run_checks(load_settings)

    first, *rest = report.results
    assert (first.check, first.status) == ("configuration", Status.FAILED)
    assert "OAKTREE_REGIONS: unknown AWS region(s): mars-north-1" in first.detail
    assert "oaktree/config.py" in first.fix
    assert {result.status for result in rest} == {Status.SKIPPED}
    assert len(rest) == len(REGISTRY) - 1
    assert report.to_dict()["counts"] == {"passed": 0, "failed": 1, "skipped": len(REGISTRY) - 1}


def test_production_refuses_embedded_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAKTREE_MODE", "production")
    monkeypatch.setenv("OAKTREE_BCRYPT_ROUNDS", "12")
    monkeypatch.setenv("OAKTREE_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("OAKTREE_WAREHOUSE_DATA_PATH", "s3://oaktree-warehouse/warehouse/")

    report = run_checks(load_settings, only=["configuration"])

    assert statuses(report.results) == {
        "OAKTREE_DATABASE_URL": Status.FAILED,
        "OAKTREE_WAREHOUSE_CATALOG": Status.FAILED,
        "OAKTREE_WAREHOUSE_DATA_PATH": Status.PASSED,
    }
    assert "postgresql" in by_target(report.results)["OAKTREE_WAREHOUSE_CATALOG"].fix


# ---------------------------------------------------------------- database


def test_database_on_postgresql_before_and_after_migrating(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAKTREE_DATABASE_URL", pg_url)

    before = run_checks(load_settings, only=["database"]).results
    assert [r.status for r in before] == [Status.PASSED, Status.FAILED]
    assert before[0].target == db.redacted_url(pg_url)
    assert (before[1].detail, before[1].fix) == (
        f"empty, head is {db.head_revision()}",
        "run `oaktree db upgrade`",
    )

    db.upgrade(pg_url)
    after = run_checks(load_settings, only=["database"]).results
    assert [r.status for r in after] == [Status.PASSED, Status.PASSED]
    assert after[1].detail == f"at head {db.head_revision()}"


def test_unreachable_database_fails_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OAKTREE_DATABASE_URL", f"postgresql+psycopg://oaktree@127.0.0.1:{free_port()}/oaktree"
    )

    [result] = run_checks(load_settings, only=["database"]).results

    assert result.status is Status.FAILED
    assert result.detail.startswith("cannot connect: ")
    assert "PGPASSWORD" in result.fix


# ---------------------------------------------------------------- DynamoDB tables


def test_tables_with_the_code_schema_pass(aws: None, settings: Settings) -> None:
    ensure_tables(
        metrics_table=settings.metrics_table, events_table=settings.events_table, region="ap-southeast-1"
    )

    results = run_checks(lambda: settings, only=["dynamodb"]).results

    assert {r.status for r in results} == {Status.PASSED}
    targets = [r.target for r in results]
    assert targets == [
        "oaktree-metrics (ap-southeast-1)",
        "TTL of oaktree-metrics (ap-southeast-1)",
        "dynamodb:Query on oaktree-metrics",
        "dynamodb:BatchGetItem on oaktree-metrics",
        "dynamodb:BatchWriteItem on oaktree-metrics",
        "oaktree-events (ap-southeast-1)",
        "dynamodb:Query on oaktree-events",
        "dynamodb:BatchGetItem on oaktree-events",
        "dynamodb:BatchWriteItem on oaktree-events",
    ]
    # The probes wrote nothing.
    scanned = boto3.client("dynamodb", region_name="ap-southeast-1").scan(TableName="oaktree-metrics")
    assert scanned["Count"] == 0


def test_missing_table_wrong_keys_and_missing_ttl_fail(aws: None, settings: Settings) -> None:
    client = boto3.client("dynamodb", region_name="ap-southeast-1")
    # The seed document's key: one item per resource per instant.
    client.create_table(
        TableName="oaktree-metrics",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "resource_id", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "resource_id", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
    )

    results = by_target(run_checks(lambda: settings, only=["dynamodb"]).results)

    metrics = results["oaktree-metrics (ap-southeast-1)"]
    assert (metrics.status, metrics.detail) == (
        Status.FAILED,
        "keys are resource_id/timestamp, expected resource_id (S) / metric_key (S)",
    )
    events = results["oaktree-events (ap-southeast-1)"]
    assert events.status is Status.FAILED
    assert events.detail.startswith("ResourceNotFoundException")
    assert events.fix.startswith("create it: `terraform apply` in infra/")

    client.delete_table(TableName="oaktree-metrics")
    ensure_tables(metrics_table="oaktree-metrics", events_table="oaktree-events", region="ap-southeast-1")
    client.update_time_to_live(
        TableName="oaktree-metrics", TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"}
    )
    ttl = by_target(run_checks(lambda: settings, only=["dynamodb"]).results)[
        "TTL of oaktree-metrics (ap-southeast-1)"
    ]
    assert ttl.status is Status.FAILED
    assert "enable TTL on expires_at" in ttl.fix


# ---------------------------------------------------------------- AWS credentials and permissions


def test_every_permission_is_probed_in_every_region(aws: None, two_regions: Settings) -> None:
    report = run_checks(lambda: two_regions, only=["aws"])

    credentials, *permissions = report.results
    assert (credentials.status, credentials.target) == (Status.PASSED, "123456789012")
    assert credentials.detail.startswith("acting as arn:aws:")
    expected = [f"{p.action} in {region}" for region in REGIONS for p in MONITORED_REGION_PERMISSIONS]
    expected += [f"{p.action} in {two_regions.storage_region}" for p in HOME_REGION_PERMISSIONS]
    assert [r.target for r in permissions] == expected
    assert {r.status for r in permissions} == {Status.PASSED}
    # The one write: OakTree's own CheckRuns point, in its home region.
    listed = boto3.client("cloudwatch", region_name="us-east-1").list_metrics(Namespace="OakTree")["Metrics"]
    assert [metric["MetricName"] for metric in listed] == ["CheckRuns"]


def test_denied_permissions_fail_with_the_action_to_grant(
    aws: None, two_regions: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    granted = sorted(
        {p.action for p in (*MONITORED_REGION_PERMISSIONS, *HOME_REGION_PERMISSIONS)}
        - {"ecs:ListServices", "cloudwatch:GetMetricData"}
    )
    # moto authorises CloudWatch calls under the API's endpoint prefix ("monitoring:"), AWS under
    # "cloudwatch:": grant both spellings of what is granted.
    granted += [
        action.replace("cloudwatch:", "monitoring:") for action in granted if action.startswith("cloudwatch:")
    ]
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="collector")
    iam.put_user_policy(
        UserName="collector",
        PolicyName="almost-enough",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": granted, "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="collector")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    # From here on moto authorises every request against the user's IAM policy.
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    aws_clients.reset_clients()

    report = run_checks(lambda: two_regions, only=["aws.permissions"])

    failed = {r.target: r for r in report.failed}
    assert sorted(failed) == sorted(
        f"{action} in {region}"
        for action in ("ecs:ListServices", "cloudwatch:GetMetricData")
        for region in REGIONS
    )
    denied = failed["ecs:ListServices in eu-west-1"]
    assert denied.detail.startswith("denied for discovery: ")
    assert denied.fix == (
        "allow ecs:ListServices for arn:aws:iam::123456789012:user/collector "
        "(infra/iam.tf collector role, or infra/modules/oaktree-read-role)"
    )
    assert len([r for r in report.results if r.status is Status.PASSED]) == len(report.results) - 4


def test_unreadable_jwt_secret_fails(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:oaktree/jwt-secret-AbCdEf"
    monkeypatch.setenv("OAKTREE_JWT_SECRET_ARN", arn)
    monkeypatch.setenv("OAKTREE_REGIONS", "us-east-1")

    results = by_target(run_checks(load_settings, only=["aws.permissions"]).results)

    secret = results[f"secretsmanager:GetSecretValue on {arn}"]
    assert secret.status is Status.FAILED
    assert secret.detail.startswith("ResourceNotFoundException")


def test_without_credentials_aws_checks_fail_once_and_skip_the_rest(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    aws_clients.reset_clients()

    credentials, permissions = run_checks(lambda: settings, only=["aws"]).results

    assert (credentials.status, permissions.status) == (Status.FAILED, Status.SKIPPED)
    assert credentials.detail.startswith("EndpointConnectionError")
    assert "task role" in credentials.fix


# ---------------------------------------------------------------- warehouse


def test_warehouse_before_and_after_bootstrap(settings: Settings) -> None:
    before = run_checks(lambda: settings, only=["warehouse"]).results
    assert [(r.status, r.detail) for r in before] == [
        (Status.FAILED, "no catalog yet"),
        (Status.PASSED, "write, read and delete work"),
    ]

    open_for_writing(settings).close()
    after = run_checks(lambda: settings, only=["warehouse"]).results
    assert [(r.status, r.detail) for r in after] == [
        (Status.PASSED, "catalog attached, tables present"),
        (Status.PASSED, "write, read and delete work"),
    ]
    # The probe left nothing behind in the lake's data path.
    assert not (settings.data_dir / "warehouse" / "_oaktree_check").exists()


@pytest.mark.e2e
def test_warehouse_on_postgresql_and_s3(
    pg_url: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="oaktree-warehouse-check")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("OAKTREE_WAREHOUSE_CATALOG", pg_url)
    monkeypatch.setenv("OAKTREE_WAREHOUSE_DATA_PATH", "s3://oaktree-warehouse-check/warehouse/")
    aws_clients.reset_clients()
    settings = load_settings()
    open_for_writing(settings).close()

    catalog, data_path = run_checks(lambda: settings, only=["warehouse"]).results

    assert (catalog.status, catalog.detail) == (Status.PASSED, "catalog attached, tables present")
    assert "schema ducklake" in catalog.target and "password" not in catalog.target
    assert (data_path.target, data_path.status) == ("s3://oaktree-warehouse-check/warehouse/", Status.PASSED)
    leftovers = s3.list_objects_v2(Bucket="oaktree-warehouse-check", Prefix="warehouse/_oaktree_check/")
    assert leftovers["KeyCount"] == 0

    monkeypatch.setenv("OAKTREE_WAREHOUSE_DATA_PATH", "s3://no-such-bucket/warehouse/")
    [_catalog, missing_bucket] = run_checks(load_settings, only=["warehouse"]).results
    assert missing_bucket.status is Status.FAILED
    assert missing_bucket.detail.startswith("NoSuchBucket")
    assert "s3:PutObject" in missing_bucket.fix


# ---------------------------------------------------------------- Prefect, channels, the service


def test_prefect_api_health(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    [skipped] = run_checks(lambda: settings, only=["prefect"]).results
    assert skipped.status is Status.SKIPPED

    with http_server(200) as base:
        monkeypatch.setenv("PREFECT_API_URL", f"{base}/api")
        monkeypatch.setenv("PREFECT_API_KEY", "pnu_test_key")
        [healthy] = run_checks(lambda: settings, only=["prefect"]).results
    assert (healthy.status, healthy.target) == (Status.PASSED, f"{base}/api")
    assert http_server.seen[-1]["Authorization"] == "Bearer pnu_test_key"  # type: ignore[attr-defined]

    with http_server(401) as base:
        monkeypatch.setenv("PREFECT_API_URL", f"{base}/api")
        [refused] = run_checks(lambda: settings, only=["prefect"]).results
    assert (refused.status, refused.detail) == (Status.FAILED, "HTTP 401 from /health")
    assert "PREFECT_API_KEY" in refused.fix

    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    [down] = run_checks(lambda: settings, only=["prefect"]).results
    assert down.status is Status.FAILED
    assert down.detail.startswith("ConnectError")


def test_email_channel_against_a_real_smtp_server(monkeypatch: pytest.MonkeyPatch) -> None:
    [skipped] = run_checks(load_settings, only=["channel.email"]).results
    assert skipped.status is Status.SKIPPED

    monkeypatch.setenv("OAKTREE_SMTP_HOST", "127.0.0.1")
    with smtp_sink() as (handler, port):
        monkeypatch.setenv("OAKTREE_SMTP_PORT", str(port))
        monkeypatch.setenv("OAKTREE_SMTP_STARTTLS", "false")
        [connected] = run_checks(load_settings, only=["channel.email"]).results
        # A server without STARTTLS, when STARTTLS is required, is a setup problem.
        monkeypatch.setenv("OAKTREE_SMTP_STARTTLS", "true")
        [no_tls] = run_checks(load_settings, only=["channel.email"]).results
    assert (connected.status, connected.target, connected.detail) == (
        Status.PASSED,
        f"127.0.0.1:{port}",
        "connected",
    )
    assert handler.messages == []  # nothing was sent
    assert no_tls.status is Status.FAILED
    assert "STARTTLS" in no_tls.fix

    monkeypatch.setenv("OAKTREE_SMTP_PORT", str(free_port()))
    [down] = run_checks(load_settings, only=["channel.email"]).results
    assert down.status is Status.FAILED
    assert down.detail.startswith("ConnectionRefusedError")


def test_service_health_endpoint(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with http_server(200, path="/_stcore/health") as base:
        monkeypatch.setenv("HEALTHCHECK_URL", f"{base}/_stcore/health")
        [answering] = run_checks(lambda: settings, only=["service"]).results
        monkeypatch.setenv("HEALTHCHECK_URL", f"{base}/elsewhere")
        [not_found] = run_checks(lambda: settings, only=["service"]).results
    assert answering.status is Status.PASSED
    assert (not_found.status, not_found.detail) == (Status.FAILED, "HTTP 404")
