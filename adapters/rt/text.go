package rt

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// maxSubject is the longest subject RT keeps (its Subject column holds 200
// characters).
const maxSubject = 200

// newTicket is a ticket to create for a request (or, when none was made for
// it, for a session).
type newTicket struct {
	tag       string // "[acdbridge request r-5f1c]": in the subject, found again by it
	queue     string // the remote-support queue
	subject   string
	requestor string
	fields    map[string]string // what custom_fields may map
	body      string
}

// requestTag is the tag of the ticket made for a request.
func requestTag(id string) string { return "[acdbridge request " + id + "]" }

// sessionTag is the tag of the ticket made for a session without a request
// (phone mode without an external_ref).
func sessionTag(id string) string { return "[acdbridge session " + id + "]" }

// subjectWith is text, cut to fit, then the tag.
func subjectWith(text, tag string) string {
	text = strings.Join(strings.Fields(text), " ") // one line
	room := maxSubject - utf8.RuneCountInString(tag) - 1
	if utf8.RuneCountInString(text) > room {
		r := []rune(text)
		text = strings.TrimSpace(string(r[:max(room-1, 0)])) + "…"
	}
	if text == "" {
		return tag
	}
	return text + " " + tag
}

func ticketOf(r sdk.Request) newTicket {
	fields := map[string]string{}
	for k, v := range r.Fields {
		fields[k] = v
	}
	for k, v := range map[string]string{"request_id": r.ID, "queue": r.Queue, "name": r.Name, "email": r.Email, "problem": r.Problem} {
		if v != "" {
			fields[k] = v
		}
	}
	problem := r.Problem
	if problem == "" {
		problem = "Remote-support request in " + r.Queue
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Remote-support request %s in queue %s.\n\n", r.ID, r.Queue)
	line(&b, "Customer", customer(r.Name, r.Email))
	line(&b, "Problem", r.Problem)
	line(&b, "Status", r.Status)
	if !r.CreatedAt.IsZero() {
		line(&b, "Created", r.CreatedAt.UTC().Format(time.RFC3339))
	}
	line(&b, "Agent", r.AgentID)
	line(&b, "Session", r.SessionID)
	line(&b, "External ref", r.ExternalRef)
	writeFields(&b, r.Fields)
	return newTicket{tag: requestTag(r.ID), queue: r.Queue, subject: subjectWith(problem, requestTag(r.ID)),
		requestor: r.Email, fields: fields, body: b.String()}
}

// ticketOfSession is the ticket for a session whose request has none: made
// from the session's record.
func ticketOfSession(s sdk.Session) newTicket {
	tag := sessionTag(s.ID)
	if s.RequestID != "" {
		tag = requestTag(s.RequestID)
	}
	fields := map[string]string{}
	for k, v := range s.Fields {
		fields[k] = v
	}
	for k, v := range map[string]string{"request_id": s.RequestID, "queue": s.Queue, "name": s.Customer.Name, "email": s.Customer.Email} {
		if v != "" {
			fields[k] = v
		}
	}
	problem := s.Fields["problem"]
	if problem == "" {
		problem = "Remote-support session in " + s.Queue
	}
	var b strings.Builder
	if s.RequestID != "" {
		fmt.Fprintf(&b, "Remote-support request %s in queue %s, taken in session %s.\n\n", s.RequestID, s.Queue, s.ID)
	} else {
		fmt.Fprintf(&b, "Remote-support session %s in queue %s.\n\n", s.ID, s.Queue)
	}
	line(&b, "Customer", customer(s.Customer.Name, s.Customer.Email))
	line(&b, "Problem", s.Fields["problem"])
	writeFields(&b, s.Fields)
	return newTicket{tag: tag, queue: s.Queue, subject: subjectWith(problem, tag), requestor: s.Customer.Email, fields: fields, body: b.String()}
}

// customFields maps the ticket's fields through the custom_fields setting.
func (t newTicket) customFields(mapping map[string]string) map[string]string {
	out := map[string]string{}
	for field, cf := range mapping {
		if v, ok := t.fields[field]; ok && v != "" {
			out[cf] = v
		}
	}
	return out
}

func customer(name, email string) string {
	switch {
	case name != "" && email != "":
		return name + " <" + email + ">"
	case email != "":
		return email
	}
	return name
}

// line writes "Label: value" when value is not empty.
func line(b *strings.Builder, label, value string) {
	if value != "" {
		fmt.Fprintf(b, "%-13s %s\n", label+":", value)
	}
}

func writeFields(b *strings.Builder, fields map[string]string) {
	if len(fields) == 0 {
		return
	}
	b.WriteString("\nFields:\n")
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "  %s: %s\n", k, fields[k])
	}
}

