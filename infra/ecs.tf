# Container registry, the Fargate cluster and its two services: the Streamlit dashboard behind
# the ALB, and the Prefect worker that runs the collection, warehouse and alert flows.

resource "aws_ecr_repository" "oaktree" {
  name                 = local.name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.main.arn
  }
}

resource "aws_ecr_lifecycle_policy" "oaktree" {
  repository = aws_ecr_repository.oaktree.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the 50 newest images (one per deployed commit) for rollbacks"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = 50
        }
        action = { type = "expire" }
      },
    ]
  })
}

resource "aws_ecs_cluster" "main" {
  name = "${local.name}-cluster"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

locals {
  image = "${aws_ecr_repository.oaktree.repository_url}:${var.image_tag}"

  # What every OakTree process reads (oaktree.config.Settings); secrets come separately below.
  oaktree_environment = [
    { name = "OAKTREE_MODE", value = "production" },
    { name = "OAKTREE_REGIONS", value = join(",", var.monitored_regions) },
    { name = "OAKTREE_HOME_REGION", value = var.region },
    { name = "OAKTREE_METRICS_TABLE", value = aws_dynamodb_table.metrics.name },
    { name = "OAKTREE_EVENTS_TABLE", value = aws_dynamodb_table.events.name },
    # No password in the URL: libpq takes it from PGPASSWORD, injected from Secrets Manager.
    {
      name  = "OAKTREE_DATABASE_URL"
      value = "postgresql+psycopg://${var.db_username}@${aws_db_instance.main.address}:${aws_db_instance.main.port}/${var.db_name}"
    },
    { name = "PGSSLMODE", value = "require" },
    { name = "AWS_REGION", value = var.region },
    # The DuckLake warehouse: its catalog in the same RDS database (a schema of its own; libpq
    # takes the password from PGPASSWORD and TLS from PGSSLMODE, as above) and its Parquet files
    # under one prefix of the warehouse bucket. Names and formats: oaktree/config.py and
    # oaktree/warehouse/lake.py (lake_location); tests/infra checks these against them.
    {
      name  = "OAKTREE_WAREHOUSE_CATALOG"
      value = "postgresql://${var.db_username}@${aws_db_instance.main.address}:${aws_db_instance.main.port}/${var.db_name}"
    },
    { name = "OAKTREE_WAREHOUSE_CATALOG_SCHEMA", value = var.warehouse_catalog_schema },
    { name = "OAKTREE_WAREHOUSE_DATA_PATH", value = local.warehouse_data_path },
  ]

  oaktree_secrets = [
    { name = "PGPASSWORD", valueFrom = "${aws_secretsmanager_secret.db.arn}:password::" },
    { name = "OAKTREE_JWT_SECRET", valueFrom = aws_secretsmanager_secret.jwt.arn },
  ]

  # The root filesystem is read-only; these are the only writable paths (declared as VOLUMEs in
  # the Dockerfile, so Fargate copies their ownership from the image).
  scratch_volumes = [
    { name = "tmp", containerPath = "/tmp" },
    { name = "data", containerPath = "/var/lib/oaktree" },
  ]

  # ECS ignores the image's HEALTHCHECK, so the same probe is declared in the task definitions:
  # `oaktree check --health` (settings valid, database reachable and at the migration head, and
  # the process answering HEALTHCHECK_URL). A task of a release whose migrations did not run is
  # unhealthy, and the deployment circuit breaker rolls that release back. Python and the
  # imports take a few seconds of CPU, hence the one-minute interval and the generous timeout.
  container_health_check = {
    command     = ["CMD", "oaktree", "check", "--health"]
    interval    = 60
    timeout     = 30
    retries     = 3
    startPeriod = 120
  }
}

# ---------------------------------------------------------------- dashboard

resource "aws_ecs_task_definition" "dashboard" {
  family                   = "${local.name}-dashboard"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.dashboard_cpu
  memory                   = var.dashboard_memory
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.dashboard_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  dynamic "volume" {
    for_each = local.scratch_volumes
    content {
      name = volume.value.name
    }
  }

  container_definitions = jsonencode([
    {
      name         = "dashboard"
      image        = local.image
      essential    = true
      command      = ["oaktree", "dashboard", "--port", tostring(local.dashboard_port)]
      portMappings = [{ containerPort = local.dashboard_port, protocol = "tcp" }]
      environment = concat(local.oaktree_environment, [
        { name = "HEALTHCHECK_URL", value = "http://127.0.0.1:${local.dashboard_port}${local.dashboard_health_path}" },
      ])
      secrets                = local.oaktree_secrets
      readonlyRootFilesystem = true
      mountPoints            = [for v in local.scratch_volumes : { sourceVolume = v.name, containerPath = v.containerPath, readOnly = false }]
      linuxParameters        = { initProcessEnabled = true }
      healthCheck            = local.container_health_check
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.ecs.name
          awslogs-region        = var.region
          awslogs-stream-prefix = "dashboard"
        }
      }
    },
  ])
}

