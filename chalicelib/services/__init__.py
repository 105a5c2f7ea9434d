"""Use cases: each depends on ports only and is called by one thin route or worker."""
