package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acdbridge/acdbridge/bridge/availability"
	"github.com/acdbridge/acdbridge/monitors"
)

const (
	// connectTimeout bounds connecting when ctx has no earlier deadline.
	connectTimeout = 5 * time.Second
	// drainTimeout bounds Close's wait for in-flight messages.
	drainTimeout = 10 * time.Second
)

// Bus is the bridge's connection to NATS, with the embedded server when it
// runs one. Its methods are safe for concurrent use.
type Bus struct {
	cfg    Config
	logger hclog.Logger
	srv    *server.Server // nil with an external server
	nc     *nats.Conn
	js     jetstream.JetStream

	agents, queues, availability jetstream.KeyValue

	connClosed chan struct{} // closed by the connection's ClosedHandler
	closeOnce  sync.Once
	closeErr   error
}

// bucket is one KV bucket and the subject kind it republishes on.
type bucket struct {
	name, kind, about string
	kv                *jetstream.KeyValue
}

func (b *Bus) buckets() []bucket {
	return []bucket{
		{BucketAgents, KindAgent, "acdbridge: agent status as last seen, per agent", &b.agents},
		{BucketQueues, KindQueue, "acdbridge: queue status, per queue", &b.queues},
		{BucketAvailability, KindAvailability, "acdbridge: desired availability, per agent", &b.availability},
	}
}

// Open starts the embedded server when cfg.URL is empty, connects, and
// creates or updates the KV buckets and the EVENTS stream.
func Open(ctx context.Context, cfg Config, logger hclog.Logger) (*Bus, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &Bus{cfg: cfg, logger: logger.Named("bus"), connClosed: make(chan struct{})}

	var closedOnce sync.Once
	opts := []nats.Option{
		nats.Name("acdbridge"),
		nats.MaxReconnects(-1), // the bridge outlives a server restart
		nats.DrainTimeout(drainTimeout),
		nats.ClosedHandler(func(*nats.Conn) { closedOnce.Do(func() { close(b.connClosed) }) }),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				b.logger.Warn("disconnected from NATS", "url", nc.ConnectedUrlRedacted(), "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.logger.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				b.logger.Error("NATS subscription error", "subject", sub.Subject, "error", err)
				return
			}
			b.logger.Error("NATS error", "error", err)
		}),
	}
	where := redactURLs(cfg.URL)
	if cfg.URL == "" {
		srv, err := startEmbedded(ctx, cfg, b.logger.Named("server"))
		if err != nil {
			return nil, err
		}
		b.srv = srv
		// The bridge reaches its own server through a pipe: no port to
		// find, no TCP on the hot path.
		opts = append(opts, nats.InProcessServer(srv))
		where = "the embedded NATS server"
	} else {
		opts = append(opts, cfg.ClientOptions()...)
	}

	nc, err := connect(ctx, cfg.URL, opts)
	if err != nil {
		b.shutdownServer()
		if cfg.URL == "" {
			return nil, fmt.Errorf("connect to %s: %w", where, err)
		}
		return nil, fmt.Errorf("connect to %s: %w; is the server running? set bus.url", where, err)
	}
	b.nc = nc
	if err := b.setup(ctx, where); err != nil {
		_ = b.Close()
		return nil, err
	}
	if b.srv != nil {
		b.logger.Info("embedded NATS server ready", "client_url", b.ClientURL(), "store", b.srv.StoreDir())
	} else {
		b.logger.Info("connected to NATS", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName())
	}
	return b, nil
}

