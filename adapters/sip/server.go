package sip

import (
	"context"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

type presenceServer struct{}

func newPresenceServer(ctx context.Context, a *Adapter, cfg settingsOf) (*presenceServer, error) {
	return nil, errNotConfigured
}

func (s *presenceServer) set(it sdk.Availability) sdk.Result { return sdk.Result{} }
func (s *presenceServer) close()                             {}
