package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// streamBatch is how many events a client is sent between flushes.
const streamBatch = 512

// getStream serves server-sent events. A client resumes with Last-Event-ID
// (or ?last_event_id=); one whose resume point is gone gets a reset with the
// whole state. Each client reads the engine's ring at its own pace, with a
// write deadline: one that falls too far behind or stops reading is dropped,
// with a reason, and never slows anyone else.
func (s *Server) getStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id")
	}
	after, reset := s.e.resume(lastID)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	log := s.log.With("remote", r.RemoteAddr)
	write := func(id uint64, name string, data any) bool {
		b, err := json.Marshal(data)
		if err != nil {
			log.Error("stream: encode event", "event", name, "error", err)
			return false
		}
		_ = rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		var head string
		if id > 0 {
			head = "id: " + strconv.FormatUint(id, 10) + "\n"
		}
		if _, err := fmt.Fprintf(w, "%sevent: %s\ndata: %s\n\n", head, name, b); err != nil {
			log.Info("stream: dropping client that cannot take writes", "error", err)
			return false
		}
		return true
	}
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		if err := rc.Flush(); err != nil {
			log.Info("stream: dropping client that cannot take writes", "error", err)
			return false
		}
		return true
	}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if reset != nil {
		log.Info("stream: client gets a reset", "reason", reset.Reason)
		if !write(reset.Sequence, evReset, reset) {
			return
		}
	}
	if !flush() {
		return
	}
	hb := time.NewTicker(s.opts.Heartbeat)
	defer hb.Stop()
	buf := make([]streamEvent, 0, streamBatch)
	for {
		var ok bool
		var wait <-chan struct{}
		buf, ok, wait = s.e.stream.read(buf[:0], after, streamBatch)
		if !ok {
			reason := fmt.Sprintf("client fell more than %d events behind; reconnect with Last-Event-ID to get a reset", len(s.e.stream.buf))
			log.Warn("stream: dropping slow client", "after", after)
			write(0, evDropped, map[string]string{"reason": reason})
			flush()
			return
		}
		drop := s.currentFaults().StreamDropRate
		for _, ev := range buf {
			if s.dropStream(drop) {
				log.Debug("stream: injected fault: dropping the stream")
				flush()
				return
			}
			if !write(ev.seq, ev.name, ev.data) {
				return
			}
			after = ev.seq
		}
		if len(buf) > 0 {
			if !flush() {
				return
			}
			if len(buf) == streamBatch {
				continue
			}
		}
		select {
		case <-wait:
		case <-hb.C:
			if s.dropStream(s.currentFaults().StreamDropRate) {
				log.Debug("stream: injected fault: dropping the stream")
				return
			}
			if !write(0, evHeartbeat, HeartbeatJSON{Sequence: s.e.stream.sequence(), AsOf: s.e.clock.Now().UTC()}) || !flush() {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}
