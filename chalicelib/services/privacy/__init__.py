"""Privacy: erasure (``DELETE /v1/me``), export, retention, the admin audit trail.

Nothing is imported here: the package sits under the cold start's imports; ``wiring.py`` builds
its use cases.
"""