// connect is nats.Connect bounded by ctx.
func connect(ctx context.Context, url string, opts []nats.Option) (*nats.Conn, error) {
	timeout := connectTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Millisecond))
	}
	opts = append(opts[:len(opts):len(opts)], nats.Timeout(timeout), nats.RetryOnFailedConnect(false))
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(url, opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		return r.nc, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// setup creates or updates the buckets and the stream.
func (b *Bus) setup(ctx context.Context, where string) error {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return fmt.Errorf("JetStream on %s: %w", where, err)
	}
	b.js = js
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return fmt.Errorf("JetStream on %s: %w; expected it enabled (nats-server --jetstream, and for the account in bus.creds_file)", where, err)
		}
		return fmt.Errorf("JetStream on %s: %w", where, err)
	}
	for _, k := range b.buckets() {
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      k.name,
			Description: k.about,
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    b.cfg.Replicas,
			// One Put stores the value and publishes it on the design's
			// subject: $KV.agents.<token> becomes acdbridge.agent.<token>.
			RePublish: &jetstream.RePublish{
				Source:      "$KV." + k.name + ".>",
				Destination: SubjectPrefix + "." + k.kind + ".>",
			},
		})
		if err != nil {
			return fmt.Errorf("create or update KV bucket %q on %s: %w", k.name, where, err)
		}
		*k.kv = kv
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamEvents,
		Description: "acdbridge: customer requests, ended sessions, alerts",
		Subjects: []string{
			SubjectPrefix + "." + KindRequest + ".>",
			SubjectPrefix + "." + KindSession + ".>",
			SubjectPrefix + "." + KindAlert + ".>",
		},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		MaxAge:     b.cfg.MaxAge,
		Duplicates: min(dedupWindow, b.cfg.MaxAge),
		Replicas:   b.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("create or update stream %s on %s: %w", StreamEvents, where, err)
	}
	return nil
}

// ClientURL is where outside programs connect: the embedded server's
// listener ("" when it has none), or the configured URL, which may carry a
// user and password: do not log it.
func (b *Bus) ClientURL() string {
	if b.srv == nil {
		return b.cfg.URL
	}
	if b.cfg.Listen == NoListener {
		return ""
	}
	return b.srv.ClientURL()
}

// RedactedURL is ClientURL with any user and password hidden, for logs and
// the console.
func (b *Bus) RedactedURL() string { return redactURLs(b.ClientURL()) }

// Close drains the connection, so that what was published is delivered,
// then shuts the embedded server down and waits for it.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		if b.nc != nil {
			if err := b.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				b.closeErr = fmt.Errorf("drain NATS connection: %w", err)
				b.nc.Close()
			}
			select {
			case <-b.connClosed:
			case <-time.After(drainTimeout + time.Second):
				b.nc.Close()
				b.closeErr = fmt.Errorf("drain NATS connection: not done after %s", drainTimeout)
			}
		}
		b.shutdownServer()
	})
	return b.closeErr
}

func (b *Bus) shutdownServer() {
	if b.srv == nil {
		return
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	b.logger.Debug("embedded NATS server stopped")
}

// PutAgent stores an agent's status in KV bucket "agents"; it is
// republished on acdbridge.agent.<agent>.
func (b *Bus) PutAgent(ctx context.Context, a monitors.Agent) error {
	return put(ctx, b.agents, a.ID, EncodeAgent, a)
}

// DeleteAgent removes an agent from KV bucket "agents"; subscribers see an
// empty message with the header KV-Operation: DEL on its subject.
func (b *Bus) DeleteAgent(ctx context.Context, id string) error {
	return b.delete(ctx, b.agents, id)
}

// PutQueue stores a queue's status in KV bucket "queues"; it is
// republished on acdbridge.queue.<queue>.
func (b *Bus) PutQueue(ctx context.Context, q monitors.Queue) error {
	return put(ctx, b.queues, q.ID, EncodeQueue, q)
}

// DeleteQueue removes a queue from KV bucket "queues".
func (b *Bus) DeleteQueue(ctx context.Context, id string) error {
	return b.delete(ctx, b.queues, id)
}

// PutAvailability stores an agent's desired availability in KV bucket
// "availability"; it is republished on acdbridge.availability.<agent>.
func (b *Bus) PutAvailability(ctx context.Context, d availability.Desired) error {
	return put(ctx, b.availability, d.AgentID, EncodeAvailability, d)
}

// put stores v, encoded, under id in kv.
func put[T any](ctx context.Context, kv jetstream.KeyValue, id string, encode func(T) ([]byte, error), v T) error {
	data, err := encode(v)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, Token(id), data); err != nil {
		return fmt.Errorf("put %q in KV bucket %q: %w", id, kv.Bucket(), err)
	}
	return nil
}

