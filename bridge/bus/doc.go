// Package bus is the bridge's NATS side: where the agents, queues and desired
// availabilities the bridge computes become versioned JSON messages that any
// outside program may read.
//
// Open either starts an embedded NATS server with JetStream (store under
// DataDir/nats, listening on 127.0.0.1 only) or connects to an external
// server or cluster, then creates or updates what the bridge publishes into:
//
//   - KV buckets "agents", "queues" and "availability" keep the last value per
//     key. Each bucket republishes every write on the design's subject
//     (acdbridge.agent.<agent>, acdbridge.queue.<queue>,
//     acdbridge.availability.<agent>), so one Put both stores the value and
//     tells live subscribers.
//   - Stream "EVENTS" keeps acdbridge.request.>, acdbridge.session.> and
//     acdbridge.alert.> for a while (7 days by default) and drops duplicates
//     by Nats-Msg-Id.
//
// Ids become subject tokens and KV keys through Token, which keeps
// [A-Za-z0-9_-] and writes every other byte as "=XX"; Untoken reverses it.
// The payload codecs (AgentMsg, QueueMsg, AvailabilityMsg, RequestMsg,
// SessionMsg and their Encode/Decode functions) are exported so outside Go
// programs read exactly what the bridge writes. docs/events.md describes
// all of it, with examples a test keeps in step with this code.
package bus
