package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/acdbridge/acdbridge/plugins/proto/v1"
)

// Serve runs a as an adapter plugin; call it from main. It does not return
// while the bridge holds the plugin. Log with hclog to stderr (Logger gives
// one): the bridge relays it under the adapter's name.
//
// When the bridge stops the plugin, Serve calls a's Close method, if it has
// one (io.Closer), before it returns: the adapter's chance to leave the far
// side in order (remove its SIP publications, log off the AMI). The bridge
// waits about two seconds for the process to exit before it kills it.
func Serve(a Adapter) {
	logger := Logger(a.Info().Name)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{PluginName: &Plugin{Impl: a}},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          logger,
	})
	if c, ok := a.(io.Closer); ok {
		if err := c.Close(); err != nil {
			logger.Warn("close on stop", "error", err)
		}
	}
}

// Logger is the logger an adapter should use: JSON on stderr, which the
// bridge reads and re-logs under the adapter instance's name.
func Logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: os.Stderr, JSONFormat: true, Level: hclog.Trace})
}

// Plugin is the go-plugin wrapper: the adapter side serves Impl, the bridge
// side dispenses a Client.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Adapter // nil on the bridge's side
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the adapter's gRPC service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterAdapterServer(s, &server{impl: p.Impl})
	return nil
}

// GRPCClient gives the bridge its side of the adapter.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &client{c: pb.NewAdapterClient(c)}, nil
}

// Client is the bridge's side of an adapter: every call of the protocol. An
// error is the call itself failing (the process gone, a timeout); an
// item's failure is in its Result.
type Client interface {
	Describe(ctx context.Context) (Info, error)
	Configure(ctx context.Context, s Settings) ([]FieldError, error)
	SetAvailability(ctx context.Context, items []Availability) ([]Result, error)
	Reconcile(ctx context.Context, desired []Availability) ([]Result, error)
	HandleRequest(ctx context.Context, r Request) (Result, error)
	HandleSession(ctx context.Context, s Session) (Result, error)
	HandleAlert(ctx context.Context, a Alert) (Result, error)
	Health(ctx context.Context) (Health, error)
}

// ErrUnsupported is what a call outside the adapter's capabilities returns.
var ErrUnsupported = errors.New("the adapter does not have this capability")

// client is the gRPC client shim.
type client struct{ c pb.AdapterClient }

var _ Client = (*client)(nil)

func callErr(err error) error {
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("%w: %s", ErrUnsupported, status.Convert(err).Message())
	}
	return err
}

func (c *client) Describe(ctx context.Context) (Info, error) {
	r, err := c.c.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Info{}, callErr(err)
	}
	return infoFromPB(r), nil
}

func (c *client) Configure(ctx context.Context, s Settings) ([]FieldError, error) {
	r, err := c.c.Configure(ctx, &pb.ConfigureRequest{Instance: s.Instance, SettingsJson: s.JSON})
	if err != nil {
		return nil, callErr(err)
	}
	var out []FieldError
	for _, e := range r.GetErrors() {
		out = append(out, FieldError{Field: e.GetField(), Message: e.GetMessage()})
	}
	return out, nil
}

func (c *client) SetAvailability(ctx context.Context, items []Availability) ([]Result, error) {
	r, err := c.c.SetAvailability(ctx, &pb.SetAvailabilityRequest{Items: availabilitiesToPB(items)})
	if err != nil {
		return nil, callErr(err)
	}
	return resultsFromPB(r.GetResults(), len(items))
}

func (c *client) Reconcile(ctx context.Context, desired []Availability) ([]Result, error) {
	r, err := c.c.Reconcile(ctx, &pb.ReconcileRequest{Desired: availabilitiesToPB(desired)})
	if err != nil {
		return nil, callErr(err)
	}
	return resultsFromPB(r.GetResults(), len(desired))
}

func (c *client) HandleRequest(ctx context.Context, r Request) (Result, error) {
	resp, err := c.c.HandleRequest(ctx, &pb.HandleRequestRequest{Request: requestToPB(r)})
	return handleResult(resp, err)
}

func (c *client) HandleSession(ctx context.Context, s Session) (Result, error) {
	resp, err := c.c.HandleSession(ctx, &pb.HandleSessionRequest{Session: sessionToPB(s)})
	return handleResult(resp, err)
}

