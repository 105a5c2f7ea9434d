"""HTTP entrypoints: blueprints whose routes validate, call one use case, and shape the response.

Every Lambda function imports the app (``import app``: the Lambda cold start), so the route modules
import nothing heavy at module level: the request and response models (pydantic, ~0.1 s with their
schemas) are imported inside the handlers that use them, the container is built on first use
(``bootstrap.get_container``). ``tests/unit/test_cold_import.py`` keeps it so.
"""
