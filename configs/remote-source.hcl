# The bridge against a remote-support service running elsewhere, for example
#   ACDBRIDGE_SIMULATOR_TOKEN=s3cret acdbridge simulate
#   ACDBRIDGE_SOURCE_TOKEN=s3cret acdbridge run --config configs/remote-source.hcl
data_dir = "./data"

source "remote_support" {
  url                = "http://127.0.0.1:8089"
  token              = env("ACDBRIDGE_SOURCE_TOKEN")
  stream             = true
  poll_interval      = "10s"
  reconcile_interval = "60s"
  timeout            = "10s"
  rate_limit         = 10
  stale_after        = "30s"
}

availability {
  unavailable_when = ["in_session", "away", "offline"]
  reason           = "remote-support"
  reasons = {
    in_session = "in a remote-support session"
  }
  min_dwell = "2s"
}

api {
  listen = "127.0.0.1:8080"

  # Bearer tokens for /api/v1, kept as SHA-256 only:
  #   printf %s "$TOKEN" | sha256sum
  token "wallboard" {
    role   = "viewer"
    sha256 = "6c8ff1a4d1c2d9f7e8ce7b3c1c2d7ac4d5e6f708192a3b4c5d6e7f8091a2b3c4"
  }
}

# Each agent's identities in the ACD, the phone system and ticketing.
directory {
  file = "agents.csv" # relative to this file
  template {
    interface = "PJSIP/${extension}"
    sip_uri   = "sip:${extension}@pbx.example.com"
  }
  agent "a-0006" {
    extension = 1006
    interface = "Local/1006@agents" # a row's own value wins over the template
  }
}

# The log adapter prints every call; add adapter blocks for real systems.
adapter "log" "console" {
  level = "info"
}
