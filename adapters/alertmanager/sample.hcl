# The alertmanager adapter sends the bridge's threshold alerts to Prometheus
# Alertmanager (POST /api/v2/alerts): when they fire, again every
# resend_interval while they fire, and with endsAt when they resolve.
adapter "alertmanager" "am" {
  # Every Alertmanager of an HA cluster: each alert goes to all of them.
  urls            = ["http://127.0.0.1:9093"]
  generator_url   = "http://127.0.0.1:8080/"  # the bridge's dashboard, linked from each alert
  resend_interval = "1m"                      # below Alertmanager's resolve_timeout (5m)
  timeout         = "10s"                     # per request, 100ms to 2m
  labels          = { source = "acdbridge" }  # added to every alert
  # Alertmanager behind a proxy with basic auth (or bearer_token = ...):
  # username = "bridge"
  # password = env("ALERTMANAGER_PASSWORD")
}