func (b *Bus) delete(ctx context.Context, kv jetstream.KeyValue, id string) error {
	if id == "" {
		return fmt.Errorf("delete from KV bucket %q: empty id: expected the id to delete", kv.Bucket())
	}
	if err := kv.Delete(ctx, Token(id)); err != nil {
		return fmt.Errorf("delete %q from KV bucket %q: %w", id, kv.Bucket(), err)
	}
	return nil
}

// Availability reads every agent's desired availability from KV bucket
// "availability", keyed by agent id: after a restart, versions continue
// from there.
func (b *Bus) Availability(ctx context.Context) (map[string]availability.Desired, error) {
	w, err := b.availability.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read KV bucket %q: %w", BucketAvailability, err)
	}
	defer func() {
		_ = w.Stop()
		// The watcher blocks on a full channel; let it run to its end.
		go func() {
			for range w.Updates() {
			}
		}()
	}()
	out := map[string]availability.Desired{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("read KV bucket %q: the watch ended before the last key", BucketAvailability)
			}
			if e == nil { // every key has been delivered
				return out, nil
			}
			d, err := DecodeAvailability(e.Value())
			if err != nil {
				return nil, fmt.Errorf("read KV bucket %q, key %q: %w", BucketAvailability, e.Key(), err)
			}
			if tok := Token(d.AgentID); tok != e.Key() {
				return nil, fmt.Errorf("read KV bucket %q, key %q: holds agent %q: expected key %q", BucketAvailability, e.Key(), d.AgentID, tok)
			}
			out[d.AgentID] = d
		case <-ctx.Done():
			return nil, fmt.Errorf("read KV bucket %q: %w", BucketAvailability, ctx.Err())
		}
	}
}

// PublishRequest publishes a customer request on acdbridge.request.<queue>
// into stream EVENTS, with the message id "request-<id>-<status>" (both
// escaped with Token): the same request in the same status is kept once.
func (b *Bus) PublishRequest(ctx context.Context, r monitors.Request) error {
	data, err := EncodeRequest(r)
	if err != nil {
		return err
	}
	return b.publish(ctx, RequestSubject(r.Queue), "request-"+Token(r.ID)+"-"+Token(r.Status), data)
}

// PublishSession publishes an ended session's summary on
// acdbridge.session.<queue> into stream EVENTS, with the message id
// "session-<id>": a session is kept once.
func (b *Bus) PublishSession(ctx context.Context, s monitors.SessionSummary) error {
	return b.PublishSessionMsg(ctx, NewSessionMsg(s))
}

// PublishSessionMsg publishes an ended session with whatever of its whole
// record m carries. A session is stored once (its id is the message id),
// summary or record, whichever comes first.
func (b *Bus) PublishSessionMsg(ctx context.Context, m SessionMsg) error {
	data, err := EncodeSessionMsg(m)
	if err != nil {
		return err
	}
	return b.publish(ctx, SessionSubject(m.Queue), "session-"+Token(m.ID), data)
}

func (b *Bus) publish(ctx context.Context, subject, msgID string, data []byte) error {
	ack, err := b.js.Publish(ctx, subject, data, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(StreamEvents))
	if err != nil {
		return fmt.Errorf("publish %s (id %s) into stream %s: %w", subject, msgID, StreamEvents, err)
	}
	if ack.Duplicate {
		b.logger.Debug("duplicate not stored again", "subject", subject, "msg_id", msgID)
	}
	return nil
}

// Ready says whether the connection to NATS is up, for /readyz.
func (b *Bus) Ready() error {
	if st := b.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("NATS connection is %s", st)
	}
	return nil
}
