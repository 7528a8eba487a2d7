"""Terraform itself on the configuration: fmt, validate against the mirrored provider, and a
full plan against a moto server whose planned values are checked against the seed and the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from oaktree.aws_permissions import monitored_region_actions
from oaktree.storage.tables import EVENTS_TABLE, METRICS_TABLE, TableSpec
from tests.infra.conftest import (
    INFRA_DIR,
    PLAN_VARIABLES,
    TerraformWorkdir,
    configured_resources,
    make_workdir,
    plan_against,
    planned_values,
    plugin_dir,
    references,
)


def test_provider_pin_is_the_mirrored_version() -> None:
    pinned = re.search(r'version\s*=\s*"=\s*([0-9.]+)"', (INFRA_DIR / "versions.tf").read_text()).group(1)
    mirrored = {
        path.name for path in (plugin_dir() / "registry.terraform.io" / "hashicorp" / "aws").iterdir()
    }

    assert pinned in mirrored


def test_terraform_fmt_is_clean(terraform_workdir: TerraformWorkdir) -> None:
    result = terraform_workdir.run("fmt", "-check", "-list=true", str(INFRA_DIR))

    assert result.stdout == ""


def test_terraform_validate_passes(terraform_workdir: TerraformWorkdir) -> None:
    report = json.loads(terraform_workdir.run("validate", "-json").stdout)

    assert (report["valid"], report["error_count"], report["warning_count"]) == (True, 0, 0)


@pytest.mark.e2e
class TestPlanAgainstMoto:
    """One plan of the whole stack; each test reads a different part of it."""

    def test_plan_creates_the_whole_stack(self, plan: dict[str, Any]) -> None:
        actions = {change["address"]: change["change"]["actions"] for change in plan["resource_changes"]}

        assert set(map(tuple, actions.values())) == {("create",), ("read",)}
        for address in (
            "aws_vpc.main",
            "aws_nat_gateway.main",
            "aws_flow_log.vpc",
            "aws_lb.main",
            "aws_wafv2_web_acl_association.alb",
            "aws_ecr_repository.oaktree",
            "aws_ecs_cluster.main",
            "aws_ecs_service.dashboard",
            "aws_ecs_service.worker",
            "aws_appautoscaling_policy.dashboard_cpu",
            "aws_db_instance.main",
            "aws_dynamodb_table.metrics",
            "aws_dynamodb_table.events",
            "aws_s3_bucket.warehouse",
            "aws_secretsmanager_secret.db",
            "aws_secretsmanager_secret.jwt",
            "aws_sns_topic_subscription.alarm_email",
            "aws_sns_topic.alerts",
            'aws_secretsmanager_secret.channel["slack-webhook-url"]',
            "aws_route53_record.dashboard[0]",
            "aws_cloudwatch_metric_alarm.collection_stalled",
            'aws_cloudwatch_metric_alarm.self_per_region["lag-us-east-1"]',
            'aws_cloudwatch_metric_alarm.self_total["flow-runs-failed"]',
        ):
            assert actions[address] == ["create"], address

    def test_network_layout_matches_the_seed(self, plan: dict[str, Any]) -> None:
        values = planned_values(plan)

        assert values["aws_vpc.main"]["cidr_block"] == "10.0.0.0/16"
        subnets = {
            (subnet["cidr_block"], subnet["availability_zone"], subnet["map_public_ip_on_launch"])
            for address, subnet in values.items()
            if address.startswith(("aws_subnet.public", "aws_subnet.private"))
        }
        assert subnets == {
            ("10.0.1.0/24", "ap-southeast-1a", False),
            ("10.0.2.0/24", "ap-southeast-1b", False),
            ("10.0.3.0/24", "ap-southeast-1a", False),
            ("10.0.4.0/24", "ap-southeast-1b", False),
        }

    def test_security_groups_chain_alb_to_ecs_to_db(self, plan: dict[str, Any]) -> None:
        values = planned_values(plan)
        config = configured_resources(plan)

        def rule(address: str) -> tuple[Any, ...]:
            planned = values[address]
            source = references(config[address]["expressions"].get("referenced_security_group_id", {}))
            return planned["from_port"], planned["to_port"], planned.get("cidr_ipv4"), source

        assert rule("aws_vpc_security_group_ingress_rule.alb_http") == (80, 80, "0.0.0.0/0", set())
        assert rule("aws_vpc_security_group_ingress_rule.alb_https") == (443, 443, "0.0.0.0/0", set())
        ecs_source = {"aws_security_group.alb", "aws_security_group.alb.id"}
        assert rule("aws_vpc_security_group_ingress_rule.ecs_from_alb") == (8501, 8501, None, ecs_source)
        db_source = {"aws_security_group.ecs", "aws_security_group.ecs.id"}
        assert rule("aws_vpc_security_group_ingress_rule.db_from_ecs") == (5432, 5432, None, db_source)
        # Only these four ingress rules exist: nothing else reaches the tasks or the database.
        ingress = {
            address for address in values if address.startswith("aws_vpc_security_group_ingress_rule.")
        }
        assert len(ingress) == 4

    def test_load_balancer_redirects_http_and_checks_streamlit_health(self, plan: dict[str, Any]) -> None:
        values = planned_values(plan)

        redirect = values["aws_lb_listener.http"]["default_action"][0]["redirect"][0]
        assert (redirect["protocol"], redirect["port"], redirect["status_code"]) == (
            "HTTPS",
            "443",
            "HTTP_301",
        )
        https = values["aws_lb_listener.https"]
        assert (https["port"], https["protocol"]) == (443, "HTTPS")
        assert https["certificate_arn"] == PLAN_VARIABLES["acm_certificate_arn"]
        target_group = values["aws_lb_target_group.dashboard"]
        health = target_group["health_check"][0]
        assert (target_group["port"], target_group["target_type"]) == (8501, "ip")
        assert (
            health["path"],
            health["interval"],
            health["healthy_threshold"],
            health["unhealthy_threshold"],
        ) == (
            "/_stcore/health",
            30,
            2,
            3,
        )

    def test_ecr_and_ecs_settings(self, plan: dict[str, Any]) -> None:
        values = planned_values(plan)

        repository = values["aws_ecr_repository.oaktree"]
        assert repository["image_tag_mutability"] == "IMMUTABLE"
        assert repository["image_scanning_configuration"] == [{"scan_on_push": True}]
        assert values["aws_ecs_cluster.main"]["name"] == "oaktree-cluster"
        dashboard = values["aws_ecs_service.dashboard"]
        assert (dashboard["launch_type"], dashboard["desired_count"]) == ("FARGATE", 2)
        assert dashboard["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
        scaling = values["aws_appautoscaling_target.dashboard"]
        assert (scaling["min_capacity"], scaling["max_capacity"]) == (2, 10)
        policy = values["aws_appautoscaling_policy.dashboard_cpu"][
            "target_tracking_scaling_policy_configuration"
        ][0]
        assert policy["target_value"] == 70
        assert policy["predefined_metric_specification"][0]["predefined_metric_type"] == (
            "ECSServiceAverageCPUUtilization"
        )

    def test_worker_polls_the_prefect_work_pool(self, plan: dict[str, Any]) -> None:
        worker = configured_resources(plan)["aws_ecs_task_definition.worker"]
        task_role = references(worker["expressions"]["task_role_arn"])

        assert "aws_iam_role.collector_task" in task_role
        text = (INFRA_DIR / "ecs.tf").read_text()
        assert re.search(
            r'"prefect", "worker", "start",\s*"--pool", var.prefect_work_pool_name,\s*"--type", "process"',
            text,
        )

    @pytest.mark.parametrize(("address", "spec"), [("metrics", METRICS_TABLE), ("events", EVENTS_TABLE)])
    def test_dynamodb_tables(self, plan: dict[str, Any], address: str, spec: TableSpec) -> None:
        table = planned_values(plan)[f"aws_dynamodb_table.{address}"]

        assert (table["hash_key"], table["range_key"]) == (spec.partition_key, spec.sort_key)
        assert sorted((a["name"], a["type"]) for a in table["attribute"]) == sorted(
            [(spec.partition_key, "S"), (spec.sort_key, "S")]
        )
        expected_ttl = [{"attribute_name": spec.ttl_attribute, "enabled": True}] if spec.ttl_attribute else []
        assert [ttl for ttl in table.get("ttl", []) if ttl["enabled"]] == expected_ttl
        assert table["billing_mode"] == "PAY_PER_REQUEST"
        assert table["point_in_time_recovery"][0]["enabled"] is True
        assert table["server_side_encryption"][0]["enabled"] is True

    def test_database_is_private_encrypted_and_backed_up(self, plan: dict[str, Any]) -> None:
        database = planned_values(plan)["aws_db_instance.main"]

        assert database["engine"] == "postgres"
        assert database["publicly_accessible"] is False
        assert database["storage_encrypted"] is True
        assert database["backup_retention_period"] == 7
        assert database["skip_final_snapshot"] is False
        # The password is write-only: neither it nor a hash of it is in the plan.
        assert database.get("password") is None
        assert database.get("password_wo") is None

    def test_generated_secrets_never_reach_the_plan(
        self, plan: dict[str, Any], terraform_workdir: Any
    ) -> None:
        values = planned_values(plan)

        for address in ("aws_secretsmanager_secret_version.db", "aws_secretsmanager_secret_version.jwt"):
            version = values[address]
            assert version.get("secret_string") in (None, "")
            assert version.get("secret_string_wo") is None
            assert version["secret_string_wo_version"] == 1
        state_files = list(Path(terraform_workdir.path).glob("*.tfstate"))
        assert state_files == []

    def test_warehouse_bucket_is_versioned_encrypted_and_private(self, plan: dict[str, Any]) -> None:
        values = planned_values(plan)

        assert values["aws_s3_bucket.warehouse"]["bucket"] == "oaktree-warehouse-123456789012-ap-southeast-1"
        assert (
            values["aws_s3_bucket_versioning.warehouse"]["versioning_configuration"][0]["status"] == "Enabled"
        )
        sse = values["aws_s3_bucket_server_side_encryption_configuration.warehouse"]["rule"][0]
        assert sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
        block = values["aws_s3_bucket_public_access_block.warehouse"]
        assert all(
            block[flag]
            for flag in (
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            )
        )

    def test_collector_role_is_read_only_outside_its_own_data(self, plan: dict[str, Any]) -> None:
        document = configured_resources(plan)["data.aws_iam_policy_document.collector_task"]
        statements = {
            statement["sid"]["constant_value"]: statement
            for statement in document["expressions"]["statement"]
        }

        read_only = statements["DiscoverAndReadMetricsInMonitoredRegions"]
        assert read_only["actions"]["constant_value"] == monitored_region_actions()
        writes = {
            action
            for statement in statements.values()
            for action in statement["actions"]["constant_value"]
            if not re.match(r"[a-z0-9]+:(Describe|List|Get|Query|BatchGet)", action)
        }
        assert writes == {
            "dynamodb:BatchWriteItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "s3:AbortMultipartUpload",
            "s3:DeleteObject",
            "s3:PutObject",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:Decrypt",
            "cloudwatch:PutMetricData",
            "sns:Publish",
        }
        # Every write names OakTree's own tables, bucket prefix, topic or key, never "*"...
        for sid in (
            "ReadWriteOwnTables",
            "ReadWriteWarehouseFiles",
            "EncryptTablesAndWarehouse",
            "PublishAlerts",
        ):
            assert "resources" in statements[sid] and "constant_value" not in statements[sid]["resources"]
        # ...except PutMetricData, which has no resources: its fence is OakTree's own namespace.
        fence = statements["PublishOwnHealthMetrics"]["condition"][0]
        assert (fence["variable"]["constant_value"], fence["values"]["constant_value"]) == (
            "cloudwatch:namespace",
            ["OakTree"],
        )
        # No other account's role may be assumed unless listed (none by default).
        assert "AssumeMonitoredAccountReadRoles" not in statements

    def test_logs_alarms_and_notifications(self, plan: dict[str, Any]) -> None:
        values = planned_values(plan)

        assert values["aws_cloudwatch_log_group.ecs"]["retention_in_days"] == 30
        assert values["aws_cloudwatch_log_group.flow_logs"]["retention_in_days"] == 30
        subscription = values["aws_sns_topic_subscription.alarm_email"]
        assert (subscription["protocol"], subscription["endpoint"]) == (
            "email",
            PLAN_VARIABLES["alarm_email"],
        )
        utilisation = {
            (
                alarm["alarm_name"],
                alarm["metric_name"],
                alarm["threshold"],
                alarm["period"],
                alarm["evaluation_periods"],
            )
            for address, alarm in values.items()
            if address.startswith("aws_cloudwatch_metric_alarm.ecs_utilisation")
        }
        assert utilisation == {
            ("oaktree-dashboard High CPU", "CPUUtilization", 80, 300, 2),
            ("oaktree-dashboard High Memory", "MemoryUtilization", 80, 300, 2),
            ("oaktree-prefect-worker High CPU", "CPUUtilization", 80, 300, 2),
            ("oaktree-prefect-worker High Memory", "MemoryUtilization", 80, 300, 2),
        }

    def test_dashboard_runs_behind_a_sticky_target_group_with_its_own_name(
        self, plan: dict[str, Any]
    ) -> None:
        values = planned_values(plan)

        stickiness = values["aws_lb_target_group.dashboard"]["stickiness"][0]
        assert (stickiness["enabled"], stickiness["type"]) == (True, "lb_cookie")
        record = values["aws_route53_record.dashboard[0]"]
        assert (record["name"], record["type"], record["zone_id"]) == (
            "oaktree.example.com",
            "A",
            PLAN_VARIABLES["route53_zone_id"],
        )
        # A certificate was given: none is requested.
        assert not [address for address in values if address.startswith("aws_acm_certificate")]
        assert plan["planned_values"]["outputs"]["dashboard_url"]["value"] == "https://oaktree.example.com"

    def test_alert_topic_and_channel_secrets_hold_no_values(self, plan: dict[str, Any]) -> None:
        values = planned_values(plan)

        assert values["aws_sns_topic.alerts"]["name"] == "oaktree-alerts"
        secrets = {
            v["name"]
            for address, v in values.items()
            if address.startswith("aws_secretsmanager_secret.channel")
        }
        assert secrets == {
            "oaktree/channels/smtp-password",
            "oaktree/channels/slack-webhook-url",
            "oaktree/channels/pagerduty-routing-key",
            "oaktree/channels/webhook-signing-key",
        }
        # Their values are put outside Terraform: no version resource exists for them.
        assert not [
            address for address in values if address.startswith("aws_secretsmanager_secret_version.channel")
        ]

    def test_self_monitoring_alarms(self, plan: dict[str, Any]) -> None:
        values = planned_values(plan)

        lag = values['aws_cloudwatch_metric_alarm.self_per_region["lag-us-east-1"]']
        assert (lag["namespace"], lag["metric_name"], lag["dimensions"], lag["threshold"]) == (
            "OakTree",
            "CollectionLagSeconds",
            {"Region": "us-east-1"},
            600,
        )
        regions = {
            alarm["dimensions"]["Region"]
            for address, alarm in values.items()
            if address.startswith("aws_cloudwatch_metric_alarm.self_per_region")
        }
        assert regions == {"ap-southeast-1", "us-east-1"}
        stalled = values["aws_cloudwatch_metric_alarm.collection_stalled"]
        assert (stalled["metric_name"], stalled["treat_missing_data"], stalled["comparison_operator"]) == (
            "DatapointsCollected",
            "breaching",
            "LessThanThreshold",
        )
        assert "dimensions" not in stalled or not stalled["dimensions"]

    def test_tasks_run_oaktree_check_as_their_health_check(self, plan: dict[str, Any]) -> None:
        text = (INFRA_DIR / "ecs.tf").read_text()

        assert 'command     = ["CMD", "oaktree", "check", "--health"]' in text
        assert text.count("healthCheck") == 2 and text.count("local.container_health_check") == 2
        assert 'command      = ["oaktree", "dashboard", "--port", tostring(local.dashboard_port)]' in text


@pytest.mark.e2e
def test_without_a_certificate_one_is_requested_and_validated_in_route53(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str
) -> None:
    variables = {name: value for name, value in PLAN_VARIABLES.items() if name != "acm_certificate_arn"}
    plan = plan_against(make_workdir(tmp_path_factory, variables), moto_endpoint)
    values = planned_values(plan)
    config = configured_resources(plan)

    certificate = values["aws_acm_certificate.dashboard[0]"]
    assert (certificate["domain_name"], certificate["validation_method"]) == ("oaktree.example.com", "DNS")
    assert "aws_acm_certificate_validation.dashboard[0]" in values
    listener = references(config["aws_lb_listener.https"]["expressions"]["certificate_arn"])
    assert "local.certificate_arn" in listener


def test_neither_certificate_nor_zone_is_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    variables = {
        name: value
        for name, value in PLAN_VARIABLES.items()
        if name not in {"acm_certificate_arn", "route53_zone_id", "domain_name"}
    }
    workdir = make_workdir(tmp_path_factory, variables)

    with pytest.raises(AssertionError, match="Give acm_certificate_arn, or domain_name and route53_zone_id"):
        workdir.run("validate")
        workdir.run("plan", "-input=false", "-refresh=false")
