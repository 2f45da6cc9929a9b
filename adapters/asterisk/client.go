package asterisk

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/link"
)

// ActionError is Asterisk's "Response: Error" to an action: the action was
// understood and refused, so sending it again will not help.
type ActionError struct {
	Action  string
	Message string
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("Asterisk refused %s: %s", e.Action, e.Message)
}

// AuthError is a refused Login: wrong username or secret, or a user not
// permitted from this address.
type AuthError struct {
	Username, Address, Message string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("AMI login as %q at %s refused (%q): expected the username and secret of a [%s] user in manager.conf, with permit covering this host", e.Username, e.Address, e.Message, e.Username)
}

// conn is one logged-in AMI connection. Several actions may be in flight;
// each response (and the events of its list) finds its caller by ActionID.
// Events that belong to no pending action are dropped.
type conn struct {
	c      net.Conn
	nextID func() string

	wmu sync.Mutex // one writer at a time

	link.Ending // its Mu guards pending too
	pending     map[string]*call
}

// call is one action waiting for its answer.
type call struct {
	action string
	resp   Message
	events []Message
	done   chan struct{}
}

// dial connects, reads the banner and logs in with Events: off: with the
// plain secret, or with md5 an MD5 challenge, so that the secret never
// crosses the network.
func dial(ctx context.Context, addr, username, secret, auth string, timeout time.Duration, nextID func() string) (*conn, string, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("connecting to AMI at %s: %w", addr, err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(nc)
	version, err := ReadBanner(r)
	if err != nil {
		nc.Close()
		return nil, "", fmt.Errorf("AMI at %s: %w", addr, err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	c := &conn{c: nc, nextID: nextID, pending: map[string]*call{}}
	go c.read(r)
	login := Message{{"Action", "Login"}, {"Username", username}, {"Secret", secret}, {"Events", "off"}}
	if auth == AuthMD5 {
		resp, _, err := c.do(ctx, Message{{"Action", "Challenge"}, {"AuthType", "MD5"}}, timeout)
		if err != nil || resp.Get("Challenge") == "" {
			if err == nil {
				err = errors.New("expected a Challenge header in the answer, got none")
			}
			c.close(err)
			return nil, "", fmt.Errorf("MD5 challenge from AMI at %s: %w", addr, err)
		}
		sum := md5.Sum([]byte(resp.Get("Challenge") + secret))
		login = Message{{"Action", "Login"}, {"AuthType", "MD5"}, {"Username", username}, {"Key", hex.EncodeToString(sum[:])}, {"Events", "off"}}
	}
	_, _, err = c.do(ctx, login, timeout)
	if err != nil {
		c.close(err)
		var ae *ActionError
		if errors.As(err, &ae) {
			return nil, "", &AuthError{Username: username, Address: addr, Message: ae.Message}
		}
		return nil, "", fmt.Errorf("logging in to AMI at %s: %w", addr, err)
	}
	return c, version, nil
}

// close ends the connection; pending and later actions fail with err.
func (c *conn) close(err error) {
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if !c.EndLocked(err) {
		return
	}
	c.c.Close()
	for id, cl := range c.pending {
		delete(c.pending, id)
		close(cl.done)
	}
}

func (c *conn) read(r *bufio.Reader) {
	for {
		m, err := ReadMessage(r)
		if err != nil {
			c.close(fmt.Errorf("the AMI connection ended: %w", err))
			return
		}
		c.dispatch(m)
	}
}

// dispatch hands m to the action whose ActionID it carries.
func (c *conn) dispatch(m Message) {
	c.Mu.Lock()
	defer c.Mu.Unlock()
	id := m.Get("ActionID")
	cl := c.pending[id]
	if cl == nil {
		return // an event for no one: Events: off does not silence all
	}
	finished := false
	if _, isResp := m.Lookup("Response"); isResp && cl.resp == nil {
		cl.resp = m
		// A list follows "EventList: start" (and only a successful one).
		finished = !strings.EqualFold(m.Get("EventList"), "start")
	} else if _, isEvent := m.Lookup("Event"); isEvent && cl.resp != nil {
		if strings.EqualFold(m.Get("EventList"), "Complete") {
			finished = true
		} else {
			cl.events = append(cl.events, m)
		}
	}
	if finished {
		delete(c.pending, id)
		close(cl.done)
	}
}

// do sends action with a fresh ActionID and waits up to timeout for its
// response and, for a list, its events. A "Response: Error" is an
// *ActionError.
func (c *conn) do(ctx context.Context, action Message, timeout time.Duration) (Message, []Message, error) {
	id := c.nextID()
	name := action.Get("Action")
	msg := append(Message{action[0], {"ActionID", id}}, action[1:]...)
	cl := &call{action: name, done: make(chan struct{})}
	c.Mu.Lock()
	if err := c.ClosedLocked(); err != nil {
		c.Mu.Unlock()
		return nil, nil, err
	}
	c.pending[id] = cl
	c.Mu.Unlock()

	c.wmu.Lock()
	_ = c.c.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.c.Write(msg.Bytes())
	c.wmu.Unlock()
	if err != nil {
		err = fmt.Errorf("sending %s: %w", name, err)
		c.close(err)
		return nil, nil, err
	}

	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-cl.done:
	case <-t.C:
		err = fmt.Errorf("expected an answer to %s (ActionID %s) within %s, got none", name, id, timeout)
	case <-ctx.Done():
		err = fmt.Errorf("waiting for an answer to %s: %w", name, ctx.Err())
	}
	if err != nil {
		// A late answer would be out of step: start afresh.
		c.close(err)
		return nil, nil, err
	}
	c.Mu.Lock()
	resp, events, cerr := cl.resp, cl.events, c.ClosedLocked()
	c.Mu.Unlock()
	if resp == nil {
		return nil, nil, fmt.Errorf("expected an answer to %s, got none: %w", name, cerr)
	}
	switch r := resp.Get("Response"); {
	case strings.EqualFold(r, "Success"), strings.EqualFold(r, "Goodbye"):
		return resp, events, nil
	case strings.EqualFold(r, "Error"):
		return resp, events, &ActionError{Action: name, Message: resp.Get("Message")}
	default:
		return resp, events, fmt.Errorf("expected Response: Success or Error to %s, got %q", name, r)
	}
}

// memberState is one QueueMember of a QueueStatus answer.
type memberState struct {
	queue, name, iface string
	paused             bool
	reason             string
}

// queueStatus reads the queues' members, only those of member when given.
// QueueMember names the member Name and Location (the change events say
// MemberName and Interface).
func (c *conn) queueStatus(ctx context.Context, member string, timeout time.Duration) ([]memberState, error) {
	action := Message{{"Action", "QueueStatus"}}
	if member != "" {
		action = append(action, Header{"Member", member})
	}
	_, events, err := c.do(ctx, action, timeout)
	if err != nil {
		return nil, err
	}
	var out []memberState
	for _, ev := range events {
		if !strings.EqualFold(ev.Get("Event"), "QueueMember") {
			continue // QueueParams, QueueEntry
		}
		out = append(out, memberState{queue: ev.Get("Queue"), name: ev.Get("Name"), iface: ev.Get("Location"),
			paused: ev.Get("Paused") == "1", reason: ev.Get("PausedReason")})
	}
	return out, nil
}
