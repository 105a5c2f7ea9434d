"""The domain: the Generation entity and its events, the rules (tiers, styles, moderation, quotas)
and the values the services work with. It imports nothing of ours above it (the API's wire shapes
are ``chalicelib/schemas/``)."""
