# Copy to <stage>.tfvars (ignored by git) and fill in. No secret belongs here: the API token and
# the Upstash key come from the environment (versions.tf).
stage                  = "dev"
cloudflare_account_id  = "0123456789abcdef0123456789abcdef"
cloudflare_zone_id     = "fedcba9876543210fedcba9876543210"
r2_bucket_name         = "avatarflow-dev-images"
r2_location            = "enam"
public_domain          = "img-dev.example.com"
cors_origins           = ["https://dev.example.com"]
upstash_primary_region = "us-east-1"
