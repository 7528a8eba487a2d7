terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The provider mirror of the project's machines holds this version only; any 5.x works.
      version = ">= 5.0"
    }
  }
}
