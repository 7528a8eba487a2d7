"""Checks on the Terraform sources as text: they always run, with or without terraform."""

from __future__ import annotations

import re

import pytest

from oaktree import selfmonitoring
from oaktree.aws_permissions import monitored_region_actions
from oaktree.config import Settings, load_settings
from oaktree.storage.tables import EVENTS_TABLE, METRICS_TABLE, TableSpec
from oaktree.warehouse.lake import lake_location
from tests.infra.conftest import INFRA_DIR, read_infra_text, strip_comments, top_level_block

EXPECTED_FILES = {
    "versions.tf",
    "main.tf",
    "variables.tf",
    "outputs.tf",
    "network.tf",
    "ecs.tf",
    "data.tf",
    "iam.tf",
    "monitoring.tf",
    "secrets.tf",
    "dns.tf",
    "alerting.tf",
}


def dynamodb_block(resource_name: str) -> str:
    return strip_comments(
        top_level_block(read_infra_text(), f'resource "aws_dynamodb_table" "{resource_name}"')
    )


def declared_keys(block: str) -> tuple[str, str]:
    hash_key = re.search(r'^\s*hash_key\s*=\s*"([^"]+)"', block, re.MULTILINE)
    range_key = re.search(r'^\s*range_key\s*=\s*"([^"]+)"', block, re.MULTILINE)
    assert hash_key and range_key, "table block lacks hash_key or range_key"
    return hash_key.group(1), range_key.group(1)


def declared_attributes(block: str) -> dict[str, str]:
    pairs = re.findall(r'attribute\s*\{\s*name\s*=\s*"([^"]+)"\s*type\s*=\s*"([^"]+)"\s*\}', block)
    return dict(pairs)


def declared_ttl(block: str) -> str | None:
    ttl = re.search(r'\bttl\s*\{\s*attribute_name\s*=\s*"([^"]+)"\s*enabled\s*=\s*true\s*\}', block)
    return ttl.group(1) if ttl else None


@pytest.mark.parametrize(
    ("resource_name", "spec"),
    [("metrics", METRICS_TABLE), ("events", EVENTS_TABLE)],
)
def test_dynamodb_tables_match_storage_spec(resource_name: str, spec: TableSpec) -> None:
    block = dynamodb_block(resource_name)

    assert declared_keys(block) == (spec.partition_key, spec.sort_key)
    # Both keys are strings, and nothing else is declared (DynamoDB rejects unused attributes).
    assert declared_attributes(block) == {spec.partition_key: "S", spec.sort_key: "S"}
    assert declared_ttl(block) == spec.ttl_attribute
    assert re.search(r'billing_mode\s*=\s*"PAY_PER_REQUEST"', block)
    assert re.search(r"point_in_time_recovery\s*\{\s*enabled\s*=\s*true\s*\}", block)
    assert re.search(r"server_side_encryption\s*\{\s*enabled\s*=\s*true", block)


def test_table_name_defaults_match_settings_defaults() -> None:
    variables = (INFRA_DIR / "variables.tf").read_text()
    defaults = {
        name: re.search(r'default\s*=\s*"([^"]+)"', top_level_block(variables, f'variable "{name}"')).group(1)
        for name in ("metrics_table_name", "events_table_name")
    }

    settings = load_settings()
    assert defaults == {
        "metrics_table_name": settings.metrics_table,
        "events_table_name": settings.events_table,
    }


def test_files_are_split_by_concern() -> None:
    assert {path.name for path in INFRA_DIR.glob("*.tf")} == EXPECTED_FILES


def test_every_variable_has_a_description_and_a_type() -> None:
    variables_text = (INFRA_DIR / "variables.tf").read_text()
    names = re.findall(r'^variable "([^"]+)"', variables_text, re.MULTILINE)
    assert len(names) > 30

    lacking = [
        name
        for name in names
        if not re.search(
            r"^  description\s*=", top_level_block(variables_text, f'variable "{name}"'), re.MULTILINE
        )
        or not re.search(r"^  type\s*=", top_level_block(variables_text, f'variable "{name}"'), re.MULTILINE)
    ]
    assert lacking == []
    # Variables live in variables.tf only.
    assert read_infra_text().count('\nvariable "') + read_infra_text().startswith('variable "') == len(names)


def test_every_output_has_a_description() -> None:
    outputs_text = (INFRA_DIR / "outputs.tf").read_text()
    names = re.findall(r'^output "([^"]+)"', outputs_text, re.MULTILINE)
    assert "ecr_repository_url" in names
    assert all("description" in top_level_block(outputs_text, f'output "{name}"') for name in names)


