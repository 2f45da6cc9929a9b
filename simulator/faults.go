package simulator

import (
	"context"
	"net/http"
)

type fault uint8

const (
	faultNone fault = iota
	faultError
	faultMalformed
	faultErrorBody
)

func (s *Server) currentFaults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults
}

// roll draws the fault, if any, that one call suffers.
func (s *Server) roll(f Faults) fault {
	if f.ErrorRate == 0 && f.MalformedRate == 0 && f.ErrorBodyRate == 0 {
		return faultNone
	}
	s.faultMu.Lock()
	x := s.frng.Float64()
	s.faultMu.Unlock()
	switch {
	case x < f.ErrorRate:
		return faultError
	case x < f.ErrorRate+f.MalformedRate:
		return faultMalformed
	case x < f.ErrorRate+f.MalformedRate+f.ErrorBodyRate:
		return faultErrorBody
	}
	return faultNone
}

// dropStream draws whether the stream is cut before its next event.
func (s *Server) dropStream(rate float64) bool {
	if rate == 0 {
		return false
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.frng.Float64() < rate
}

func contextWithFault(r *http.Request, f fault) context.Context {
	return context.WithValue(r.Context(), faultKey{}, f)
}

func faultOf(r *http.Request) fault {
	f, _ := r.Context().Value(faultKey{}).(fault)
	return f
}
