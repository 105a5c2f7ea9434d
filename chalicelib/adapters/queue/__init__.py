"""Job queue adapters: an in-process priority worker (embedded) and SQS lanes (production)."""
