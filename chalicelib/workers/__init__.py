"""Workers: SQS lane handlers, schedules and webhook receivers (registered as blueprints)."""
