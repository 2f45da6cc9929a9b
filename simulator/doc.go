// Package simulator plays a remote-support service: agents who work shifts,
// take breaks and serve queues; customers whose requests arrive per queue,
// wait, are routed to the longest-idle agent or give up; sessions with chat,
// files, diagnostics, a survey and a recording; phone-mode connection codes;
// and 90 days of session history. It serves the Remote Support API v1 that
// openapi.yaml writes down, so acdbridge runs on one laptop without a vendor
// account and its tests have a source they control.
//
// The engine is event-driven: every future happening (an arrival, a session's
// end, a break, a shift change, a customer giving up, a code expiring) is a
// timer in one heap, processed in simulated-time order. Simulated time is a
// function of wall time and --speed, so a call that reads state first brings
// the engine up to now. With the same seed, scenario and start time the
// engine produces byte-identical session records.
package simulator
