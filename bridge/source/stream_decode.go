package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/acdbridge/acdbridge/monitors"
)

// decodeAgentsFrom decodes and checks GET /v1/monitors/agents as it is
// read, one row at a time: a 100,000-agent table is about 20 MB of JSON,
// and holding the whole body, then the wire rows, then the converted rows
// tripled the bridge's peak memory at every reconcile poll. Each row is
// decoded into one reused wire struct and converted at once into a staging
// slice of monitors.Agent; queue names, shared by thousands of agents, are
// interned. The result is what decodeAgents on the whole body gives:
// syntax errors first (the document is read to its end before any other
// error is reported), then a wrong type, then an error body behind the
// 200, then a missing sequence or as_of, then the first bad row or
// duplicate id, which rejects the whole table. Errors are *PayloadError,
// except a failure of r itself, returned as it is.
func decodeAgentsFrom(r io.Reader) (agentsSnapshot, error) {
	return decodeAgentsSized(r, 0)
}

// decodeAgentsSized is decodeAgentsFrom with room for rows agents made
// at once (the size of the last table), instead of growing by doubling.
func decodeAgentsSized(r io.Reader, rows int) (agentsSnapshot, error) {
	rr := &readErr{r: r}
	s, err := decodeAgentsStream(json.NewDecoder(rr), rows)
	if rr.err != nil {
		return agentsSnapshot{}, rr.err
	}
	return s, err
}

// readErr remembers a failure of the underlying reader, so that a cut
// connection is not counted as a bad payload.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// agentTable is the agents list of one snapshot while it is read.
type agentTable struct {
	rows    []monitors.Agent // nil: the list was absent or null
	seen    map[string]struct{}
	intern  map[string]string
	bad     error // the first bad row or duplicate id, without its place
	badAt   int   // the index of that row
	wire    wireAgent
	started bool // a list was seen (possibly empty)
	size    int  // the expected number of rows
}

// reset starts the table again: a key given twice keeps its last value,
// as encoding/json does.
func (t *agentTable) reset() {
	t.rows = t.rows[:0]
	if t.rows == nil {
		t.rows = make([]monitors.Agent, 0, max(t.size, 1024))
	}
	clear(t.seen)
	t.bad, t.badAt, t.started = nil, 0, true
}

// add converts one decoded row into the staging table.
func (t *agentTable) add() {
	i := len(t.rows)
	a, err := convertAgent(t.wire)
	if err == nil {
		if _, dup := t.seen[a.ID]; dup {
			err = badf(KindBadValue, "expected unique ids, got agent %q twice", a.ID)
		}
	}
	if err != nil {
		if t.bad == nil {
			t.bad, t.badAt = err, i
		}
		t.rows = append(t.rows, monitors.Agent{})
		return
	}
	t.seen[a.ID] = struct{}{}
	for k, q := range a.Queues {
		if s, ok := t.intern[q]; ok {
			a.Queues[k] = s
		} else if len(t.intern) < maxInterned {
			t.intern[q] = q
		}
	}
	t.rows = append(t.rows, a)
}

// maxInterned bounds the queue names interned in one snapshot.
const maxInterned = 1 << 16

