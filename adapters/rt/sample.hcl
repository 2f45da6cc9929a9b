# The rt adapter opens a Request Tracker 5 ticket for every customer request
# (REST2 API) and, when the session ends, comments on it with the summary
# and the chat transcript and sets its status from the resolution.
# README.md shows the RT user, rights and token it needs.
adapter "rt" "helpdesk" {
  url   = "https://rt.example.com/rt" # RT's address with its web path
  token = env("RT_TOKEN")             # or username = "acdbridge" and password = env("RT_PASSWORD")
  queue = "General"                   # requests of queues not mapped below
  queues = {
    "support"          = "Support"  # support and its sub-queues...
    "support/printers" = "Printers" # ...but printers go here
  }
  custom_fields = { # request field → RT custom field
    serial_number = "Serial number"
    account       = "Account"
  }
  status  = { resolved = "resolved", unresolved = "open" } # resolution → ticket status
  timeout = "15s"                                          # per request, 1s to 2m
}
