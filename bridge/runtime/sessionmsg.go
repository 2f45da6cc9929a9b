package runtime

import (
	"github.com/acdbridge/acdbridge/bridge/archive"
	"github.com/acdbridge/acdbridge/bridge/bus"
)

// sessionRecordMsg is the bus message for an archived session: the summary
// and the whole record, the recording's path in the recordings folder
// included once it is stored. Publishing it (bus.EncodeSessionMsg) brings
// the record to every adapter with the sessions capability.
func sessionRecordMsg(s archive.Session) bus.SessionMsg {
	m := bus.SessionMsg{
		V: bus.Version, ID: s.ID, RequestID: s.RequestID, AgentID: s.AgentID, Queue: s.Queue, ExternalRef: s.ExternalRef,
		StartedAt: s.StartedAt, EndedAt: s.EndedAt, DurationSeconds: s.DurationSeconds,
		Fields: s.Fields, Resolution: s.Resolution, ReplayURL: s.ReplayURL,
	}
	if s.CustomerName != "" || s.CustomerEmail != "" {
		m.Customer = &bus.CustomerMsg{Name: s.CustomerName, Email: s.CustomerEmail}
	}
	if len(s.Events) > 0 {
		m.Events = make([]bus.SessionEventMsg, len(s.Events))
		for i, e := range s.Events {
			ev := bus.SessionEventMsg{At: e.At, Type: e.Type, From: e.From, To: e.To, Text: e.Text}
			if f := e.File; f != nil {
				ev.File = &bus.FileMsg{Name: f.Name, Size: f.Size, Direction: f.Direction}
			}
			if d := e.Diagnostics; d != nil {
				ev.Diagnostics = &bus.DiagnosticsMsg{OS: d.OS, Hostname: d.Hostname, MemoryMB: int64(d.MemoryMB)}
				for _, sw := range d.Software {
					ev.Diagnostics.Software = append(ev.Diagnostics.Software, bus.SoftwareMsg{Name: sw.Name, Version: sw.Version})
				}
			}
			m.Events[i] = ev
		}
	}
	if v := s.Survey; v != nil {
		m.Survey = &bus.SurveyMsg{Rating: v.Rating, Comment: v.Comment}
	}
	if r := s.Recording; r.SHA256 != "" {
		m.Recording = &bus.RecordingMsg{Size: r.Size, SHA256: r.SHA256, URL: r.URL}
		if r.State == archive.RecordingStored {
			m.Recording.Path = r.Path
		}
	}
	return m
}