def test_no_secret_values_in_the_configuration() -> None:
    text = strip_comments(read_infra_text())

    # No literal password and no stored secret_string: only write-only arguments fed by ephemeral values.
    assert not re.search(r'(?i)(password|secret)\w*\s*=\s*"', text)
    assert not re.search(r"^\s*secret_string\s*=", text, re.MULTILINE)
    assert re.findall(r"^\s*(password_wo|secret_string_wo)\s*=\s*(\S+)", text, re.MULTILINE) == [
        ("password_wo", "jsondecode(ephemeral.aws_secretsmanager_secret_version.db.secret_string).password"),
        ("secret_string_wo", "jsonencode({"),
        ("secret_string_wo", "ephemeral.aws_secretsmanager_random_password.jwt.random_password"),
    ]
    assert not list(INFRA_DIR.glob("*.tfvars")), "tfvars are per deployment and never committed"


def test_ecs_task_environment_names_are_settings_fields() -> None:
    ecs = (INFRA_DIR / "ecs.tf").read_text()
    names = set(re.findall(r'name\s*=\s*"(OAKTREE_[A-Z_]+)"', ecs))

    assert names == {
        "OAKTREE_MODE",
        "OAKTREE_REGIONS",
        "OAKTREE_HOME_REGION",
        "OAKTREE_METRICS_TABLE",
        "OAKTREE_EVENTS_TABLE",
        "OAKTREE_DATABASE_URL",
        "OAKTREE_JWT_SECRET",
        "OAKTREE_WAREHOUSE_CATALOG",
        "OAKTREE_WAREHOUSE_CATALOG_SCHEMA",
        "OAKTREE_WAREHOUSE_DATA_PATH",
    }
    assert {name.removeprefix("OAKTREE_").lower() for name in names} <= set(Settings.model_fields)


# Stand-ins for the interpolations of ecs.tf that only an apply knows; a new one fails the test
# below until it is given a realistic value here.
INTERPOLATION_SAMPLES = {
    "var.db_username": "oaktree",
    "aws_db_instance.main.address": "oaktree-db.abc123.ap-southeast-1.rds.amazonaws.com",
    "aws_db_instance.main.port": "5432",
    "var.db_name": "oaktree",
}


def test_task_environment_passes_production_settings_validation() -> None:
    ecs = (INFRA_DIR / "ecs.tf").read_text()
    url_template = re.search(r'name\s*=\s*"OAKTREE_DATABASE_URL"\s*value\s*=\s*"([^"]+)"', ecs).group(1)
    database_url = re.sub(r"\$\{([^}]+)\}", lambda match: INTERPOLATION_SAMPLES[match.group(1)], url_template)

    # The secrets block injects OAKTREE_JWT_SECRET and PGPASSWORD; the URL itself carries no password.
    settings = load_settings(
        mode="production",
        database_url=database_url,
        regions="ap-southeast-1,us-east-1",
        home_region="ap-southeast-1",
        jwt_secret="x" * 64,
        bcrypt_rounds=12,
    )

    assert settings.sqlalchemy_url == (
        "postgresql+psycopg://oaktree@oaktree-db.abc123.ap-southeast-1.rds.amazonaws.com:5432/oaktree"
    )
    assert settings.storage_region == "ap-southeast-1"


# ---------------------------------------------------------------- DuckLake settings against the code


def variable_default(name: str) -> str:
    block = top_level_block((INFRA_DIR / "variables.tf").read_text(), f'variable "{name}"')
    return re.search(r'default\s*=\s*"([^"]+)"', block).group(1)


def env_value_template(name: str) -> str:
    """Return the value expression of one task environment variable of ecs.tf (quoted or not)."""
    ecs = (INFRA_DIR / "ecs.tf").read_text()
    return re.search(rf'name\s*=\s*"{name}"\s*,?\s*value\s*=\s*("[^"]*"|[\w.]+)', ecs).group(1)


def interpolate(template: str) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda match: INTERPOLATION_SAMPLES[match.group(1)], template.strip('"'))


def test_warehouse_settings_are_the_code_settings_with_its_defaults_and_formats() -> None:
    settings_fields = Settings.model_fields
    # The schema variable's default is the code's default, and the code accepts it.
    assert variable_default("warehouse_catalog_schema") == settings_fields["warehouse_catalog_schema"].default
    assert env_value_template("OAKTREE_WAREHOUSE_CATALOG_SCHEMA") == "var.warehouse_catalog_schema"
    assert env_value_template("OAKTREE_WAREHOUSE_DATA_PATH") == "local.warehouse_data_path"
    main = (INFRA_DIR / "main.tf").read_text()
    data_path_template = re.search(r'warehouse_data_path\s*=\s*"([^"]+)"', main).group(1)
    assert data_path_template == "s3://${local.warehouse_bucket_name}/${var.warehouse_prefix}/"

    catalog = interpolate(env_value_template("OAKTREE_WAREHOUSE_CATALOG"))
    data_path = data_path_template.replace(
        "${local.warehouse_bucket_name}", "oaktree-warehouse-123456789012-ap-southeast-1"
    )
    data_path = data_path.replace("${var.warehouse_prefix}", variable_default("warehouse_prefix"))
    settings = load_settings(
        warehouse_catalog=catalog,
        warehouse_catalog_schema=variable_default("warehouse_catalog_schema"),
        warehouse_data_path=data_path,
    )
    location = lake_location(settings)

    # What the tasks get is what the lake code turns into a PostgreSQL catalog and S3 data path.
    host = "oaktree-db.abc123.ap-southeast-1.rds.amazonaws.com"
    assert location.catalog == f"postgres:dbname=oaktree host={host} port=5432 user=oaktree"
    assert location.metadata_schema == "ducklake"
    assert (location.on_s3, location.data_path) == (
        True,
        "s3://oaktree-warehouse-123456789012-ap-southeast-1/warehouse/",
    )
    # No password in the URL: libpq reads PGPASSWORD, which the task gets from Secrets Manager.
    assert "password" not in location.catalog
    assert "PGPASSWORD" in (INFRA_DIR / "ecs.tf").read_text()


