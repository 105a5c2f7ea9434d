locals {
  name = "avatarflow-${var.stage}"
}

# --- Cloudflare R2: every image, the gallery and its manifest --------------------------------------

resource "cloudflare_r2_bucket" "images" {
  account_id = var.cloudflare_account_id
  name       = var.r2_bucket_name
  location   = var.r2_location
}

# Public reads through the CDN at https://<public_domain>/ (R2_PUBLIC_BASE_URL); writes go through the
# S3 API with an R2 API token (R2_ACCESS_KEY_ID / R2_SECRET_ACCESS_KEY, created in the dashboard).
resource "cloudflare_r2_custom_domain" "public" {
  account_id  = var.cloudflare_account_id
  bucket_name = cloudflare_r2_bucket.images.name
  domain      = var.public_domain
  zone_id     = var.cloudflare_zone_id
  enabled     = true
  min_tls     = "1.2"
}

# Pages read the images cross-origin (drawn on a canvas, fetched to crop or cache): R2 answers CORS for
# the origins the API allows (output cors_origins = the API's CorsOrigins parameter). Read-only, no
# request header needed; ETag exposed so that a page can revalidate what it holds.
resource "cloudflare_r2_bucket_cors" "images" {
  account_id  = var.cloudflare_account_id
  bucket_name = cloudflare_r2_bucket.images.name

  rules = [
    {
      id = "pages-read-images"
      allowed = {
        methods = ["GET", "HEAD"]
        origins = var.cors_origins
      }
      expose_headers  = ["ETag"]
      max_age_seconds = 3600
    },
  ]
}

# Keys the service writes: img/<digest>.webp (every generation), pinned/... (a user's chosen avatar,
# copied out of img/ when chosen), gallery/... (the gallery and its manifest). Only img/ and uploads/
# expire. The users' photos (uploads/...) are NOT on R2 in a deployed stage: R2 has no S3 PostObject
# for their form upload, so they live in the stack's AWS S3 photos bucket (AVATARFLOW_PHOTOS_BUCKET,
# infra/cloudformation/resources.yml, docs/photos.md). The uploads/ rule below is a safety net for
# biometric data that should never be here.
resource "cloudflare_r2_bucket_lifecycle" "images" {
  account_id  = var.cloudflare_account_id
  bucket_name = cloudflare_r2_bucket.images.name

  rules = [
    {
      id      = "expire-unchosen-generations"
      enabled = true
      conditions = {
        prefix = "img/"
      }
      delete_objects_transition = {
        condition = {
          type    = "Age"
          max_age = var.unchosen_generation_days * 86400 # seconds
        }
      }
    },
    {
      # Uploaded photos (docs/privacy.md): deleted once they are photo_retention_hours old, as
      # AVATARFLOW_PHOTO_RETENTION_HOURS says to the service. R2 runs lifecycle rules about once a
      # day, so an expired photo's record goes first (the API answers 404) and its file within a day.
      id      = "expire-uploaded-photos"
      enabled = true
      conditions = {
        prefix = "uploads/"
      }
      delete_objects_transition = {
        condition = {
          type    = "Age"
          max_age = var.photo_retention_hours * 3600 # seconds
        }
      }
    },
    {
      # R2's default rule, kept: setting a lifecycle replaces the bucket's rules. It deletes no
      # object, it only aborts multipart uploads left unfinished for 7 days.
      id      = "abort-incomplete-multipart-uploads"
      enabled = true
      conditions = {
        prefix = ""
      }
      abort_multipart_uploads_transition = {
        condition = {
          type    = "Age"
          max_age = 7 * 86400 # seconds
        }
      }
    },
  ]
}

# --- Upstash Redis: quotas, cache, jobs, idempotency ------------------------------------------------

resource "upstash_redis_database" "state" {
  database_name  = local.name
  region         = "global"
  primary_region = var.upstash_primary_region
  read_regions   = var.upstash_read_regions
  tls            = true
  # Never evict: quota windows, jobs and idempotency keys must not vanish under memory pressure
  # (every key the service writes has its own TTL).
  eviction = false
}
