package sdk

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/acdbridge/acdbridge/plugins/proto/v1"
)

// The conversions between the SDK's types and the protocol's. Zero times
// travel as absent timestamps.

func tsToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsFromPB(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

var capToPB = map[Capability]pb.Capability{
	CapAvailability: pb.Capability_CAPABILITY_AVAILABILITY,
	CapRequests:     pb.Capability_CAPABILITY_REQUESTS,
	CapSessions:     pb.Capability_CAPABILITY_SESSIONS,
	CapAlerts:       pb.Capability_CAPABILITY_ALERTS,
}

func infoToPB(i Info) *pb.DescribeResponse {
	r := &pb.DescribeResponse{Name: i.Name, Version: i.Version, Identities: i.Identities}
	for _, c := range i.Capabilities {
		r.Capabilities = append(r.Capabilities, capToPB[c])
	}
	for _, s := range i.Settings {
		r.ConfigSchema = append(r.ConfigSchema, &pb.ConfigField{Name: s.Name, Type: s.Type, Required: s.Required, Secret: s.Secret, Description: s.Description})
	}
	return r
}

func infoFromPB(r *pb.DescribeResponse) Info {
	i := Info{Name: r.GetName(), Version: r.GetVersion(), Identities: r.GetIdentities()}
	for _, c := range r.GetCapabilities() {
		for k, v := range capToPB {
			if v == c {
				i.Capabilities = append(i.Capabilities, k)
			}
		}
	}
	for _, f := range r.GetConfigSchema() {
		i.Settings = append(i.Settings, Setting{Name: f.GetName(), Type: f.GetType(), Required: f.GetRequired(), Secret: f.GetSecret(), Description: f.GetDescription()})
	}
	return i
}

func availabilitiesToPB(items []Availability) []*pb.Availability {
	out := make([]*pb.Availability, len(items))
	for i, a := range items {
		out[i] = &pb.Availability{AgentId: a.AgentID, AgentName: a.AgentName, Available: a.Available, State: a.State,
			Reason: a.Reason, Version: a.Version, Since: tsToPB(a.Since), Identities: a.Identities}
	}
	return out
}

func availabilitiesFromPB(items []*pb.Availability) []Availability {
	out := make([]Availability, len(items))
	for i, a := range items {
		out[i] = Availability{AgentID: a.GetAgentId(), AgentName: a.GetAgentName(), Available: a.GetAvailable(), State: a.GetState(),
			Reason: a.GetReason(), Version: a.GetVersion(), Since: tsFromPB(a.GetSince()), Identities: a.GetIdentities()}
	}
	return out
}

func outcomeFromPB(o pb.Outcome) Outcome {
	if o < pb.Outcome_OUTCOME_APPLIED || o > pb.Outcome_OUTCOME_PERMANENT {
		return Retryable // an outcome this bridge does not know: better to try again than to lose it
	}
	return Outcome(o)
}

func resultsToPB(rs []Result) []*pb.Result {
	out := make([]*pb.Result, len(rs))
	for i, r := range rs {
		out[i] = &pb.Result{AgentId: r.AgentID, Version: r.Version, Outcome: pb.Outcome(r.Outcome), Message: r.Message}
	}
	return out
}

// resultsFromPB checks there is one result per item sent.
func resultsFromPB(rs []*pb.Result, want int) ([]Result, error) {
	if len(rs) != want {
		return nil, fmt.Errorf("the adapter answered %d results for %d items", len(rs), want)
	}
	out := make([]Result, len(rs))
	for i, r := range rs {
		out[i] = Result{AgentID: r.GetAgentId(), Version: r.GetVersion(), Outcome: outcomeFromPB(r.GetOutcome()), Message: r.GetMessage()}
	}
	return out, nil
}

func handleToPB(r Result) *pb.HandleResponse {
	return &pb.HandleResponse{Outcome: pb.Outcome(r.Outcome), Message: r.Message, Reference: r.Reference}
}

func requestToPB(r Request) *pb.Request {
	return &pb.Request{Id: r.ID, Queue: r.Queue, Status: r.Status, CreatedAt: tsToPB(r.CreatedAt), Name: r.Name, Email: r.Email,
		Problem: r.Problem, Fields: r.Fields, ExternalRef: r.ExternalRef, AgentId: r.AgentID, SessionId: r.SessionID}
}

func requestFromPB(r *pb.Request) Request {
	return Request{ID: r.GetId(), Queue: r.GetQueue(), Status: r.GetStatus(), CreatedAt: tsFromPB(r.GetCreatedAt()), Name: r.GetName(),
		Email: r.GetEmail(), Problem: r.GetProblem(), Fields: r.GetFields(), ExternalRef: r.GetExternalRef(), AgentID: r.GetAgentId(), SessionID: r.GetSessionId()}
}

func sessionToPB(s Session) *pb.Session {
	out := &pb.Session{Id: s.ID, RequestId: s.RequestID, AgentId: s.AgentID, Queue: s.Queue, ExternalRef: s.ExternalRef,
		StartedAt: tsToPB(s.StartedAt), EndedAt: tsToPB(s.EndedAt), DurationSeconds: s.DurationSeconds,
		Fields: s.Fields, Resolution: s.Resolution, ReplayUrl: s.ReplayURL}
	if s.Customer != (Customer{}) {
		out.Customer = &pb.Customer{Name: s.Customer.Name, Email: s.Customer.Email}
	}
	if len(s.Events) > 0 {
		out.Events = make([]*pb.SessionEvent, len(s.Events))
		for i, e := range s.Events {
			out.Events[i] = sessionEventToPB(e)
		}
	}
	if s.Survey != nil {
		out.Survey = &pb.Survey{Rating: int32(s.Survey.Rating), Comment: s.Survey.Comment}
	}
	if r := s.Recording; r != nil {
		out.Recording = &pb.Recording{Size: r.Size, Sha256: r.SHA256, Url: r.URL, Path: r.Path}
	}
	return out
}

func sessionEventToPB(e SessionEvent) *pb.SessionEvent {
	out := &pb.SessionEvent{At: tsToPB(e.At), Type: e.Type, From: e.From, To: e.To, Text: e.Text}
	if f := e.File; f != nil {
		out.File = &pb.FileInfo{Name: f.Name, Size: f.Size, Direction: f.Direction}
	}
	if d := e.Diagnostics; d != nil {
		out.Diagnostics = &pb.Diagnostics{Os: d.OS, Hostname: d.Hostname, MemoryMb: d.MemoryMB}
		for _, sw := range d.Software {
			out.Diagnostics.Software = append(out.Diagnostics.Software, &pb.Software{Name: sw.Name, Version: sw.Version})
		}
	}
	return out
}

func sessionFromPB(s *pb.Session) Session {
	out := Session{ID: s.GetId(), RequestID: s.GetRequestId(), AgentID: s.GetAgentId(), Queue: s.GetQueue(), ExternalRef: s.GetExternalRef(),
		StartedAt: tsFromPB(s.GetStartedAt()), EndedAt: tsFromPB(s.GetEndedAt()), DurationSeconds: s.GetDurationSeconds(),
		Customer: Customer{Name: s.GetCustomer().GetName(), Email: s.GetCustomer().GetEmail()},
		Fields:   s.GetFields(), Resolution: s.GetResolution(), ReplayURL: s.GetReplayUrl()}
	if evs := s.GetEvents(); len(evs) > 0 {
		out.Events = make([]SessionEvent, len(evs))
		for i, e := range evs {
			out.Events[i] = sessionEventFromPB(e)
		}
	}
	if v := s.GetSurvey(); v != nil {
		out.Survey = &Survey{Rating: int(v.GetRating()), Comment: v.GetComment()}
	}
	if r := s.GetRecording(); r != nil {
		out.Recording = &Recording{Size: r.GetSize(), SHA256: r.GetSha256(), URL: r.GetUrl(), Path: r.GetPath()}
	}
	return out
}

func sessionEventFromPB(e *pb.SessionEvent) SessionEvent {
	out := SessionEvent{At: tsFromPB(e.GetAt()), Type: e.GetType(), From: e.GetFrom(), To: e.GetTo(), Text: e.GetText()}
	if f := e.GetFile(); f != nil {
		out.File = &FileInfo{Name: f.GetName(), Size: f.GetSize(), Direction: f.GetDirection()}
	}
	if d := e.GetDiagnostics(); d != nil {
		out.Diagnostics = &Diagnostics{OS: d.GetOs(), Hostname: d.GetHostname(), MemoryMB: d.GetMemoryMb()}
		for _, sw := range d.GetSoftware() {
			out.Diagnostics.Software = append(out.Diagnostics.Software, Software{Name: sw.GetName(), Version: sw.GetVersion()})
		}
	}
	return out
}

func alertToPB(a Alert) *pb.Alert {
	return &pb.Alert{Rule: a.Rule, Status: a.Status, Severity: a.Severity, Labels: a.Labels, Annotations: a.Annotations,
		StartsAt: tsToPB(a.StartsAt), EndsAt: tsToPB(a.EndsAt)}
}

func alertFromPB(a *pb.Alert) Alert {
	return Alert{Rule: a.GetRule(), Status: a.GetStatus(), Severity: a.GetSeverity(), Labels: a.GetLabels(), Annotations: a.GetAnnotations(),
		StartsAt: tsFromPB(a.GetStartsAt()), EndsAt: tsFromPB(a.GetEndsAt())}
}
