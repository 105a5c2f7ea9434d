"""Operations: admin stats, counters, the experiment, budget and key alerts, the picker's funnel.

Nothing is imported here: the package sits under the cold start's imports; ``wiring.py`` builds
its use cases.
"""
