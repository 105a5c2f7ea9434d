"""Observability: structured JSON logs and CloudWatch metrics (EMF), used by every layer."""
