output "dashboard_url" {
  description = "HTTPS address of the dashboard (domain_name when given, else the load balancer's name)."
  value       = "https://${local.dashboard_host}"
}

output "alb_dns_name" {
  description = "DNS name of the application load balancer."
  value       = aws_lb.main.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the load balancer, for a Route 53 alias record."
  value       = aws_lb.main.zone_id
}

output "ecr_repository_url" {
  description = "Repository to push the OakTree image to (docker push <url>:<git sha>)."
  value       = aws_ecr_repository.oaktree.repository_url
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "dashboard_service_name" {
  description = "ECS service running the Streamlit dashboard."
  value       = aws_ecs_service.dashboard.name
}

output "worker_service_name" {
  description = "ECS service running the Prefect worker."
  value       = aws_ecs_service.worker.name
}

output "prefect_work_pool_name" {
  description = "Prefect work pool the workers poll; deployments in prefect.yaml must target it."
  value       = var.prefect_work_pool_name
}

output "collector_task_role_arn" {
  description = "IAM role the Prefect worker and its flow runs act with."
  value       = aws_iam_role.collector_task.arn
}

output "database_endpoint" {
  description = "host:port of the PostgreSQL instance (reachable from the ECS tasks only)."
  value       = aws_db_instance.main.endpoint
}

output "database_secret_arn" {
  description = "Secrets Manager secret holding the database username and password."
  value       = aws_secretsmanager_secret.db.arn
}

output "jwt_secret_arn" {
  description = "Secrets Manager secret holding the JWT signing secret."
  value       = aws_secretsmanager_secret.jwt.arn
}

output "metrics_table_name" {
  description = "DynamoDB table of metric points."
  value       = aws_dynamodb_table.metrics.name
}

output "events_table_name" {
  description = "DynamoDB table of events."
  value       = aws_dynamodb_table.events.name
}

output "warehouse_bucket" {
  description = "S3 bucket of the warehouse's Parquet files."
  value       = aws_s3_bucket.warehouse.bucket
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.main.id
}

output "private_subnet_ids" {
  description = "Private subnets (ECS tasks, RDS)."
  value       = aws_subnet.private[*].id
}

output "alert_topic_arn" {
  description = "SNS topic the alert engine publishes notifications to."
  value       = aws_sns_topic.alerts.arn
}

output "alert_channel_secret_arns" {
  description = "Secrets Manager ARNs of the notification channel secrets, by name (put their values outside Terraform)."
  value       = { for name, secret in aws_secretsmanager_secret.channel : name => secret.arn }
}

output "warehouse_data_path" {
  description = "OAKTREE_WAREHOUSE_DATA_PATH of the tasks: where the DuckLake Parquet files live."
  value       = local.warehouse_data_path
}

output "ecs_security_group_id" {
  description = "Security group of the ECS tasks (one-off tasks such as migrations and `oaktree check` use it)."
  value       = aws_security_group.ecs.id
}

output "dashboard_task_definition_family" {
  description = "Task definition family of the dashboard (its image also runs one-off commands)."
  value       = aws_ecs_task_definition.dashboard.family
}

output "worker_task_definition_family" {
  description = "Task definition family of the Prefect worker (runs the deploy pipeline's `oaktree check`)."
  value       = aws_ecs_task_definition.worker.family
}
