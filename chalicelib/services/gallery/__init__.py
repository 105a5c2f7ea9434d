"""Gallery: the instant avatars (list, look up, suggest, refresh from the sources, batch AI).

Nothing is imported here: the package sits under the cold start's imports; ``wiring.py`` builds
its use cases.
"""
