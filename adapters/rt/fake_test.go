package rt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeRT answers the REST2 calls the adapter makes as RT 5.0.3 does (the
// bodies and statuses below were read off a real RT 5, Debian's
// request-tracker5): JSON bodies, {"message": ...} errors, 200 with a list
// of messages for updates, refusals included. It records a transcript of
// every exchange for the golden files.
type fakeRT struct {
	*httptest.Server
	token              string // "Authorization: token ..." accepted
	username, password string // basic accepted

	mu       sync.Mutex
	queues   []string // queues tickets may be created in
	cfs      []string // custom fields that exist
	tickets  []*fakeTicket
	log      bytes.Buffer
	txn      int   // the last transaction id
	failNext []int // statuses to answer the next calls with, in turn (0: answer as RT would)
}

type fakeTicket struct {
	id           int
	queue        string
	subject      string
	requestor    string
	status       string
	customFields map[string]string
	content      string
	created      int // its Create transaction
	comments     []fakeComment
}

type fakeComment struct {
	txn                           int
	subject, content, contentType string
}

var lifecycle = []string{"new", "open", "stalled", "resolved", "rejected", "deleted"}

func newFakeRT(t *testing.T) *fakeRT {
	t.Helper()
	f := &fakeRT{token: "1-14-3d6e4e51659a4cf5a0f709d56032ba85", username: "acdbridge", password: "s3cret",
		queues: []string{"General", "Support", "Printers"}, cfs: []string{"Serial number", "Account"}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// url is RT's address with its web path, as the url setting takes it.
func (f *fakeRT) url() string { return f.URL + "/rt" }

func (f *fakeRT) transcript() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.String()
}

func (f *fakeRT) ticket(id int) *fakeTicket {
	for _, t := range f.tickets {
		if t.id == id {
			return t
		}
	}
	return nil
}

func (f *fakeRT) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	status, answer := f.answer(r, body)
	// The transcript: what came (the secret parts as they were sent, as
	// test values) and what went.
	fmt.Fprintf(&f.log, "> %s %s\n", r.Method, r.URL.Path)
	if q := r.URL.Query(); len(q) > 0 {
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range q {
				if !yield(k) {
					return
				}
			}
		}) {
			fmt.Fprintf(&f.log, ">   %s=%s\n", k, q.Get(k))
		}
	}
	for _, h := range []string{"Authorization", "Content-Type", "Accept", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			fmt.Fprintf(&f.log, "> %s: %s\n", h, v)
		}
	}
	if len(body) > 0 {
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "> ", "  ") == nil {
			fmt.Fprintf(&f.log, "> %s\n", pretty.String())
		} else {
			fmt.Fprintf(&f.log, "> %q\n", body)
		}
	}
	fmt.Fprintf(&f.log, "< %d %s\n< %s\n\n", status, http.StatusText(status), answer)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

func msg(s string) string {
	b, _ := json.Marshal(map[string]string{"message": s})
	return string(b)
}

func list(s ...string) string {
	if s == nil {
		s = []string{}
	}
	b, _ := json.Marshal(s)
	return string(b)
}

var ticketPath = regexp.MustCompile(`^/rt/REST/2\.0/ticket/([0-9]+)(/comment|/history)?$`)

