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
	return &pb.Session{Id: s.ID, RequestId: s.RequestID, AgentId: s.AgentID, Queue: s.Queue, ExternalRef: s.ExternalRef,
		StartedAt: tsToPB(s.StartedAt), EndedAt: tsToPB(s.EndedAt), DurationSeconds: s.DurationSeconds}
}

func sessionFromPB(s *pb.Session) Session {
	return Session{ID: s.GetId(), RequestID: s.GetRequestId(), AgentID: s.GetAgentId(), Queue: s.GetQueue(), ExternalRef: s.GetExternalRef(),
		StartedAt: tsFromPB(s.GetStartedAt()), EndedAt: tsFromPB(s.GetEndedAt()), DurationSeconds: s.GetDurationSeconds()}
}

func alertToPB(a Alert) *pb.Alert {
	return &pb.Alert{Rule: a.Rule, Status: a.Status, Severity: a.Severity, Labels: a.Labels, Annotations: a.Annotations,
		StartsAt: tsToPB(a.StartsAt), EndsAt: tsToPB(a.EndsAt)}
}

func alertFromPB(a *pb.Alert) Alert {
	return Alert{Rule: a.GetRule(), Status: a.GetStatus(), Severity: a.GetSeverity(), Labels: a.GetLabels(), Annotations: a.GetAnnotations(),
		StartsAt: tsFromPB(a.GetStartsAt()), EndsAt: tsFromPB(a.GetEndsAt())}
}
