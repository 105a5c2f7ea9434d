"""Use cases, one package per area: each depends on ports only and is called by a thin route or worker.

``generation`` (a custom avatar, request to image), ``photos`` (an avatar from the user's photo),
``gallery`` (the instant avatars), ``realtime`` (WebSocket status), ``privacy`` (erasure, export,
retention, audit), ``operations`` (stats, counters, alerts, the experiment) and ``access``
(identity, API keys). ``messagebus`` hands each domain event to its handlers.
"""
