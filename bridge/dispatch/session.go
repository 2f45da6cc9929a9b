package dispatch

import (
	"fmt"

	"github.com/acdbridge/acdbridge/bridge/bus"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// sessionForAdapter is the session an event carries, as the adapter gets
// it: the whole message from the event's payload (the summary, and the
// record when the bridge published it), or, for an event made in the
// process without a payload, the summary.
func sessionForAdapter(ev bus.Event) (sdk.Session, error) {
	if len(ev.Data) == 0 {
		s := ev.Session
		return sdk.Session{ID: s.ID, RequestID: s.RequestID, AgentID: s.AgentID, Queue: s.Queue,
			ExternalRef: s.ExternalRef, StartedAt: s.StartedAt, EndedAt: s.EndedAt, DurationSeconds: s.DurationSeconds}, nil
	}
	m, err := bus.DecodeSessionMsg(ev.Data)
	if err != nil {
		return sdk.Session{}, fmt.Errorf("%w: %s: %v", bus.ErrPermanent, ev.Subject, err)
	}
	return sessionFromMsg(m), nil
}

// sessionFromMsg converts a session message, every field of its record,
// to the SDK's session.
func sessionFromMsg(m bus.SessionMsg) sdk.Session {
	s := sdk.Session{ID: m.ID, RequestID: m.RequestID, AgentID: m.AgentID, Queue: m.Queue, ExternalRef: m.ExternalRef,
		StartedAt: m.StartedAt, EndedAt: m.EndedAt, DurationSeconds: m.DurationSeconds,
		Fields: m.Fields, Resolution: m.Resolution, ReplayURL: m.ReplayURL}
	if c := m.Customer; c != nil {
		s.Customer = sdk.Customer{Name: c.Name, Email: c.Email}
	}
	if len(m.Events) > 0 {
		s.Events = make([]sdk.SessionEvent, len(m.Events))
		for i, e := range m.Events {
			ev := sdk.SessionEvent{At: e.At, Type: e.Type, From: e.From, To: e.To, Text: e.Text}
			if f := e.File; f != nil {
				ev.File = &sdk.FileInfo{Name: f.Name, Size: f.Size, Direction: f.Direction}
			}
			if d := e.Diagnostics; d != nil {
				ev.Diagnostics = &sdk.Diagnostics{OS: d.OS, Hostname: d.Hostname, MemoryMB: d.MemoryMB}
				for _, sw := range d.Software {
					ev.Diagnostics.Software = append(ev.Diagnostics.Software, sdk.Software{Name: sw.Name, Version: sw.Version})
				}
			}
			s.Events[i] = ev
		}
	}
	if v := m.Survey; v != nil {
		s.Survey = &sdk.Survey{Rating: v.Rating, Comment: v.Comment}
	}
	if r := m.Recording; r != nil {
		s.Recording = &sdk.Recording{Size: r.Size, SHA256: r.SHA256, URL: r.URL, Path: r.Path}
	}
	return s
}