func commentSubject(s sdk.Session) string {
	return "Remote-support session " + s.ID + " ended"
}

// sessionText is a session's comment: the summary, then the transcript.
func sessionText(s sdk.Session) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Remote-support session %s ended.\n\n", s.ID)
	line(&b, "Agent", s.AgentID)
	line(&b, "Queue", s.Queue)
	line(&b, "Request", s.RequestID)
	line(&b, "Customer", customer(s.Customer.Name, s.Customer.Email))
	if !s.StartedAt.IsZero() {
		line(&b, "Started", s.StartedAt.UTC().Format(time.RFC3339))
	}
	if !s.EndedAt.IsZero() {
		line(&b, "Ended", s.EndedAt.UTC().Format(time.RFC3339))
	}
	line(&b, "Duration", duration(s.DurationSeconds))
	resolution := s.Resolution
	if resolution == "" {
		resolution = "not in the record"
	}
	line(&b, "Resolution", resolution)
	switch {
	case s.Survey != nil && s.Survey.Comment != "":
		line(&b, "Survey", fmt.Sprintf("%d/5: %s", s.Survey.Rating, s.Survey.Comment))
	case s.Survey != nil:
		line(&b, "Survey", fmt.Sprintf("%d/5", s.Survey.Rating))
	case s.Resolution != "":
		line(&b, "Survey", "the customer did not answer")
	}
	if r := s.Recording; r != nil {
		where := r.Path
		if where == "" {
			where = r.URL
		}
		line(&b, "Recording", strings.TrimSpace(fmt.Sprintf("%d bytes, sha256 %s %s", r.Size, r.SHA256, where)))
	}
	line(&b, "Replay", s.ReplayURL)
	line(&b, "External ref", s.ExternalRef)
	writeFields(&b, s.Fields)

	b.WriteString("\nTranscript:\n")
	if len(s.Events) == 0 {
		if s.Resolution == "" {
			b.WriteString("  (the bridge sent the session's summary only, without its record)\n")
		} else {
			b.WriteString("  (no events)\n")
		}
	}
	for _, e := range s.Events {
		fmt.Fprintf(&b, "  %s %s\n", e.At.UTC().Format(time.TimeOnly), eventText(e))
	}
	return b.String()
}

// eventText is one timeline entry on one line (a chat line may hold line
// breaks: they are kept, indented).
func eventText(e sdk.SessionEvent) string {
	switch e.Type {
	case sdk.EventChat:
		return fmt.Sprintf("%s: %s", e.From, indent(e.Text))
	case sdk.EventFileTransfer:
		if f := e.File; f != nil {
			dir := "to the customer"
			if f.Direction == "from_customer" {
				dir = "from the customer"
			}
			return fmt.Sprintf("file %s (%d bytes) sent %s by %s", f.Name, f.Size, dir, e.From)
		}
		return "file transfer by " + e.From
	case sdk.EventDiagnostics:
		if d := e.Diagnostics; d != nil {
			sw := make([]string, len(d.Software))
			for i, s := range d.Software {
				sw[i] = s.Name + " " + s.Version
			}
			text := fmt.Sprintf("diagnostics: %s on %s, %d MB", d.OS, d.Hostname, d.MemoryMB)
			if len(sw) > 0 {
				text += "; software: " + strings.Join(sw, ", ")
			}
			return text
		}
		return "diagnostics"
	case sdk.EventReboot:
		return "reboot by " + e.From
	case sdk.EventTransfer:
		text := fmt.Sprintf("transfer from %s to %s", e.From, e.To)
		if e.Text != "" {
			text += ": " + indent(e.Text)
		}
		return text
	}
	text := e.Type
	if e.From != "" {
		text += " from " + e.From
	}
	if e.Text != "" {
		text += ": " + indent(e.Text)
	}
	return text
}

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n           ")
}

// duration is seconds as 17m42s.
func duration(seconds float64) string {
	if seconds <= 0 {
		return ""
	}
	return (time.Duration(seconds * float64(time.Second))).Round(time.Second).String()
}
