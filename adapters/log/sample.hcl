# The log adapter prints every call it gets: availability changes, requests,
# sessions and alerts. Its lines appear in the bridge's log under the
# instance's name.
adapter "log" "console" {
  level = "info" # or "debug"
}
