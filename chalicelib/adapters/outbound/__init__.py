"""Outbound HTTP for the use cases: client callbacks, budget alerts, signing keys."""
