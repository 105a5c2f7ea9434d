"""Realtime: the WebSocket status sessions and the push of what a watcher sees.

Nothing is imported here: the package sits under the cold start's imports; ``wiring.py`` builds
its use cases.
"""