func (c *client) HandleAlert(ctx context.Context, a Alert) (Result, error) {
	resp, err := c.c.HandleAlert(ctx, &pb.HandleAlertRequest{Alert: alertToPB(a)})
	return handleResult(resp, err)
}

func handleResult(r *pb.HandleResponse, err error) (Result, error) {
	if err != nil {
		return Result{}, callErr(err)
	}
	return Result{Outcome: outcomeFromPB(r.GetOutcome()), Message: r.GetMessage(), Reference: r.GetReference()}, nil
}

func (c *client) Health(ctx context.Context) (Health, error) {
	r, err := c.c.Health(ctx, &pb.HealthRequest{})
	if err != nil {
		return Health{}, callErr(err)
	}
	return Health{Status: HealthStatus(r.GetStatus()), Message: r.GetMessage()}, nil
}

// server is the gRPC server shim.
type server struct {
	pb.UnimplementedAdapterServer
	impl Adapter
}

func (s *server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	info := s.impl.Info()
	info.Capabilities = capabilities(s.impl)
	return infoToPB(info), nil
}

func (s *server) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	err := s.impl.Configure(ctx, Settings{Instance: r.GetInstance(), JSON: r.GetSettingsJson()})
	resp := &pb.ConfigureResponse{}
	for _, e := range flatten(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			resp.Errors = append(resp.Errors, &pb.FieldError{Field: fe.Field, Message: fe.Message})
		} else {
			resp.Errors = append(resp.Errors, &pb.FieldError{Message: e.Error()})
		}
	}
	return resp, nil
}

// flatten splits errors.Join'ed errors.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func (s *server) availability() (AvailabilityAdapter, error) {
	a, ok := s.impl.(AvailabilityAdapter)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this adapter has no availability capability")
	}
	return a, nil
}

func (s *server) SetAvailability(ctx context.Context, r *pb.SetAvailabilityRequest) (*pb.SetAvailabilityResponse, error) {
	a, err := s.availability()
	if err != nil {
		return nil, err
	}
	items := availabilitiesFromPB(r.GetItems())
	return &pb.SetAvailabilityResponse{Results: resultsToPB(complete(a.SetAvailability(ctx, items), items))}, nil
}

func (s *server) Reconcile(ctx context.Context, r *pb.ReconcileRequest) (*pb.ReconcileResponse, error) {
	a, err := s.availability()
	if err != nil {
		return nil, err
	}
	items := availabilitiesFromPB(r.GetDesired())
	return &pb.ReconcileResponse{Results: resultsToPB(complete(a.Reconcile(ctx, items), items))}, nil
}

// complete makes sure there is one result per item: an adapter that returns
// too few has failed the missing ones, worth a retry.
func complete(rs []Result, items []Availability) []Result {
	for i := len(rs); i < len(items); i++ {
		rs = append(rs, Result{AgentID: items[i].AgentID, Version: items[i].Version, Outcome: Retryable, Message: "the adapter returned no result for this item"})
	}
	return rs[:len(items)]
}

func (s *server) HandleRequest(ctx context.Context, r *pb.HandleRequestRequest) (*pb.HandleResponse, error) {
	a, ok := s.impl.(RequestAdapter)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this adapter has no requests capability")
	}
	return handleToPB(a.HandleRequest(ctx, requestFromPB(r.GetRequest()))), nil
}

func (s *server) HandleSession(ctx context.Context, r *pb.HandleSessionRequest) (*pb.HandleResponse, error) {
	a, ok := s.impl.(SessionAdapter)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this adapter has no sessions capability")
	}
	return handleToPB(a.HandleSession(ctx, sessionFromPB(r.GetSession()))), nil
}

func (s *server) HandleAlert(ctx context.Context, r *pb.HandleAlertRequest) (*pb.HandleResponse, error) {
	a, ok := s.impl.(AlertAdapter)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this adapter has no alerts capability")
	}
	return handleToPB(a.HandleAlert(ctx, alertFromPB(r.GetAlert()))), nil
}

func (s *server) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	h := s.impl.Health(ctx)
	return &pb.HealthResponse{Status: pb.HealthStatus(h.Status), Message: h.Message}, nil
}
