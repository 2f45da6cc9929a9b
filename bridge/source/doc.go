// Package source is the bridge's client of the Remote Support API v1 (the
// contract written down in simulator/openapi.yaml): it takes full snapshots
// of the agents and queues, follows the server-sent event stream with
// resume (Last-Event-ID), falls back to polling while the stream is down,
// reconciles with a full poll now and then, and backs off with jitter when
// the source is in trouble.
//
// Everything it learns comes out of Client.Run as Update values, in the
// order learned: full tables (Agents, Queues), single changes from the
// stream (AgentChanged, QueueChanged, RequestEvent, SessionEnded) and
// Heartbeat. A payload that breaks the contract (malformed JSON, an unknown
// status, a missing id, a negative count, an error body behind a 200, a
// wrong content type) is counted, logged without flooding, and never passed
// on: the monitors downstream only ever see data that passed the checks.
//
// The package keeps its own wire structs on purpose and shares no code with
// the simulator: the contract is the API, so drift between the two shows up
// in tests instead of hiding in a shared struct. README.md in this folder
// describes the behaviour, the settings and the metrics.
package source
