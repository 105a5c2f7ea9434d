# The Cloudflare side (R2 bucket, public custom domain, lifecycle) and the Upstash Redis database of
# one avatarflow stage. One Terraform workspace per stage (docs/deploy.md):
#
#   terraform workspace select -or-create dev
#   terraform apply -var-file=dev.tfvars
#
# Credentials come from the environment, never from a file in the repository:
#   CLOUDFLARE_API_TOKEN             (Account > Workers R2 Storage: Edit; Zone > Zone: Read on the zone)
#   UPSTASH_EMAIL, UPSTASH_API_KEY   (Upstash console: Account > Management API)
#
# The state holds the Upstash REST token: keep it out of git (.gitignore here) and, for a team,
# in a remote backend (docs/deploy.md, "Terraform state").

terraform {
  required_version = ">= 1.5"

  required_providers {
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = "~> 5.19"
    }
    upstash = {
      source  = "upstash/upstash"
      version = "~> 2.1"
    }
  }
}

provider "cloudflare" {}

provider "upstash" {}