resource "aws_ecs_service" "dashboard" {
  name             = "${local.name}-dashboard"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.dashboard.arn
  desired_count    = var.dashboard_desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  # Rolling update that never drops below the desired count.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60

  # Seed section 6: roll back automatically when the new tasks fail their health checks.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.ecs.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.dashboard.arn
    container_name   = "dashboard"
    container_port   = local.dashboard_port
  }

  lifecycle {
    # Autoscaling owns the task count after creation. The deploy pipeline
    # (.github/workflows/deploy.yml) owns which revision runs: it registers the newest revision
    # Terraform wrote with the release's image, so a later apply never rolls the image back.
    ignore_changes = [desired_count, task_definition]
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_appautoscaling_target" "dashboard" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.dashboard.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.dashboard_min_capacity
  max_capacity       = var.dashboard_max_capacity
}

resource "aws_appautoscaling_policy" "dashboard_cpu" {
  name               = "${local.name}-dashboard-cpu-${var.dashboard_cpu_target}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.dashboard.service_namespace
  resource_id        = aws_appautoscaling_target.dashboard.resource_id
  scalable_dimension = aws_appautoscaling_target.dashboard.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.dashboard_cpu_target
    scale_out_cooldown = 60
    # Scaling in drops the Streamlit sessions held by the stopped task: do it slowly.
    scale_in_cooldown = 300

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# ---------------------------------------------------------------- Prefect worker

resource "aws_ecs_task_definition" "worker" {
  family                   = "${local.name}-prefect-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory
  execution_role_arn       = aws_iam_role.task_execution.arn
  # Flow runs execute inside the worker task, so they act with the collector's permissions.
  task_role_arn = aws_iam_role.collector_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  dynamic "volume" {
    for_each = local.scratch_volumes
    content {
      name = volume.value.name
    }
  }

  container_definitions = jsonencode([
    {
      name      = "prefect-worker"
      image     = local.image
      essential = true
      command = [
        "prefect", "worker", "start",
        "--pool", var.prefect_work_pool_name,
        "--type", "process",
        "--limit", tostring(var.worker_flow_run_limit),
        "--with-healthcheck",
      ]
      environment = concat(local.oaktree_environment, [
        { name = "PREFECT_API_URL", value = var.prefect_api_url },
        { name = "PREFECT_WORKER_WEBSERVER_PORT", value = tostring(local.prefect_worker_port) },
        { name = "HEALTHCHECK_URL", value = "http://127.0.0.1:${local.prefect_worker_port}/health" },
      ])
      secrets = concat(
        local.oaktree_secrets,
        var.prefect_api_key_secret_arn == null ? [] : [
          { name = "PREFECT_API_KEY", valueFrom = var.prefect_api_key_secret_arn },
        ],
      )
      readonlyRootFilesystem = true
      mountPoints            = [for v in local.scratch_volumes : { sourceVolume = v.name, containerPath = v.containerPath, readOnly = false }]
      linuxParameters        = { initProcessEnabled = true }
      # Give a running flow the longest grace Fargate allows to finish its task on shutdown.
      stopTimeout = 120
      healthCheck = local.container_health_check
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.ecs.name
          awslogs-region        = var.region
          awslogs-stream-prefix = "worker"
        }
      }
    },
  ])
}

resource "aws_ecs_service" "worker" {
  name             = "${local.name}-prefect-worker"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.worker.arn
  desired_count    = var.worker_desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # The worker takes no inbound traffic; it shares the ECS group for its way out to PostgreSQL.
  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.ecs.id]
    assign_public_ip = false
  }

  lifecycle {
    # Releases are the deploy pipeline's (see the dashboard service).
    ignore_changes = [task_definition]
  }
}
