# The webhook adapter POSTs a JSON payload to one URL for every call it gets:
# availability changes and reconciles, customer requests, ended sessions and
# alerts. With a secret, every request is signed (X-Acdbridge-Signature);
# README.md shows how to check it.
adapter "webhook" "crm" {
  url    = "https://crm.example.com/hooks/acdbridge"
  secret = env("WEBHOOK_SECRET")
  headers = {
    "X-Api-Key" = env("CRM_API_KEY")
    "X-Tenant"  = "support-emea"
  }
  timeout = "10s"                                              # per request, 100ms to 2m
  send    = ["availability", "requests", "sessions", "alerts"] # default: all four
}
