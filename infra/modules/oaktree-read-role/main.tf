# A read-only role that a monitored AWS account grants OakTree: trusted by OakTree's task roles
# with an external id, allowed exactly what discovery and collection call (oaktree/aws_permissions.py,
# MONITORED_REGION_PERMISSIONS; tests/infra compares the two lists), in the monitored regions only.

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = var.oaktree_task_role_arns
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

resource "aws_iam_role" "read" {
  name                 = var.role_name
  description          = "OakTree monitoring: read-only discovery and CloudWatch metrics"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration
  tags                 = var.tags
}

data "aws_iam_policy_document" "read" {
  #checkov:skip=CKV_AWS_356:These Describe/List/GetMetricData actions have no resource-level permissions; the region condition is the fence.
  #checkov:skip=CKV_AWS_111:Read-only actions only; none of them writes.
  statement {
    sid = "DiscoverAndReadMetrics"
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
}

resource "aws_iam_role_policy" "read" {
  name   = "oaktree-discover-and-read-metrics"
  role   = aws_iam_role.read.id
  policy = data.aws_iam_policy_document.read.json
}
