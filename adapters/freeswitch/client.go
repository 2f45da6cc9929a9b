package freeswitch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/acdbridge/acdbridge/adapters/internal/lines"
	"github.com/acdbridge/acdbridge/adapters/internal/link"
)

// AuthError is the event socket refusing this client: a wrong password
// ("-ERR invalid"), or this host outside the apply-inbound-acl
// (text/rude-rejection). Retrying at once will not help: it needs a person.
type AuthError struct {
	Address string
	ACL     bool   // refused by apply-inbound-acl, before any password
	Reply   string // FreeSWITCH's words
}

func (e *AuthError) Error() string {
	if e.ACL {
		return fmt.Sprintf("the FreeSWITCH event socket at %s refused this host (%q): expected apply-inbound-acl in event_socket.conf.xml to allow the bridge's address", e.Address, e.Reply)
	}
	return fmt.Sprintf("the FreeSWITCH event socket at %s refused the password (%q): expected the password param of event_socket.conf.xml", e.Address, e.Reply)
}

// conn is one authenticated event socket connection. Commands are answered
// in the order they were sent (FreeSWITCH runs a connection's api commands
// one after the other), so several may be in flight and each reply goes to
// the oldest command still waiting. Events and log lines, which come only
// to a connection that asked for them, are skipped.
type conn struct {
	c    net.Conn
	addr string

	wmu sync.Mutex // sending and queueing, so that both keep one order

	link.Ending // its Mu guards waiting too
	waiting     []*call
}

// call is one command waiting for its reply.
type call struct {
	command string // without "\n\n"
	reply   Frame
	done    chan struct{}
	ok      bool // a reply came
}

// dial connects, reads FreeSWITCH's auth/request and authenticates.
func dial(ctx context.Context, addr, password string, timeout time.Duration) (*conn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to the FreeSWITCH event socket at %s: %w", addr, err)
	}
	fail := func(err error) (*conn, error) {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(nc)
	f, err := ReadFrame(r)
	if err != nil {
		return fail(fmt.Errorf("reading the greeting of the event socket at %s (is this FreeSWITCH's event socket port?): %w", addr, err))
	}
	switch f.ContentType() {
	case TypeAuthRequest:
	case TypeRudeRejection:
		return fail(&AuthError{Address: addr, ACL: true, Reply: strings.TrimRight(string(f.Body), "\n")})
	default:
		return fail(fmt.Errorf("%w: expected \"Content-Type: %s\" from %s, got %q: is this FreeSWITCH's event socket port?", ErrMalformed, TypeAuthRequest, addr, lines.Truncate(string(f.Bytes()), 60)))
	}
	if _, err := nc.Write([]byte("auth " + password + "\n\n")); err != nil {
		return fail(fmt.Errorf("sending auth to %s: %w", addr, err))
	}
	f, err = ReadFrame(r)
	if err != nil {
		return fail(fmt.Errorf("reading the answer to auth from %s: %w", addr, err))
	}
	reply := f.Get("Reply-Text")
	switch {
	case f.ContentType() == TypeCommandReply && strings.HasPrefix(reply, "+OK"):
	case f.ContentType() == TypeCommandReply && strings.HasPrefix(reply, "-ERR"):
		return fail(&AuthError{Address: addr, Reply: reply})
	default:
		return fail(fmt.Errorf("%w: expected \"Content-Type: %s\" with \"Reply-Text: +OK accepted\" from %s, got %q", ErrMalformed, TypeCommandReply, addr, lines.Truncate(string(f.Bytes()), 80)))
	}
	_ = nc.SetDeadline(time.Time{})
	c := &conn{c: nc, addr: addr}
	go c.read(r)
	return c, nil
}

// close ends the connection; waiting and later commands fail with err.
func (c *conn) close(err error) {
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if !c.EndLocked(err) {
		return
	}
	c.c.Close()
	for _, cl := range c.waiting {
		close(cl.done)
	}
	c.waiting = nil
}

