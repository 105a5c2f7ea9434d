# Values for the CloudFormation parameters of the same stage (docs/deploy.md, "Deploy the API").

output "upstash_redis_rest_url" {
  description = "UPSTASH_REDIS_REST_URL (CloudFormation parameter UpstashRedisRestUrl)."
  value       = "https://${upstash_redis_database.state.endpoint}"
}

output "upstash_redis_rest_token" {
  description = "UPSTASH_REDIS_REST_TOKEN (parameter UpstashRedisRestToken): terraform output -raw upstash_redis_rest_token."
  value       = upstash_redis_database.state.rest_token
  sensitive   = true
}

output "r2_bucket" {
  description = "R2_BUCKET (parameter R2Bucket)."
  value       = cloudflare_r2_bucket.images.name
}

output "r2_endpoint_url" {
  description = "R2_ENDPOINT_URL (parameter R2EndpointUrl), the bucket's S3 API endpoint."
  value       = "https://${var.cloudflare_account_id}.r2.cloudflarestorage.com"
}

output "r2_public_base_url" {
  description = "R2_PUBLIC_BASE_URL (parameter R2PublicBaseUrl), where the CDN serves the bucket."
  value       = "https://${cloudflare_r2_custom_domain.public.domain}"
}

output "cors_origins" {
  description = "AVATARFLOW_CORS_ORIGINS (parameter CorsOrigins): the origins R2 allows, comma separated, for the API to allow too."
  value       = join(",", var.cors_origins)
}
