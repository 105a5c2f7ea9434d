"""Object store adapters: a local directory (embedded) and Cloudflare R2 (production)."""
