# ---------------------------------------------------------------- general

variable "region" {
  description = "AWS region OakTree runs in (its own tables, bucket, cluster and database live here)."
  type        = string
  default     = "ap-southeast-1"
}

variable "project" {
  description = "Name prefix of every resource (cluster, services, tables, buckets, alarms)."
  type        = string
  default     = "oaktree"
}

variable "environment" {
  description = "Environment tag put on every resource."
  type        = string
  default     = "production"
}

variable "tags" {
  description = "Extra tags put on every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------- network

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones of the subnets, in order: subnet i of each tier goes to zone i."
  type        = list(string)
  default     = ["ap-southeast-1a", "ap-southeast-1b"]

  validation {
    condition     = alltrue([for zone in var.availability_zones : startswith(zone, var.region)])
    error_message = "Every availability zone must belong to var.region."
  }

  validation {
    condition     = length(var.availability_zones) == length(var.public_subnet_cidrs) && length(var.availability_zones) == length(var.private_subnet_cidrs)
    error_message = "Give one public and one private subnet CIDR per availability zone."
  }
}

variable "public_subnet_cidrs" {
  description = "Public subnets (ALB, NAT gateway), one per availability zone, in zone order."
  type        = list(string)
  default     = ["10.0.1.0/24", "10.0.2.0/24"]
}

variable "private_subnet_cidrs" {
  description = "Private subnets (ECS tasks, RDS), one per availability zone, in zone order."
  type        = list(string)
  default     = ["10.0.3.0/24", "10.0.4.0/24"]

  validation {
    condition     = length(var.private_subnet_cidrs) >= 2
    error_message = "RDS needs private subnets in at least two availability zones."
  }
}

# ---------------------------------------------------------------- load balancer

variable "acm_certificate_arn" {
  description = "ARN of an existing ACM certificate (in var.region) for the HTTPS listener; null has Terraform request one for domain_name, validated in route53_zone_id."
  type        = string
  default     = null

  validation {
    condition     = var.acm_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be an ACM certificate ARN."
  }

  validation {
    condition     = var.acm_certificate_arn != null || (var.domain_name != null && var.route53_zone_id != null)
    error_message = "Give acm_certificate_arn, or domain_name and route53_zone_id so that Terraform requests and validates a certificate."
  }
}

variable "domain_name" {
  description = "DNS name of the dashboard (e.g. oaktree.example.com); with route53_zone_id, an alias record to the ALB is created. Null: use the ALB's own name."
  type        = string
  default     = null

  validation {
    condition     = var.domain_name == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a lower-case DNS name such as oaktree.example.com."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone holding domain_name (alias record and certificate validation records); null: manage DNS elsewhere."
  type        = string
  default     = null

  validation {
    condition     = var.route53_zone_id == null || var.domain_name != null
    error_message = "route53_zone_id needs domain_name."
  }
}

variable "waf_rate_limit_per_ip" {
  description = "Requests one client IP may send in 5 minutes before the WAF blocks it (seed section 8: rate limiting)."
  type        = number
  default     = 2000
}

variable "alb_deletion_protection" {
  description = "Refuse to delete the load balancer until this is turned off (turn off only to tear down)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------- container image and services

variable "image_tag" {
  description = "Tag of the OakTree image in the ECR repository (tags are immutable: use the git SHA)."
  type        = string

  validation {
    condition     = var.image_tag != "latest" && length(var.image_tag) > 0
    error_message = "image_tag must name one immutable build (e.g. the git SHA), not 'latest'."
  }
}

variable "dashboard_cpu" {
  description = "Fargate CPU units of one dashboard task (1024 = 1 vCPU)."
  type        = number
  default     = 512
}

variable "dashboard_memory" {
  description = "Memory (MiB) of one dashboard task; Streamlit with pandas needs more than the seed's 512."
  type        = number
  default     = 1024
}

variable "dashboard_desired_count" {
  description = "Dashboard tasks started at creation; autoscaling owns the count afterwards."
  type        = number
  default     = 2
}

variable "dashboard_min_capacity" {
  description = "Fewest dashboard tasks autoscaling keeps."
  type        = number
  default     = 2
}

variable "dashboard_max_capacity" {
  description = "Most dashboard tasks autoscaling starts."
  type        = number
  default     = 10
}

variable "dashboard_cpu_target" {
  description = "Average CPU utilisation (%) the dashboard service's target tracking policy aims for."
  type        = number
  default     = 70
}

variable "worker_cpu" {
  description = "Fargate CPU units of one Prefect worker task (flow runs execute inside it)."
  type        = number
  default     = 1024
}

variable "worker_memory" {
  description = "Memory (MiB) of one Prefect worker task."
  type        = number
  default     = 2048
}

variable "worker_desired_count" {
  description = "Number of Prefect worker tasks polling the work pool."
  type        = number
  default     = 1
}

variable "monitored_account_role_arns" {
  description = "Read roles in other AWS accounts (infra/modules/oaktree-read-role) the collector may assume; empty: this account only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.monitored_account_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "Each entry must be an IAM role ARN."
  }
}

variable "monitored_regions" {
  description = "AWS regions OakTree discovers and collects from (OAKTREE_REGIONS); the collector's role is limited to them."
  type        = list(string)
  default     = ["ap-southeast-1", "us-east-1"]
}

# ---------------------------------------------------------------- Prefect

variable "prefect_api_url" {
  description = "PREFECT_API_URL the workers talk to (Prefect Cloud workspace URL or a self-hosted Prefect server)."
  type        = string

  validation {
    condition     = can(regex("^https?://", var.prefect_api_url))
    error_message = "prefect_api_url must be an http(s) URL."
  }
}

variable "prefect_work_pool_name" {
  description = "Prefect work pool (type process) whose flow runs the ECS worker tasks execute; prefect.yaml's production pool."
  type        = string
  default     = "oaktree-ecs"
}

variable "worker_flow_run_limit" {
  description = "Most flow runs one worker task executes at once (they share its CPU and memory)."
  type        = number
  default     = 4
}

variable "prefect_api_key_secret_arn" {
  description = "ARN of a Secrets Manager secret holding PREFECT_API_KEY (Prefect Cloud); null for a server without auth."
  type        = string
  default     = null
}

# ---------------------------------------------------------------- data stores

variable "metrics_table_name" {
  description = "DynamoDB table of metric points (OAKTREE_METRICS_TABLE)."
  type        = string
  default     = "oaktree-metrics"
}

variable "events_table_name" {
  description = "DynamoDB table of inventory and alert events (OAKTREE_EVENTS_TABLE)."
  type        = string
  default     = "oaktree-events"
}

variable "warehouse_bucket_name" {
  description = "S3 bucket of the warehouse's Parquet files; null derives <project>-warehouse-<account>-<region>."
  type        = string
  default     = null
}

variable "warehouse_prefix" {
  description = "Key prefix of the DuckLake data files in the warehouse bucket (OAKTREE_WAREHOUSE_DATA_PATH is s3://<bucket>/<prefix>/); the task roles reach only this prefix."
  type        = string
  default     = "warehouse"

  validation {
    condition     = can(regex("^[a-z0-9_-]+(/[a-z0-9_-]+)*$", var.warehouse_prefix))
    error_message = "warehouse_prefix is one or more path segments of a-z, 0-9, _ and -, without leading or trailing '/'."
  }
}

variable "warehouse_catalog_schema" {
  description = "PostgreSQL schema of the DuckLake catalog inside the application database (OAKTREE_WAREHOUSE_CATALOG_SCHEMA)."
  type        = string
  default     = "ducklake"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.warehouse_catalog_schema))
    error_message = "warehouse_catalog_schema must be a lower-case PostgreSQL identifier."
  }
}