func (f *fakeRT) answer(r *http.Request, body []byte) (int, string) {
	if len(f.failNext) > 0 && f.failNext[0] != 0 {
		code := f.failNext[0]
		f.failNext = f.failNext[1:]
		if code >= 500 {
			return code, "<html><head><title>Internal Server Error</title></head><body>Internal Server Error</body></html>"
		}
		return code, msg(http.StatusText(code))
	}
	if len(f.failNext) > 0 {
		f.failNext = f.failNext[1:]
	}
	user, pass, basic := r.BasicAuth()
	switch {
	case r.Header.Get("Authorization") == "token "+f.token:
	case basic && user == f.username && pass == f.password:
	default:
		return http.StatusUnauthorized, msg("Unauthorized")
	}
	var in map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			return http.StatusUnsupportedMediaType, msg("Unsupported Media Type")
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return http.StatusBadRequest, msg("malformed JSON string")
		}
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	base := "http://" + r.Host + "/rt/REST/2.0/"

	switch m := ticketPath.FindStringSubmatch(r.URL.Path); {
	case r.Method == http.MethodPost && r.URL.Path == "/rt/REST/2.0/ticket":
		q := str("Queue")
		if !slices.Contains(f.queues, q) {
			return http.StatusForbidden, msg(fmt.Sprintf("No permission to create tickets in the queue '%s'", q))
		}
		if str("Content") != "" && str("ContentType") == "" {
			return http.StatusBadRequest, msg("ContentType is a required field for application/json")
		}
		f.txn++
		t := &fakeTicket{id: len(f.tickets) + 1, queue: q, subject: str("Subject"), requestor: str("Requestor"),
			status: "new", content: str("Content"), customFields: map[string]string{}, created: f.txn}
		if cf, ok := in["CustomFields"].(map[string]any); ok {
			for k, v := range cf {
				if s, ok := v.(string); ok && slices.Contains(f.cfs, k) { // RT drops unknown ones silently
					t.customFields[k] = s
				}
			}
		}
		f.tickets = append(f.tickets, t)
		b, _ := json.Marshal(map[string]string{"id": strconv.Itoa(t.id), "type": "ticket", "_url": base + "ticket/" + strconv.Itoa(t.id)})
		return http.StatusCreated, string(b)

	case r.Method == http.MethodGet && r.URL.Path == "/rt/REST/2.0/tickets":
		q := r.URL.Query().Get("query")
		mm := regexp.MustCompile(`^Subject LIKE '((?:[^'\\]|\\.)*)'$`).FindStringSubmatch(q)
		if mm == nil {
			return http.StatusBadRequest, msg(fmt.Sprintf("Wrong query, expecting a AGGREGATOR in '%s' at /usr/share/request-tracker5/lib/RT/Tickets.pm line 3187.\n", q))
		}
		needle := strings.ToLower(regexp.MustCompile(`\\(.)`).ReplaceAllString(mm[1], "$1"))
		items := []map[string]string{}
		for _, t := range f.tickets {
			if strings.Contains(strings.ToLower(t.subject), needle) {
				item := map[string]string{"id": strconv.Itoa(t.id), "type": "ticket", "_url": base + "ticket/" + strconv.Itoa(t.id)}
				if strings.Contains(r.URL.Query().Get("fields"), "Subject") {
					item["Subject"] = t.subject
				}
				items = append(items, item)
			}
		}
		pages := 1
		if len(items) == 0 {
			pages = 0
		}
		b, _ := json.Marshal(map[string]any{"count": len(items), "page": 1, "pages": pages, "per_page": 100, "total": len(items), "items": items})
		return http.StatusOK, string(b)

	case m != nil:
		id, _ := strconv.Atoi(m[1])
		t := f.ticket(id)
		switch {
		case m[2] == "/comment" && r.Method == http.MethodPost:
			if str("ContentType") == "" {
				return http.StatusBadRequest, msg("ContentType is a required field for application/json")
			}
			if t == nil {
				return http.StatusBadRequest, msg("Message could not be recorded")
			}
			f.txn++
			t.comments = append(t.comments, fakeComment{txn: f.txn, subject: str("Subject"), content: str("Content"), contentType: str("ContentType")})
			return http.StatusCreated, list("Comments added")
		case m[2] == "/history" && r.Method == http.MethodGet:
			// As RT 5 answers ?fields=Type,Data: a Create transaction,
			// then each comment, its Data the comment's subject.
			if t == nil {
				return http.StatusNotFound, msg("Not Found")
			}
			type txn struct{ id, typ, data string }
			txns := []txn{{strconv.Itoa(t.created), "Create", "Ticket created"}}
			for _, c := range t.comments {
				txns = append(txns, txn{strconv.Itoa(c.txn), "Comment", c.subject})
			}
			if r.URL.Query().Get("order") == "DESC" {
				slices.Reverse(txns)
			}
			items := []map[string]string{}
			for _, x := range txns {
				items = append(items, map[string]string{"id": x.id, "type": "transaction", "_url": base + "transaction/" + x.id, "Type": x.typ, "Data": x.data})
			}
			b, _ := json.Marshal(map[string]any{"count": len(items), "page": 1, "pages": 1, "per_page": 100, "total": len(items), "items": items})
			return http.StatusOK, string(b)
		case m[2] == "" && r.Method == http.MethodPut:
			if t == nil {
				return http.StatusNotFound, msg("Resource does not exist; use POST to create")
			}
			s := str("Status")
			switch {
			case s == t.status:
				return http.StatusOK, list()
			case !slices.Contains(lifecycle, s):
				return http.StatusOK, list(fmt.Sprintf("Ticket %d: Status '%s' isn't a valid status for this ticket.", id, s))
			}
			old := t.status
			t.status = s
			return http.StatusOK, list(fmt.Sprintf("Ticket %d: Status changed from '%s' to '%s'", id, old, s))
		case m[2] == "" && r.Method == http.MethodGet:
			if t == nil {
				return http.StatusNotFound, msg("Not Found")
			}
			b, _ := json.Marshal(map[string]any{"id": t.id, "Subject": t.subject, "Status": t.status, "Type": "ticket"})
			return http.StatusOK, string(b)
		}
	}
	return http.StatusNotFound, msg("Not Found")
}
