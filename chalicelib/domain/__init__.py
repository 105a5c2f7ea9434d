"""The domain: contract models, styles, tiers and the errors the API speaks."""