variable "db_engine_version" {
  description = "PostgreSQL major version of the RDS instance (minor versions are upgraded automatically)."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.small"
}

variable "db_allocated_storage" {
  description = "Initial RDS storage (GiB)."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Ceiling (GiB) up to which RDS storage autoscaling may grow the volume."
  type        = number
  default     = 100
}

variable "db_name" {
  description = "Name of the application database."
  type        = string
  default     = "oaktree"
}

variable "db_username" {
  description = "Master user of the RDS instance (its password is generated and kept in Secrets Manager)."
  type        = string
  default     = "oaktree"
}

variable "db_multi_az" {
  description = "Keep a synchronous standby in a second availability zone."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time restore window)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 7 and 35."
  }
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database until this is turned off."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------- secrets

variable "db_password_version" {
  description = "Increase to generate and store a new database password (then redeploy the services)."
  type        = number
  default     = 1
}

variable "jwt_secret_version" {
  description = "Increase to generate and store a new JWT signing secret (signs every user out after redeploy)."
  type        = number
  default     = 1
}

# ---------------------------------------------------------------- alert notifications (the alert engine)

variable "alert_topic_name" {
  description = "SNS topic the alert engine publishes alert notifications to; null derives <project>-alerts."
  type        = string
  default     = null
}

variable "alert_channel_secret_names" {
  description = "Notification channel secrets to create in Secrets Manager as <project>/channels/<name> (values are put outside Terraform)."
  type        = set(string)
  default     = ["smtp-password", "slack-webhook-url", "pagerduty-routing-key", "webhook-signing-key"]

  validation {
    condition     = alltrue([for name in var.alert_channel_secret_names : can(regex("^[a-z0-9-]+$", name))])
    error_message = "Channel secret names are lower-case letters, digits and '-'."
  }
}

# ---------------------------------------------------------------- monitoring

variable "log_retention_days" {
  description = "Retention (days) of the application and VPC flow log groups."
  type        = number
  default     = 30
}

variable "alarm_email" {
  description = "Email address subscribed to the alarm topic (AWS sends a confirmation mail first)."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an email address."
  }
}

variable "alarm_cpu_threshold" {
  description = "ECS service CPU utilisation (%) above which the High CPU alarm fires."
  type        = number
  default     = 80
}

variable "alarm_memory_threshold" {
  description = "ECS service memory utilisation (%) above which the High Memory alarm fires."
  type        = number
  default     = 80
}

variable "alarm_collection_lag_seconds" {
  description = "Collection lag (s) per monitored region above which OakTree's own lag alarm fires (3 of 5 minutes)."
  type        = number
  default     = 600
}

variable "alarm_api_throttles_per_5min" {
  description = "Throttled AWS calls per region in 5 minutes above which the throttling alarm fires."
  type        = number
  default     = 100
}

variable "alarm_evaluation_seconds" {
  description = "Longest acceptable alert evaluation round (s); evaluation runs every minute."
  type        = number
  default     = 50
}
