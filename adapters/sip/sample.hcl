# The sip adapter shows an agent busy in SIP presence (busy lamps, SIP-aware
# ACDs) while the agent is in a remote-support session. Publish mode sends
# PUBLISH to a presence server such as Kamailio; mode = "server" makes the
# bridge the presence server instead. README.md shows the Kamailio side.
adapter "sip" "presence" {
  address   = "kamailio.example.com:5060"
  transport = "udp" # or "tcp", "tls"
  # Digest credentials for 401/407 challenges, shared by every agent; an
  # agent's own "sip_user" and "sip_password" identities win over them.
  username = "acdbridge"
  password = env("SIP_PASSWORD")
  # The agent directory identity with the agent's SIP URI.
  uri_identity  = "sip_uri"
  expires       = "1h"           # refreshed before it ends
  dialog_info   = true           # also Event: dialog, for BLF lamps
  busy_activity = "on-the-phone" # or "busy"
  rate          = 100            # PUBLISH per second at most
  timeout       = "5s"
}
