"""Outbound HTTP for the use cases: client callbacks, budget alerts, signing keys; and the bounded
reads (a total deadline per call, a size cap) that every adapter calling out shares."""
