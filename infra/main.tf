provider "aws" {
  region = var.region

  default_tags {
    tags = merge(
      {
        Project     = var.project
        Environment = var.environment
        ManagedBy   = "terraform"
      },
      var.tags,
    )
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name       = var.project
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Subnet i of each tier lands in zone i, so the public and private subnets pair up per zone.
  azs = var.availability_zones

  dashboard_port        = 8501
  prefect_worker_port   = 8080
  dashboard_health_path = "/_stcore/health"

  warehouse_bucket_name   = coalesce(var.warehouse_bucket_name, "${local.name}-warehouse-${local.account_id}-${var.region}")
  access_logs_bucket_name = "${local.name}-access-logs-${local.account_id}-${var.region}"

  # OAKTREE_WAREHOUSE_DATA_PATH: the lake's files live under this prefix and nowhere else.
  warehouse_data_path = "s3://${local.warehouse_bucket_name}/${var.warehouse_prefix}/"
}
