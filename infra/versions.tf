terraform {
  # 1.11 is the first release with write-only arguments, which keep the generated
  # database password and JWT secret out of the state file.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Exact pin: the provider mirror baked into the developer and CI machines holds 5.100.0 only.
      version = "= 5.100.0"
    }
  }

  # Remote state, configured at init time: terraform init -backend-config=backend.hcl
  backend "s3" {}
}
