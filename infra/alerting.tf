# What the alert engine sends through: an SNS topic for alert notifications (separate from the
# topic of OakTree's own alarms, so a noisy estate never buries an alarm about OakTree itself)
# and one Secrets Manager secret per notification channel credential. Secret values are put
# outside Terraform (`aws secretsmanager put-secret-value`), so they never reach the state.

locals {
  alert_topic_name = coalesce(var.alert_topic_name, "${local.name}-alerts")
}

resource "aws_sns_topic" "alerts" {
  name              = local.alert_topic_name
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret" "channel" {
  #checkov:skip=CKV2_AWS_57:Channel credentials (webhook URLs, routing keys, SMTP passwords) are issued by third parties; they are rotated there and put here by hand.
  for_each = var.alert_channel_secret_names

  name                    = "${local.name}/channels/${each.key}"
  description             = "OakTree notification channel secret ${each.key} (value put outside Terraform)"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}
