"""Routing: which provider makes an image, in one place (failover, circuit breakers, the burst
lane, photo models), on the ports only; the vendor adapters stay plain clients of one vendor.

Nothing is imported here: the package sits under the cold start's imports.
"""
