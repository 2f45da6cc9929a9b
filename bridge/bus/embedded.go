package bus

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
)

// startTimeout bounds the embedded server's start when ctx has no
// deadline; recovering a large JetStream store takes a while.
const startTimeout = 2 * time.Minute

// startEmbedded runs a NATS server with JetStream inside this process,
// listening on a loopback address only (or not at all), and returns once it
// takes connections.
func startEmbedded(ctx context.Context, cfg Config, logger hclog.Logger) (*server.Server, error) {
	host, port, err := parseListen(cfg.Listen)
	if err != nil {
		return nil, err
	}
	storeDir := filepath.Join(cfg.DataDir, "nats")
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded NATS server: create its store folder: %w", err)
	}
	opts := &server.Options{
		ServerName:             "acdbridge",
		Host:                   host,
		Port:                   port,
		DontListen:             cfg.Listen == NoListener,
		JetStream:              true,
		StoreDir:               storeDir,
		NoSigs:                 true, // signals belong to the bridge, not to its bus
		DisableJetStreamBanner: true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	sl := &serverLogger{log: logger, fatal: make(chan string, 1)}
	// Debug output only at trace level; the server's protocol trace never:
	// it would print message payloads, with customers' names and emails.
	srv.SetLoggerV2(sl, logger.IsTrace(), false, false)
	go srv.Start()

	stop := func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
	where := cfg.Listen
	if where == NoListener {
		where = "no listener"
	}
	deadline := time.Now().Add(startTimeout)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		select {
		case msg := <-sl.fatal:
			stop()
			return nil, fmt.Errorf("start embedded NATS server (%s, store %s): %s; is another acdbridge or nats-server using it? set bus.listen, or bus.url for an external server", where, storeDir, msg)
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("start embedded NATS server: %w", ctx.Err())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("start embedded NATS server (%s, store %s): not ready after %s", where, storeDir, startTimeout)
		}
	}
	return srv, nil
}

// serverLogger relays the embedded server's log through hclog. Its notices
// (version, store, listening, ready) go to debug: the bus logs one line of
// its own at info. A fatal error does not exit the process, as the
// server's own logger would; startEmbedded reports it.
type serverLogger struct {
	log   hclog.Logger
	fatal chan string
}

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Trace(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.log.Trace(fmt.Sprintf(format, v...)) }

func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
	select {
	case l.fatal <- msg:
	default: // the first one is what startEmbedded reports
	}
}
