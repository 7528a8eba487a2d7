# Least-privilege roles: one execution role (ECS agent), one task role per kind of task,
# and the service roles of flow logs and RDS enhanced monitoring.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Only ECS tasks of this account may assume the roles (confused-deputy guard).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

locals {
  table_arns = [aws_dynamodb_table.metrics.arn, aws_dynamodb_table.events.arn]

  # The lake's files: the only objects of the bucket the tasks may touch.
  warehouse_objects_arn = "${aws_s3_bucket.warehouse.arn}/${var.warehouse_prefix}/*"
  channel_secret_arns   = [for secret in aws_secretsmanager_secret.channel : secret.arn]

  injected_secret_arns = compact([
    aws_secretsmanager_secret.db.arn,
    aws_secretsmanager_secret.jwt.arn,
    var.prefect_api_key_secret_arn,
  ])
}

# ---------------------------------------------------------------- execution role (pull image, logs, secrets)

resource "aws_iam_role" "task_execution" {
  name               = "${local.name}-task-execution"
  description        = "ECS agent: pulls the OakTree image, writes container logs, injects secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task_execution" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }

  statement {
    sid = "PullOakTreeImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.oaktree.arn]
  }

  statement {
    sid       = "WriteContainerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.ecs.arn}:*"]
  }

  statement {
    sid       = "ReadInjectedSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.injected_secret_arns
  }

  statement {
    sid       = "DecryptSecretsAndImageLayers"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com", "ecr.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "task_execution" {
  name   = "pull-log-secrets"
  role   = aws_iam_role.task_execution.id
  policy = data.aws_iam_policy_document.task_execution.json
}

# ---------------------------------------------------------------- dashboard task role (read only)

resource "aws_iam_role" "dashboard_task" {
  name               = "${local.name}-dashboard-task"
  description        = "OakTree dashboard: reads OakTree's own tables and warehouse"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "dashboard_task" {
  statement {
    sid = "ReadOwnTables"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:Query",
    ]
    resources = local.table_arns
  }

  statement {
    sid       = "ListWarehousePrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.warehouse.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.warehouse_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadWarehouseFiles"
    actions   = ["s3:GetObject"]
    resources = [local.warehouse_objects_arn]
  }

  statement {
    sid       = "DecryptTablesAndWarehouse"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [aws_kms_key.main.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com", "s3.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "dashboard_task" {
  name   = "read-oaktree-data"
  role   = aws_iam_role.dashboard_task.id
  policy = data.aws_iam_policy_document.dashboard_task.json
}

# ---------------------------------------------------------------- collector task role (Prefect worker and its flow runs)

resource "aws_iam_role" "collector_task" {
  name               = "${local.name}-collector-task"
  description        = "OakTree collector flows: read-only discovery and metrics in the monitored regions, writes to its own tables and warehouse"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "collector_task" {
  # Discovery and metric reads have no resource-level permissions; the region condition is the fence.
  # Exactly MONITORED_REGION_PERMISSIONS of oaktree/aws_permissions.py (tests/infra compares).
  statement {
    sid = "DiscoverAndReadMetricsInMonitoredRegions"
    actions = [
      "cloudwatch:GetMetricData",
      "dynamodb:DescribeTable",
      "dynamodb:ListTables",
      "dynamodb:ListTagsOfResource",
      "ec2:DescribeInstances",
      "ecs:DescribeClusters",
      "ecs:DescribeServices",
      "ecs:ListClusters",
      "ecs:ListServices",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = var.monitored_regions
    }
  }

  statement {
    sid = "ReadWriteOwnTables"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:DescribeTimeToLive",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    resources = local.table_arns
  }

  statement {
    sid       = "ListWarehousePrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.warehouse.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.warehouse_prefix}/*"]
    }
  }

  # DuckLake writes new Parquet files, reads them, and deletes those no snapshot needs any more.
  statement {
    sid = "ReadWriteWarehouseFiles"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = [local.warehouse_objects_arn]
  }

  # Self-monitoring (oaktree/selfmonitoring.py) and `oaktree check`'s CheckRuns point: OakTree's
  # own namespace only. PutMetricData has no resource-level permissions; the namespace is the fence.
  statement {
    sid       = "PublishOwnHealthMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["OakTree"]
    }
  }

  # The alert engine: publish to the alerts topic, read the channel secrets.
  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  dynamic "statement" {
    for_each = length(local.channel_secret_arns) > 0 ? [1] : []
    content {
      sid       = "ReadChannelSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.channel_secret_arns
    }
  }

  # Other accounts' read roles (infra/modules/oaktree-read-role), when the estate spans several.
  dynamic "statement" {
    for_each = length(var.monitored_account_role_arns) > 0 ? [1] : []
    content {
      sid       = "AssumeMonitoredAccountReadRoles"
      actions   = ["sts:AssumeRole"]
      resources = var.monitored_account_role_arns
    }
  }

  statement {
    sid = "EncryptTablesAndWarehouse"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey",
    ]
    resources = [aws_kms_key.main.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "dynamodb.${var.region}.amazonaws.com",
        "s3.${var.region}.amazonaws.com",
        "sns.${var.region}.amazonaws.com",
        "secretsmanager.${var.region}.amazonaws.com",
      ]
    }
  }
}

resource "aws_iam_role_policy" "collector_task" {
  name   = "collect-and-store"
  role   = aws_iam_role.collector_task.id
  policy = data.aws_iam_policy_document.collector_task.json
}

# ---------------------------------------------------------------- VPC flow logs

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${local.name}-vpc-flow-logs"
  description        = "VPC flow logs delivery to CloudWatch Logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "deliver-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

# ---------------------------------------------------------------- RDS enhanced monitoring

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${local.name}-rds-monitoring"
  description        = "RDS enhanced monitoring of the OakTree database"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
