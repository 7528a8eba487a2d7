output "dashboard_url" {
  description = "HTTPS address of the dashboard (point the certificate's DNS name here with a Route 53 alias)."
  value       = "https://${aws_lb.main.dns_name}"
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
