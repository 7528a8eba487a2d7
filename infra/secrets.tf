# Encryption key and secrets. Secret values are generated inside the apply and sent through
# write-only arguments: they never appear in tfvars, the plan or the state file.

# ---------------------------------------------------------------- KMS

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's "*" resource means this key only; the account root statement is what lets IAM policies grant use of the key.
  #checkov:skip=CKV_AWS_111:Same: key policy resources can only be "*" (this key).
  #checkov:skip=CKV_AWS_356:Same: key policy resources can only be "*" (this key).
  # Key administration and use are granted through IAM policies of this account.
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the application and flow log groups of this account and region.
  statement {
    sid = "CloudWatchLogsEncryptsOwnLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms publish to the encrypted SNS topic.
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "main" {
  description             = "OakTree: RDS, DynamoDB, S3 warehouse, secrets, logs, alarm topic, ECR"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

# ---------------------------------------------------------------- database password

ephemeral "aws_secretsmanager_random_password" "db" {
  password_length = 40
  # Letters and digits only: RDS forbids / @ " and space, and libpq needs no quoting then.
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "db" {
  #checkov:skip=CKV2_AWS_57:Rotated by raising var.db_password_version and redeploying; a rotation Lambda would change the password under running tasks that read it once at start.
  name                    = "${local.name}/database"
  description             = "OakTree PostgreSQL master credentials (JSON: username, password); tasks get the password as PGPASSWORD"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "db" {
  secret_id = aws_secretsmanager_secret.db.id
  secret_string_wo = jsonencode({
    username = var.db_username
    password = ephemeral.aws_secretsmanager_random_password.db.random_password
  })
  secret_string_wo_version = var.db_password_version
}

# RDS takes the password back from the secret, so the database and the secret cannot disagree.
ephemeral "aws_secretsmanager_secret_version" "db" {
  secret_id = aws_secretsmanager_secret_version.db.secret_id
}

# ---------------------------------------------------------------- JWT signing secret

ephemeral "aws_secretsmanager_random_password" "jwt" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "jwt" {
  #checkov:skip=CKV2_AWS_57:Rotating the signing secret signs every user out; it is rotated on purpose by raising var.jwt_secret_version.
  name                    = "${local.name}/jwt-secret"
  description             = "OakTree JWT signing secret; tasks get it as OAKTREE_JWT_SECRET"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "jwt" {
  secret_id                = aws_secretsmanager_secret.jwt.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.jwt.random_password
  secret_string_wo_version = var.jwt_secret_version
}