func (c *conn) read(r *bufio.Reader) {
	for {
		f, err := ReadFrame(r)
		if err != nil {
			c.close(fmt.Errorf("the event socket connection to %s ended: %w", c.addr, err))
			return
		}
		switch t := f.ContentType(); t {
		case TypeAPIResponse, TypeCommandReply:
			c.Mu.Lock()
			if len(c.waiting) == 0 {
				c.Mu.Unlock()
				c.close(fmt.Errorf("%w: %s from %s answered no command", ErrMalformed, t, c.addr))
				return
			}
			cl := c.waiting[0]
			c.waiting = c.waiting[1:]
			cl.reply, cl.ok = f, true
			close(cl.done)
			c.Mu.Unlock()
		case TypeDisconnectNotice:
			c.close(fmt.Errorf("FreeSWITCH closed the event socket at %s: %q", c.addr, strings.TrimRight(string(f.Body), "\n")))
			return
		case TypeRudeRejection:
			c.close(&AuthError{Address: c.addr, ACL: true, Reply: strings.TrimRight(string(f.Body), "\n")})
			return
		default:
			// text/event-plain, -json, -xml, log/data: not ours.
		}
	}
}

// send writes command and queues its call; the reply is awaited by wait.
func (c *conn) send(command string, timeout time.Duration) (*call, error) {
	cl := &call{command: command, done: make(chan struct{})}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.Mu.Lock()
	if err := c.ClosedLocked(); err != nil {
		c.Mu.Unlock()
		return nil, err
	}
	c.waiting = append(c.waiting, cl)
	c.Mu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.c.Write([]byte(command + "\n\n")); err != nil {
		err = fmt.Errorf("sending %q to %s: %w", command, c.addr, err)
		c.close(err)
		return nil, err
	}
	return cl, nil
}

// wait waits up to timeout for cl's reply. A command not answered in time
// closes the connection: FreeSWITCH may never answer it, and the replies
// of later commands must not wait behind it. A caller that gives up (ctx)
// leaves the connection open: cl stays in the queue, so its reply, when it
// comes, is taken by cl and not by the next command.
func (c *conn) wait(ctx context.Context, cl *call, timeout time.Duration) (Frame, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-cl.done:
	case <-t.C:
		err := fmt.Errorf("expected an answer to %q from %s within %s, got none", cl.command, c.addr, timeout)
		c.close(err)
		return Frame{}, err
	case <-ctx.Done():
		return Frame{}, fmt.Errorf("waiting for an answer to %q (it may still be carried out): %w", cl.command, ctx.Err())
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if !cl.ok {
		return Frame{}, fmt.Errorf("expected an answer to %q, got none: %w", cl.command, c.ClosedLocked())
	}
	return cl.reply, nil
}

// api sends "api command" and returns the body of its api/response.
func (c *conn) api(ctx context.Context, command string, timeout time.Duration) ([]byte, error) {
	cl, err := c.send("api "+command, timeout)
	if err != nil {
		return nil, err
	}
	f, err := c.wait(ctx, cl, timeout)
	if err != nil {
		return nil, err
	}
	if f.ContentType() != TypeAPIResponse {
		err := fmt.Errorf("%w: expected Content-Type: %s to %q, got %q", ErrMalformed, TypeAPIResponse, command, f.ContentType())
		c.close(err)
		return nil, err
	}
	return f.Body, nil
}

// apiResult is one api command's answer in apiAll.
type apiResult struct {
	body []byte
	err  error
}

// window bounds the commands apiAll keeps in flight.
const window = 256

// apiAll sends commands pipelined, at most window at a time, and returns
// each one's answer in order.
func (c *conn) apiAll(ctx context.Context, commands []string, timeout time.Duration) []apiResult {
	out := make([]apiResult, len(commands))
	for start := 0; start < len(commands); start += window {
		if err := ctx.Err(); err != nil {
			for i := start; i < len(commands); i++ {
				out[i].err = fmt.Errorf("not sending %q: %w", commands[i], err)
			}
			break
		}
		end := min(start+window, len(commands))
		calls := make([]*call, end-start)
		for i := start; i < end; i++ {
			calls[i-start], out[i].err = c.send("api "+commands[i], timeout)
		}
		for i := start; i < end; i++ {
			if out[i].err != nil {
				continue
			}
			f, err := c.wait(ctx, calls[i-start], timeout)
			switch {
			case err != nil:
				out[i].err = err
			case f.ContentType() != TypeAPIResponse:
				out[i].err = fmt.Errorf("%w: expected Content-Type: %s to %q, got %q", ErrMalformed, TypeAPIResponse, commands[i], f.ContentType())
				c.close(out[i].err)
			default:
				out[i].body = f.Body
			}
		}
	}
	return out
}

// exit says goodbye ("exit": FreeSWITCH answers "+OK bye", then its
// disconnect notice) and closes.
func (c *conn) exit(timeout time.Duration) {
	if cl, err := c.send("exit", timeout); err == nil {
		_, _ = c.wait(context.Background(), cl, timeout)
	}
	c.close(errors.New("closed by the adapter"))
}
