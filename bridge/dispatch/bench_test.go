package dispatch

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/plugins/host"
	pb "github.com/acdbridge/acdbridge/plugins/proto/v1"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// The benchmark's plugin processes are this test binary, asked through the
// environment to serve one of two adapters.
func TestMain(m *testing.M) {
	switch os.Getenv("ACDBRIDGE_BENCH_SERVE") {
	case "sdk":
		sdk.Serve(&nullAdapter{applied: map[string]uint64{}})
		os.Exit(0)
	case "echo":
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: sdk.Handshake,
			Plugins:         plugin.PluginSet{sdk.PluginName: &echoPlugin{}},
			GRPCServer:      plugin.DefaultGRPCServer,
			Logger:          hclog.NewNullLogger(),
		})
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// nullAdapter is a real SDK adapter that keeps versions and does nothing
// else: the cost of the SDK and its conversions, nothing of an ACD.
type nullAdapter struct{ applied map[string]uint64 }

func (a *nullAdapter) Info() sdk.Info                                { return sdk.Info{Name: "null", Version: "1"} }
func (a *nullAdapter) Configure(context.Context, sdk.Settings) error { return nil }
func (a *nullAdapter) Health(context.Context) sdk.Health             { return sdk.Health{Status: sdk.Up} }
func (a *nullAdapter) SetAvailability(_ context.Context, items []sdk.Availability) []sdk.Result {
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		out[i] = sdk.Result{AgentID: it.AgentID, Version: it.Version, Outcome: sdk.Ignored}
		if it.Version > a.applied[it.AgentID] {
			a.applied[it.AgentID] = it.Version
			out[i].Outcome = sdk.Applied
		}
	}
	return out
}
func (a *nullAdapter) Reconcile(ctx context.Context, d []sdk.Availability) []sdk.Result {
	return a.SetAvailability(ctx, d)
}

// echoPlugin serves the protocol bare: it answers each item applied
// straight from the protobuf messages, without the SDK.
type echoPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (echoPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterAdapterServer(s, echoServer{})
	return nil
}

func (echoPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("server side only")
}

type echoServer struct{ pb.UnimplementedAdapterServer }

func echo(items []*pb.Availability) []*pb.Result {
	out := make([]*pb.Result, len(items))
	for i, it := range items {
		out[i] = &pb.Result{AgentId: it.GetAgentId(), Version: it.GetVersion(), Outcome: pb.Outcome_OUTCOME_APPLIED}
	}
	return out
}

func (echoServer) SetAvailability(_ context.Context, r *pb.SetAvailabilityRequest) (*pb.SetAvailabilityResponse, error) {
	return &pb.SetAvailabilityResponse{Results: echo(r.GetItems())}, nil
}

func (echoServer) Reconcile(_ context.Context, r *pb.ReconcileRequest) (*pb.ReconcileResponse, error) {
	return &pb.ReconcileResponse{Results: echo(r.GetDesired())}, nil
}

func (echoServer) Health(context.Context, *pb.HealthRequest) (*pb.HealthResponse, error) {
	return &pb.HealthResponse{Status: pb.HealthStatus_HEALTH_STATUS_UP}, nil
}

// BenchmarkPluginThroughput sends availability changes through a dispatch
// worker (batches of up to 500) to a real plugin process: once an SDK
// adapter, once a bare gRPC echo of the same protocol, in the same run. Each
// iteration is one change for an agent of its own, so nothing is coalesced:
// every change crosses the process boundary and is confirmed.
func BenchmarkPluginThroughput(b *testing.B) {
	for _, kind := range []string{"sdk", "echo"} {
		b.Run(kind, func(b *testing.B) {
			p, err := host.Launch(context.Background(), host.Source{Type: kind, Path: os.Args[0], Env: []string{"ACDBRIDGE_BENCH_SERVE=" + kind}}, hclog.NewNullLogger())
			if err != nil {
				b.Fatal(err)
			}
			defer p.Kill()
			w, err := NewWorker(Options{Name: kind, Desired: func() map[string]availability.Desired { return nil }, Metrics: NewMetrics(prometheus.NewRegistry())})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go w.Serve(ctx, p)
			changes := make([]availability.Desired, b.N)
			now := time.Now()
			for i := range changes {
				changes[i] = availability.Desired{AgentID: fmt.Sprintf("a-%07d", i), Version: 1, Available: i%2 == 0, State: "in_session", Reason: "remote-support", Since: now}
			}
			b.ResetTimer()
			start := time.Now()
			for _, d := range changes {
				w.Offer(d)
			}
			for testutil.ToFloat64(w.m.applied) < float64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "changes/s")
		})
	}
}
