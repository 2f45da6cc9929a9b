// EventSource
