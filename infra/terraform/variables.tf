variable "stage" {
  description = "The Chalice stage these resources serve: dev or prod."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.stage)
    error_message = "The stage must be dev or prod."
  }
}

variable "cloudflare_account_id" {
  description = "The Cloudflare account that owns the R2 bucket (dashboard: Workers & Pages / R2, right column)."
  type        = string
}

variable "cloudflare_zone_id" {
  description = "The Cloudflare zone (domain) that serves the public image host, e.g. the zone of example.com."
  type        = string
}

variable "r2_bucket_name" {
  description = "Name of the R2 bucket for images, gallery and records, e.g. avatarflow-prod-images."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.r2_bucket_name))
    error_message = "An R2 bucket name is 3 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

variable "r2_location" {
  description = "R2 location hint (apac, eeur, enam, weur, wnam, oc); null lets Cloudflare choose. Pick the one nearest the Lambda region."
  type        = string
  default     = null
}

variable "public_domain" {
  description = "Host name in the zone that serves the bucket publicly (R2_PUBLIC_BASE_URL), e.g. img.example.com."
  type        = string
}

variable "cors_origins" {
  description = "Browser origins whose pages read the images cross-origin (a canvas, fetch), e.g. [\"https://www.example.com\"], or [\"*\"] for any page. The API allows the same origins: terraform output cors_origins is its CloudFormation parameter CorsOrigins."
  type        = list(string)

  validation {
    condition = length(var.cors_origins) > 0 && alltrue([
      for origin in var.cors_origins :
      (origin == "*" && length(var.cors_origins) == 1) || can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", origin))
    ])
    error_message = "List origins as scheme://host[:port] (no path, no trailing slash), or [\"*\"] alone."
  }
}

variable "unchosen_generation_days" {
  description = "Days after which generated images under img/ that nobody chose are deleted. Chosen avatars (pinned/) and the gallery (gallery/) never expire."
  type        = number
  default     = 30

  validation {
    # Longer than the result cache (AVATARFLOW_CACHE_TTL_SECONDS, 7 days): a cache hit never points at a deleted image.
    condition     = var.unchosen_generation_days >= 8
    error_message = "Keep unchosen generations at least 8 days, longer than the 7-day result cache."
  }
}

variable "photo_retention_hours" {
  description = "Hours after which uploaded photos under uploads/ are deleted (biometric data; the service's AVATARFLOW_PHOTO_RETENTION_HOURS, default 24). R2 counts lifecycle ages in whole days: 24 is one day."
  type        = number
  default     = 24

  validation {
    condition     = var.photo_retention_hours >= 24 && var.photo_retention_hours % 24 == 0 && var.photo_retention_hours <= 720
    error_message = "R2 lifecycle ages are whole days: use a multiple of 24 hours, from 24 to 720."
  }
}

variable "upstash_primary_region" {
  description = "Upstash primary region: the AWS region of the Lambda functions (us-east-1, us-west-1, us-west-2, eu-central-1, eu-west-1, sa-east-1, ap-southeast-1, ap-southeast-2)."
  type        = string
  default     = "us-east-1"
}

variable "upstash_read_regions" {
  description = "Extra Upstash read regions (each adds cost per command replicated); none by default."
  type        = set(string)
  default     = []
}
