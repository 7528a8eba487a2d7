output "role_arn" {
  description = "ARN to give OakTree for this account (with the external id)."
  value       = aws_iam_role.read.arn
}

output "role_name" {
  description = "Name of the role."
  value       = aws_iam_role.read.name
}
