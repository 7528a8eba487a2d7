variable "oaktree_task_role_arns" {
  description = "ARNs of OakTree's task roles allowed to assume this role (the root stack's collector_task_role_arn output)."
  type        = list(string)

  validation {
    condition     = length(var.oaktree_task_role_arns) > 0 && alltrue([for arn in var.oaktree_task_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "Give at least one IAM role ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "external_id" {
  description = "External id OakTree must present when assuming the role (agreed per monitored account; guards against a confused deputy)."
  type        = string

  validation {
    # RE2 caps counted repetition at 1000, so the length is checked apart from the characters.
    condition     = length(var.external_id) >= 16 && length(var.external_id) <= 1224 && can(regex("^[A-Za-z0-9+=,.@:/-]+$", var.external_id))
    error_message = "external_id must be 16 to 1224 characters of letters, digits and +=,.@:/-."
  }
}

variable "role_name" {
  description = "Name of the role created in the monitored account."
  type        = string
  default     = "oaktree-read"
}

variable "monitored_regions" {
  description = "Regions OakTree may read in this account; the permissions are refused elsewhere."
  type        = list(string)

  validation {
    condition     = length(var.monitored_regions) > 0
    error_message = "Give at least one region."
  }
}

variable "max_session_duration" {
  description = "Longest session (seconds) OakTree's AssumeRole may ask for; it refreshes credentials before they expire."
  type        = number
  default     = 3600
}

variable "tags" {
  description = "Tags put on the role."
  type        = map(string)
  default     = {}
}
