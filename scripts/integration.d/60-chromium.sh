# Debian's Chromium, for the dashboard's browser test (bridge/api,
# chromedp). Nothing to start: each test launches its own headless
# Chromium, with flags that keep it off the network (no updates, sync,
# background requests or QUIC) and a fresh empty profile.
# Exports ACDBRIDGE_IT_CHROMIUM (the executable).
APT_PACKAGES+=(chromium)
STARTERS+=(start_chromium)

start_chromium() {
  local bin
  bin="$(command -v chromium || true)"
  if [ -z "$bin" ]; then
    echo "integration: chromium is not installed" >&2
    return 1
  fi
  "$bin" --version >/dev/null 2>&1 || {
    echo "integration: $bin does not start" >&2
    return 1
  }
  export ACDBRIDGE_IT_CHROMIUM="$bin"
}
