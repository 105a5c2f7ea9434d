"""Access: who is calling (JWT, API key, anonymous) and the enterprise API keys.

Nothing is imported here: the package sits under the cold start's imports; ``wiring.py`` builds
its use cases.
"""
