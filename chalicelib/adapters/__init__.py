"""Adapters: the production and embedded implementations of each port."""
