package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	sse "github.com/tmaxmax/go-sse"
)

// streamMsg is what a stream connection tells the run loop: that it is
// open, one event, or (last) why it ended.
type streamMsg struct {
	connected bool
	event     *rawEvent
	end       error // non-nil on the last message
}

// rawEvent is one stream event as read, decoded but not yet checked
// against the client's sequence.
type rawEvent struct {
	name     string // the event: field as sent
	id       string // the last id: seen on this connection (go-sse's LastEventID)
	received time.Time
	ev       event
	err      error // a *PayloadError when the data broke the contract
}

var (
	errConnectTimeout = errors.New("connect timeout")
	errIdleTimeout    = errors.New("idle timeout")
)

// idleReader restarts a watchdog on every read, so that a stream that goes
// silent (not even a heartbeat) is closed instead of hanging for ever.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.idle)
	}
	return n, err
}

// runStream reads the stream from the resume point after until it ends
// or ctx ends, sending what it reads on ch. Its last message says why it
// ended, unless ctx ended first.
func (c *Client) runStream(ctx context.Context, after uint64, ch chan<- streamMsg) {
	err := c.readStream(ctx, after, ch)
	if ctx.Err() != nil {
		return
	}
	select {
	case ch <- streamMsg{end: err}:
	case <-ctx.Done():
	}
}

func (c *Client) readStream(ctx context.Context, after uint64, ch chan<- streamMsg) error {
	if err := c.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("GET %s: wait for the rate limit: %w", pathStream, err)
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// One watchdog: Timeout until the headers come, then StreamIdleTimeout
	// between reads.
	watchdog := time.AfterFunc(c.cfg.Timeout, func() { cancel(errConnectTimeout) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(rctx, http.MethodGet, c.streamURL, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", pathStream, err)
	}
	c.setHeaders(req, "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("Last-Event-ID", strconv.FormatUint(after, 10))
	start := time.Now()
	resp, err := c.cfg.HTTPClient.Do(req)
	c.m.duration.WithLabelValues(endpointStream).Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.requests.WithLabelValues(endpointStream, "error").Inc()
		if errors.Is(context.Cause(rctx), errConnectTimeout) {
			return fmt.Errorf("GET %s: the source did not answer within %s (Timeout): %w", pathStream, c.cfg.Timeout, err)
		}
		return fmt.Errorf("GET %s: %w", pathStream, err)
	}
	defer resp.Body.Close()
	c.m.requests.WithLabelValues(endpointStream, strconv.Itoa(resp.StatusCode)).Inc()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return statusError(pathStream, resp, body)
	}
	if ct := resp.Header.Get("Content-Type"); !isEventStream(ct) {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // bounded by the watchdog
		perr := checkContentType(ct, "text/event-stream", body)
		perr.Where = "GET " + pathStream
		return perr
	}
	if !watchdog.Stop() {
		return fmt.Errorf("GET %s: the source did not answer within %s (Timeout)", pathStream, c.cfg.Timeout)
	}
	watchdog = time.AfterFunc(c.cfg.StreamIdleTimeout, func() { cancel(errIdleTimeout) })
	defer watchdog.Stop()

	select {
	case ch <- streamMsg{connected: true}:
	case <-ctx.Done():
		return ctx.Err()
	}
	body := &idleReader{r: resp.Body, timer: watchdog, idle: c.cfg.StreamIdleTimeout}
	for ev, err := range sse.Read(body, &sse.ReadConfig{MaxEventSize: c.maxPayload}) {
		if err != nil {
			return c.streamReadError(rctx, err)
		}
		decoded, derr := decodeEvent(ev.Type, ev.Data)
		raw := &rawEvent{name: ev.Type, id: ev.LastEventID, received: time.Now(), ev: decoded, err: derr}
		select {
		case ch <- streamMsg{event: raw}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if errors.Is(context.Cause(rctx), errIdleTimeout) {
		return c.streamReadError(rctx, context.Canceled)
	}
	return fmt.Errorf("GET %s: the source closed the stream", pathStream)
}

func (c *Client) streamReadError(rctx context.Context, err error) error {
	switch {
	case errors.Is(context.Cause(rctx), errIdleTimeout):
		return fmt.Errorf("GET %s: nothing received for %s, not even a heartbeat (StreamIdleTimeout)", pathStream, c.cfg.StreamIdleTimeout)
	case errors.Is(err, bufio.ErrTooLong):
		return &PayloadError{Kind: KindTooLarge, Where: "GET " + pathStream, Err: fmt.Errorf("expected events of at most %d bytes, got a longer one: %w", c.maxPayload, err)}
	}
	return fmt.Errorf("GET %s: read the stream: %w", pathStream, err)
}

func isEventStream(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "text/event-stream"
}