def test_task_roles_reach_only_the_warehouse_prefix() -> None:
    iam = strip_comments((INFRA_DIR / "iam.tf").read_text())

    assert re.findall(r"resources\s*=\s*\[(local\.warehouse_objects_arn)\]", iam) == [
        "local.warehouse_objects_arn",
        "local.warehouse_objects_arn",
    ]
    assert 'warehouse_objects_arn = "${aws_s3_bucket.warehouse.arn}/${var.warehouse_prefix}/*"' in iam
    assert '"${aws_s3_bucket.warehouse.arn}/*"' not in iam
    listing = re.findall(r'variable\s*=\s*"s3:prefix"\s*values\s*=\s*\["([^"]+)"\]', iam)
    assert listing == ["${var.warehouse_prefix}/*", "${var.warehouse_prefix}/*"]
    # The database password reaches the tasks only through the execution role's injection.
    assert iam.count("secretsmanager:GetSecretValue") == 2  # execution role; collector's channel secrets
    assert "aws_secretsmanager_secret.db.arn" in top_level_block(iam, "locals {")


# ---------------------------------------------------------------- AWS permissions against the code


def declared_actions(text: str, sid: str) -> list[str]:
    statement = text[text.index(f'sid = "{sid}"') :]
    actions = re.search(r"actions\s*=\s*\[([^\]]*)\]", statement).group(1)
    return re.findall(r'"([^"]+)"', actions)


def test_collector_role_and_read_role_module_grant_exactly_what_the_code_calls() -> None:
    expected = monitored_region_actions()
    iam = (INFRA_DIR / "iam.tf").read_text()
    module = (INFRA_DIR / "modules" / "oaktree-read-role" / "main.tf").read_text()

    assert declared_actions(iam, "DiscoverAndReadMetricsInMonitoredRegions") == expected
    assert declared_actions(module, "DiscoverAndReadMetrics") == expected
    # Both are fenced to the monitored regions, and the module's trust needs the external id.
    assert module.count('variable = "aws:RequestedRegion"') == 1
    assert 'variable = "sts:ExternalId"' in module
    assert not re.search(r'"[a-z0-9]+:\*"|"\*:', strip_comments(module))


def test_module_files_are_split_by_concern_and_documented() -> None:
    module = INFRA_DIR / "modules" / "oaktree-read-role"
    assert {path.name for path in module.glob("*.tf")} == {
        "versions.tf",
        "main.tf",
        "variables.tf",
        "outputs.tf",
    }
    variables = (module / "variables.tf").read_text()
    for name in re.findall(r'^variable "([^"]+)"', variables, re.MULTILINE):
        block = top_level_block(variables, f'variable "{name}"')
        assert "description" in block and re.search(r"^  type\s*=", block, re.MULTILINE), name
    readme = (module / "README.md").read_text()
    assert all(f"`{action}`" in readme for action in monitored_region_actions())


# ---------------------------------------------------------------- self-monitoring against the code


def test_alarms_watch_the_metrics_the_code_publishes() -> None:
    monitoring = strip_comments((INFRA_DIR / "monitoring.tf").read_text())
    iam = (INFRA_DIR / "iam.tf").read_text()

    assert re.search(r'self_namespace\s*=\s*"([^"]+)"', monitoring).group(1) == selfmonitoring.NAMESPACE
    own_alarms = monitoring[
        monitoring.index("self_namespace") : monitoring.index('resource "aws_cloudwatch_dashboard"')
    ]
    watched = set(re.findall(r'metric_name\s*=\s*"([A-Za-z]+)"', own_alarms))
    assert watched == set(selfmonitoring.METRIC_NAMES)
    assert re.findall(r"dimensions\s*=\s*\{\s*(\w+)\s*=\s*each\.value\.region", monitoring) == ["Region"]
    namespace_fence = re.search(
        r'variable\s*=\s*"cloudwatch:namespace"\s*values\s*=\s*\["([^"]+)"\]', iam
    ).group(1)
    assert namespace_fence == selfmonitoring.NAMESPACE
