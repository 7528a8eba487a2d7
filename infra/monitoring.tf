# Logs, the alarm topic, the seed's alarms and dashboard, and the access-log bucket of the ALB
# and the warehouse bucket.

resource "aws_cloudwatch_log_group" "ecs" {
  #checkov:skip=CKV_AWS_338:Seed section 7 sets 30 days for application logs; the warehouse keeps the durable history.
  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_338:Flow logs follow the same 30-day retention as the application logs (var.log_retention_days).
  name              = "/aws/vpc-flow-logs/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# WAF requires the "aws-waf-logs-" name prefix for its log destinations.
resource "aws_cloudwatch_log_group" "waf" {
  #checkov:skip=CKV_AWS_338:Same 30-day retention as the other log groups (var.log_retention_days).
  name              = "aws-waf-logs-${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# ---------------------------------------------------------------- alarm notifications

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# ---------------------------------------------------------------- alarms (seed section 7)

locals {
  ecs_services = {
    dashboard = aws_ecs_service.dashboard.name
    worker    = aws_ecs_service.worker.name
  }

  ecs_utilisation_alarms = merge([
    for service_key, service_name in local.ecs_services : {
      "${service_key}-cpu" = {
        service_name = service_name
        title        = "High CPU"
        metric_name  = "CPUUtilization"
        threshold    = var.alarm_cpu_threshold
      }
      "${service_key}-memory" = {
        service_name = service_name
        title        = "High Memory"
        metric_name  = "MemoryUtilization"
        threshold    = var.alarm_memory_threshold
      }
    }
  ]...)

  alb_dimension = { LoadBalancer = aws_lb.main.arn_suffix }
}

resource "aws_cloudwatch_metric_alarm" "ecs_utilisation" {
  for_each = local.ecs_utilisation_alarms

  alarm_name          = "${each.value.service_name} ${each.value.title}"
  alarm_description   = "${each.value.metric_name} of ECS service ${each.value.service_name} above ${each.value.threshold}% for 10 minutes"
  namespace           = "AWS/ECS"
  metric_name         = each.value.metric_name
  dimensions          = { ClusterName = aws_ecs_cluster.main.name, ServiceName = each.value.service_name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "alb_target_5xx" {
  alarm_name          = "${local.name} High Error Rate"
  alarm_description   = "More than 5 HTTP 5xx answers from the dashboard tasks per 5 minutes, twice in a row"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = local.alb_dimension
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 5
  # No 5xx answer publishes no datapoint: silence means healthy.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_sns_topic.alarms.arn]
  ok_actions         = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "alb_response_time" {
  alarm_name          = "${local.name} High Response Time"
  alarm_description   = "Average target response time above 2 seconds for 10 minutes"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.alb_dimension
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# ---------------------------------------------------------------- OakTree watching itself
# Metrics published by oaktree/selfmonitoring.py (namespace and names defined there; tests/infra
# compares). Totals carry no dimension; per-region metrics carry Region only.

locals {
  self_namespace = "OakTree"

  # One lag alarm and one throttling alarm per monitored region.
  per_region_self_alarms = merge([
    for region in var.monitored_regions : {
      "lag-${region}" = {
        alarm_name          = "${local.name} Collection Lag ${region}"
        description         = "Newest stored point older than ${var.alarm_collection_lag_seconds} s in ${region} for 3 of 5 minutes"
        metric_name         = "CollectionLagSeconds"
        region              = region
        statistic           = "Maximum"
        period              = 60
        evaluation_periods  = 5
        datapoints_to_alarm = 3
        threshold           = var.alarm_collection_lag_seconds
      }
      "throttles-${region}" = {
        alarm_name          = "${local.name} API Throttling ${region}"
        description         = "More than ${var.alarm_api_throttles_per_5min} throttled AWS calls in ${region} in 5 minutes, twice in a row"
        metric_name         = "ApiThrottles"
        region              = region
        statistic           = "Sum"
        period              = 300
        evaluation_periods  = 2
        datapoints_to_alarm = 2
        threshold           = var.alarm_api_throttles_per_5min
      }
    }
  ]...)

  # Alarms on totals (no dimension). Silence is healthy for all but the stalled collection.
  total_self_alarms = {
    regions-failed = {
      alarm_name          = "${local.name} Collection Region Failures"
      description         = "A region's collection failed in 3 runs of the last 5 minutes"
      metric_name         = "RegionsFailed"
      statistic           = "Sum"
      period              = 300
      evaluation_periods  = 1
      datapoints_to_alarm = 1
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = 3
    }
    flow-runs-failed = {
      alarm_name          = "${local.name} Flow Runs Failed"
      description         = "OakTree flow runs failed in 2 of the last 3 five-minute periods"
      metric_name         = "FlowRunsFailed"
      statistic           = "Sum"
      period              = 300
      evaluation_periods  = 3
      datapoints_to_alarm = 2
      comparison_operator = "GreaterThanThreshold"
      threshold           = 0
    }
    notifications-failed = {
      alarm_name          = "${local.name} Notifications Failed"
      description         = "Alert notifications could not be delivered in the last 5 minutes"
      metric_name         = "NotificationsFailed"
      statistic           = "Sum"
      period              = 300
      evaluation_periods  = 1
      datapoints_to_alarm = 1
      comparison_operator = "GreaterThanThreshold"
      threshold           = 0
    }
    evaluation-slow = {
      alarm_name          = "${local.name} Slow Alert Evaluation"
      description         = "An alert evaluation round took longer than ${var.alarm_evaluation_seconds} s, twice in a row"
      metric_name         = "EvaluationDurationSeconds"
      statistic           = "Maximum"
      period              = 300
      evaluation_periods  = 2
      datapoints_to_alarm = 2
      comparison_operator = "GreaterThanThreshold"
      threshold           = var.alarm_evaluation_seconds
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "self_per_region" {
  for_each = local.per_region_self_alarms

  alarm_name          = each.value.alarm_name
  alarm_description   = each.value.description
  namespace           = local.self_namespace
  metric_name         = each.value.metric_name
  dimensions          = { Region = each.value.region }
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  # A region with nothing to collect publishes no lag; a stalled collection is the alarm below.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_sns_topic.alarms.arn]
  ok_actions         = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "self_total" {
  for_each = local.total_self_alarms

  alarm_name          = each.value.alarm_name
  alarm_description   = each.value.description
  namespace           = local.self_namespace
  metric_name         = each.value.metric_name
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  comparison_operator = each.value.comparison_operator
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# The monitor of the monitor: every collection run publishes its datapoint total, so ten minutes
# without one means collection stopped (workers down, Prefect down, credentials gone).
resource "aws_cloudwatch_metric_alarm" "collection_stalled" {
  alarm_name          = "${local.name} Collection Stalled"
  alarm_description   = "No collection run stored or reported datapoints for 10 minutes"
  namespace           = local.self_namespace
  metric_name         = "DatapointsCollected"
  statistic           = "SampleCount"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = local.name

  dashboard_body = jsonencode({
    widgets = [
      for index, widget in [
        { title = "ECS CPU Utilization", metric = ["AWS/ECS", "CPUUtilization", "ServiceName", aws_ecs_service.dashboard.name, "ClusterName", aws_ecs_cluster.main.name] },
        { title = "ECS Memory Utilization", metric = ["AWS/ECS", "MemoryUtilization", "ServiceName", aws_ecs_service.dashboard.name, "ClusterName", aws_ecs_cluster.main.name] },
        { title = "ALB Request Count", metric = ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", aws_lb.main.arn_suffix, { stat = "Sum" }] },
        { title = "ALB Response Time", metric = ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", aws_lb.main.arn_suffix] },
        ] : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          metrics = [widget.metric]
          view    = "timeSeries"
          stacked = false
          stat    = "Average"
          region  = var.region
          title   = widget.title
          period  = 300
        }
      }
    ]
  })
}

# ---------------------------------------------------------------- access logs bucket

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_144:Access logs are audit copies; replicating them is not worth the second bucket.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new log objects.
  #checkov:skip=CKV_AWS_18:This is the access-log target itself; logging it into itself would loop.
  #checkov:skip=CKV_AWS_145:ALB access logs can only be delivered to SSE-S3 buckets, not SSE-KMS.
  bucket = local.access_logs_bucket_name

  tags = { Name = local.access_logs_bucket_name }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = 90
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

# The regional Elastic Load Balancing account writes ALB logs; S3's logging service writes
# server access logs of the warehouse bucket.
data "aws_elb_service_account" "current" {}

data "aws_iam_policy_document" "access_logs_bucket" {
  statement {
    sid       = "AlbAccessLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/alb/AWSLogs/${local.account_id}/*"]

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }

  statement {
    sid       = "S3ServerAccessLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/s3/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.warehouse.arn]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.access_logs.arn,
      "${aws_s3_bucket.access_logs.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
