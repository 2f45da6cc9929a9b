package bus_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acdbridge/acdbridge/bridge/bus"
)

// The bodies between "doc:begin" and "doc:end" are shown in docs/events.md
// word for word; TestEventsDoc keeps them in step. They compile here; they
// need a running bridge to run.

func Example_subscribe() {
	// doc:begin subscribe
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Drain()

	// Live changes of desired availability, for every agent.
	_, err = nc.Subscribe("acdbridge.availability.*", func(m *nats.Msg) {
		d, err := bus.DecodeAvailability(m.Data)
		if err != nil {
			log.Printf("%s: %v", m.Subject, err)
			return
		}
		fmt.Printf("%s available=%t reason=%q version=%d\n", d.AgentID, d.Available, d.Reason, d.Version)
	})
	if err != nil {
		log.Fatal(err)
	}
	// doc:end
	select {}
}

func Example_keyValue() {
	ctx := context.Background()
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Drain()
	// doc:begin kv
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	queues, err := js.KeyValue(ctx, "queues")
	if err != nil {
		log.Fatal(err)
	}
	// One queue's last status: the key is the escaped queue id.
	e, err := queues.Get(ctx, bus.Token("support/printers"))
	if err != nil {
		log.Fatal(err)
	}
	q, err := bus.DecodeQueue(e.Value())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d waiting, longest %s\n", q.ID, q.Waiting, q.LongestWaitAt(time.Now()))

	// Every queue's status, then every change. A nil entry marks the end
	// of the current values; a deleted queue comes as a KeyValueDelete.
	w, err := queues.WatchAll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil || e.Operation() != jetstream.KeyValuePut {
			continue
		}
		if q, err := bus.DecodeQueue(e.Value()); err == nil {
			fmt.Printf("%s: %d waiting\n", q.ID, q.Waiting)
		}
	}
	// doc:end
}

func Example_events() {
	ctx := context.Background()
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	// doc:begin events
	// Ended sessions of the last 24 hours, then new ones as they end.
	// An ordered consumer is ephemeral and keeps nothing on the server.
	since := time.Now().Add(-24 * time.Hour)
	c, err := js.OrderedConsumer(ctx, "EVENTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"acdbridge.session.>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	})
	if err != nil {
		log.Fatal(err)
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		s, err := bus.DecodeSession(m.Data())
		if err != nil {
			log.Printf("%s: %v", m.Subject(), err)
			return
		}
		fmt.Printf("session %s in %s by %s: %.0fs\n", s.ID, s.Queue, s.AgentID, s.DurationSeconds)
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Stop()
	// doc:end
	select {}
}
