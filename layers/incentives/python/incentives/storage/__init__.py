"""Adapters: DynamoDB repositories and the SQS queue. Key layouts are in docs/data-model.md."""
