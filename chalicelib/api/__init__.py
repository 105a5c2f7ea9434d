"""HTTP entrypoints: blueprints whose routes validate, call one use case, and shape the response."""