func decodeAgentsStream(dec *json.Decoder, rows int) (agentsSnapshot, error) {
	var (
		head    wireHeartbeat // errorField, sequence and as_of: the same fields
		typeErr error         // the first value of a wrong type
		t       = agentTable{seen: make(map[string]struct{}, max(rows, 1024)), intern: make(map[string]string, 1024), size: rows}
	)
	wrongType := func(err error) {
		if typeErr == nil {
			typeErr = err
		}
	}
	tok, err := dec.Token()
	if err == io.EOF {
		return agentsSnapshot{}, badf(KindMalformedJSON, "expected a JSON object, got an empty body")
	}
	if err != nil {
		return agentsSnapshot{}, jsonErr(err)
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return agentsSnapshot{}, jsonErr(err)
			}
			name, _ := key.(string)
			off := dec.InputOffset()
			switch {
			case strings.EqualFold(name, "error"):
				err = dec.Decode(&head.Error)
			case strings.EqualFold(name, "sequence"):
				err = dec.Decode(&head.Sequence)
			case strings.EqualFold(name, "as_of"):
				err = dec.Decode(&head.AsOf)
			case strings.EqualFold(name, "agents"):
				err = decodeAgentList(dec, &t, wrongType)
			default:
				var skip json.RawMessage
				err = dec.Decode(&skip)
			}
			if err != nil {
				if !isTypeErr(err) || dec.InputOffset() == off {
					return agentsSnapshot{}, jsonErr(err)
				}
				wrongType(err)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing brace
			return agentsSnapshot{}, jsonErr(err)
		}
	case nil: // null: every field absent, as json.Unmarshal leaves them
	default:
		if err := skipValue(dec, tok); err != nil {
			return agentsSnapshot{}, jsonErr(err)
		}
		wrongType(fmt.Errorf("json: cannot unmarshal %s into Go value of type source.wireAgentsSnapshot", tokenKind(tok)))
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return agentsSnapshot{}, jsonErr(err)
		}
		return agentsSnapshot{}, badf(KindMalformedJSON, "expected a JSON object: invalid character after top-level value")
	}
	if typeErr != nil {
		return agentsSnapshot{}, &PayloadError{Kind: KindBadValue, Err: fmt.Errorf("expected the shape of the Remote Support API v1: %w", typeErr)}
	}
	if err := head.check(); err != nil {
		return agentsSnapshot{}, err
	}
	seq, asOf, err := stamp(head.Sequence, head.AsOf)
	if err != nil {
		return agentsSnapshot{}, err
	}
	if !t.started || t.rows == nil {
		return agentsSnapshot{}, badf(KindBadValue, "agents: expected a list, got none")
	}
	if t.bad != nil {
		return agentsSnapshot{}, prefix(t.bad, "agents[%d] of %d", t.badAt, len(t.rows))
	}
	return agentsSnapshot{seq: seq, asOf: asOf, agents: t.rows}, nil
}

// decodeAgentList reads the value of "agents": a list of rows, or null.
func decodeAgentList(dec *json.Decoder, t *agentTable, wrongType func(error)) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case nil:
		t.rows, t.started = nil, true
		clear(t.seen)
		t.bad = nil
		return nil
	case json.Delim('['):
	default:
		if err := skipValue(dec, tok); err != nil {
			return err
		}
		wrongType(fmt.Errorf("json: cannot unmarshal %s into Go struct field wireAgentsSnapshot.agents of type []source.wireAgent", tokenKind(tok)))
		return nil
	}
	t.reset()
	for dec.More() {
		t.wire = wireAgent{}
		off := dec.InputOffset()
		if err := dec.Decode(&t.wire); err != nil {
			if !isTypeErr(err) || dec.InputOffset() == off {
				return err
			}
			wrongType(err)
			t.rows = append(t.rows, monitors.Agent{})
			continue
		}
		t.add()
	}
	_, err = dec.Token() // the closing bracket
	return err
}

// skipValue reads the rest of a value whose first token is tok.
func skipValue(dec *json.Decoder, tok json.Token) error {
	d, ok := tok.(json.Delim)
	if !ok || d == '}' || d == ']' {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// tokenKind names a token's JSON type as encoding/json's messages do.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		if tok == json.Delim('[') {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// isTypeErr says whether err may be a value of the wrong type (or a time
// that does not parse) rather than broken JSON or a failed read:
// encoding/json goes on after the former and reports it once the document
// is read. The callers also check that the decoder moved past the value, so
// that an error that repeats (a failed read) cannot keep them looping.
func isTypeErr(err error) bool {
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	return true
}

// jsonErr sorts a decoder's failure as unmarshal does; an end of input in
// the middle of the document is a body cut short.
func jsonErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &PayloadError{Kind: KindMalformedJSON, Err: fmt.Errorf("expected a JSON object: %w", err)}
	}
	return &PayloadError{Kind: KindBadValue, Err: fmt.Errorf("expected the shape of the Remote Support API v1: %w", err)}
}
