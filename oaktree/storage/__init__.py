"""OakTree's own stores in AWS: the DynamoDB metrics and events tables."""
