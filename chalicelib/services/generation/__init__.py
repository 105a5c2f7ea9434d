"""Generation: a custom avatar from a request to its image (admission, lanes, providers, callbacks, reads).

Nothing is imported here: the package sits under the cold start's imports; ``wiring.py`` builds its use cases.
"""
