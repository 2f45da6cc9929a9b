package sip

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/internal/acdtest"
	goldenfile "github.com/acdbridge/acdbridge/adapters/internal/golden"
	"github.com/acdbridge/acdbridge/internal/testutil"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

var update = flag.Bool("update", false, "rewrite testcases/*.txt and testcases/*.xml")

func TestREADMEShowsSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```hcl\n"+Sample+"```") {
		t.Fatal("README.md does not show sample.hcl word for word")
	}
	for _, f := range []string{"pidf-in-session.xml", "dialog-info-in-session.xml"} {
		doc, err := os.ReadFile(filepath.Join("testcases", f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "```xml\n"+string(doc)+"```") {
			t.Errorf("README.md does not show testcases/%s word for word", f)
		}
	}
}

// configure makes an adapter with settings and closes it at the end.
func configure(t *testing.T, s map[string]any) *Adapter {
	t.Helper()
	a := New(hclog.NewNullLogger())
	js, _ := json.Marshal(s)
	if err := a.Configure(context.Background(), sdk.Settings{Instance: "presence", JSON: js}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// publishing configures a publish-mode adapter against p.
func publishing(t *testing.T, p *Peer, extra map[string]any) *Adapter {
	t.Helper()
	s := map[string]any{"address": p.Addr(), "timeout": "2s", "expires": "2m"}
	for k, v := range extra {
		s[k] = v
	}
	return configure(t, s)
}

const alice = "sip:alice@example.test"

func item(id, uri, state string, version uint64) sdk.Availability {
	it := sdk.Availability{AgentID: id, Available: state == "available", State: state, Version: version, Identities: map[string]string{}}
	if uri != "" {
		it.Identities["sip_uri"] = uri
	}
	if !it.Available {
		it.Reason = "remote-support"
	}
	return it
}

var expectOutcome = acdtest.ExpectOutcome

// expectPresence checks the peer holds aor's presence as want (busy or
// available), parsed from what the adapter published.
func expectPresence(t *testing.T, p *Peer, aor string, busy bool, activity string) {
	t.Helper()
	body := p.State(aor, EventPresence)
	if body == "" {
		t.Fatalf("the peer holds no presence for %s", aor)
	}
	pr, err := ParsePIDF([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if pr.Busy() != busy || pr.Entity != aor || activity != "" && (len(pr.Activities) != 1 || pr.Activities[0] != activity) {
		t.Fatalf("presence %+v, want busy=%v with activity %q", pr, busy, activity)
	}
}

// golden compares got with testcases/name (-update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Compare(t, filepath.Join("testcases", name), got, *update)
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestPublishGolden(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		users map[string]string
		run   func(t *testing.T, p *Peer)
	}{
		{"publish-modify-remove", nil, func(t *testing.T, p *Peer) {
			a := publishing(t, p, nil)
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published (SIP-ETag a.1795888435.14810.1.1, expires in 2m0s)")
			expectPresence(t, p, alice, true, "on-the-phone")
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 2)}), sdk.Applied, "modified (SIP-ETag a.1795888435.14810.1.2")
			expectPresence(t, p, alice, false, "")
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "away", 3)}), sdk.Applied, "modified")
			expectPresence(t, p, alice, true, "away")
			a.Close()
			if n := p.Count(); n != 0 {
				t.Fatalf("%d publications left after Close, want 0 (Expires: 0)", n)
			}
		}},
		{"tcp", nil, func(t *testing.T, p *Peer) {
			a := publishing(t, p, map[string]any{"transport": "tcp"})
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published")
			expectPresence(t, p, alice, true, "on-the-phone")
			a.Close()
		}},
		{"auth-407-shared", map[string]string{"alice": "alicepw"}, func(t *testing.T, p *Peer) {
			a := publishing(t, p, map[string]any{"username": "alice", "password": "alicepw"})
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published")
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 2)}), sdk.Applied, "modified")
			expectPresence(t, p, alice, false, "")
			a.Close()
			if n := p.Count(); n != 0 {
				t.Fatalf("%d publications left after Close, want 0", n)
			}
		}},
		{"auth-401", map[string]string{"alice": "alicepw"}, func(t *testing.T, p *Peer) {
			p.mu.Lock()
			p.WWW = true
			p.mu.Unlock()
			a := publishing(t, p, map[string]any{"username": "alice", "password": "alicepw"})
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published")
			expectPresence(t, p, alice, true, "on-the-phone")
			a.Close()
		}},
		{"auth-nonce-renewed", map[string]string{"alice": "alicepw"}, func(t *testing.T, p *Peer) {
			// The last challenge's nonce is reused (nc 2, 3, ...) until the
			// server challenges again with a new one.
			a := publishing(t, p, map[string]any{"username": "alice", "password": "alicepw"})
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published")
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 2)}), sdk.Applied, "modified")
			p.SetNonce("bm9uY2UtMg")
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "away", 3)}), sdk.Applied, "modified")
			expectPresence(t, p, alice, true, "away")
			if n := p.Publishes(); n != 5 {
				t.Fatalf("%d PUBLISH, want 5: challenged, answered, reused, challenged (new nonce), answered", n)
			}
			a.Close()
		}},
		{"auth-407-per-agent", map[string]string{"alice": "alicepw"}, func(t *testing.T, p *Peer) {
			a := publishing(t, p, map[string]any{"username": "shared", "password": "wrong"})
			it := item("a-1", alice, "in_session", 1)
			it.Identities["sip_user"], it.Identities["sip_password"] = "alice", "alicepw"
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{it}), sdk.Applied, "published")
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-2", "sip:bob@example.test", "in_session", 1)}), sdk.Permanent, `digest credentials refused (SIP/2.0 407 Proxy Authentication Required) for user "shared"`)
			a.Close()
		}},
		{"412-publish-afresh", nil, func(t *testing.T, p *Peer) {
			a := publishing(t, p, nil)
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published")
			p.Forget() // a restarted server
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 2)}), sdk.Applied, "published afresh after 412 (SIP-ETag a.1795888435.14810.1.2")
			expectPresence(t, p, alice, false, "")
			a.Close()
		}},
		{"423-min-expires", nil, func(t *testing.T, p *Peer) {
			p.MinExpires(600)
			a := publishing(t, p, nil)
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published (SIP-ETag a.1795888435.14810.1.1, expires in 10m0s)")
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 2)}), sdk.Applied, "expires in 10m0s")
			a.Close()
		}},
		{"expiry-refresh", nil, func(t *testing.T, p *Peer) {
			p.Grant(1)
			a := publishing(t, p, nil)
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "expires in 1s")
			p.Grant(0) // the refresh gets the 2m asked: one refresh only
			testutil.WaitFor(t, "a refresh", 10*time.Second, 5*time.Millisecond, func() bool { return p.Publishes() == 2 })
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 2)}), sdk.Applied, "modified (SIP-ETag a.1795888435.14810.1.3")
			a.Close()
		}},
		{"offline-removes", nil, func(t *testing.T, p *Peer) {
			a := publishing(t, p, nil)
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published")
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "offline", 2)}), sdk.Applied, "offline: publication removed (Expires: 0)")
			if n := p.Count(); n != 0 {
				t.Fatalf("%d publications after offline, want 0", n)
			}
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 3)}), sdk.Applied, "published (")
			// The identity goes away: the publication goes too.
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", "", "available", 4)}), sdk.Ignored, `removed the publication of sip:alice@example.test; no "sip_uri" identity`)
			if n := p.Count(); n != 0 {
				t.Fatalf("%d publications after the identity went, want 0", n)
			}
			a.Close()
		}},
		{"dialog-info", nil, func(t *testing.T, p *Peer) {
			a := publishing(t, p, map[string]any{"dialog_info": true, "busy_activity": "busy"})
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "; dialog-info published")
			expectPresence(t, p, alice, true, "busy")
			d, err := ParseDialogInfo([]byte(p.State(alice, EventDialog)))
			if err != nil || !d.Busy() || d.Version != 1 {
				t.Fatalf("dialog-info %+v %v, want busy version 1", d, err)
			}
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "available", 2)}), sdk.Applied, "; dialog-info modified")
			d, err = ParseDialogInfo([]byte(p.State(alice, EventDialog)))
			if err != nil || d.Busy() || d.Version != 2 {
				t.Fatalf("dialog-info %+v %v, want idle version 2", d, err)
			}
			a.Close()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPeer(t)
			p.SetUsers(tc.users)
			tc.run(t, p)
			golden(t, tc.name+".txt", p.Transcript())
		})
	}
}

// TestPublishAnswers checks the outcome of every kind of answer.
func TestPublishAnswers(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		codes      []int
		outcome    sdk.Outcome
		msg        string
		unexpected uint64
	}{
		{[]int{489}, sdk.Permanent, "the server does not take Event: presence (489 Bad Event)", 0},
		{[]int{415}, sdk.Permanent, "the server does not take application/pidf+xml (415 Unsupported Media Type", 0},
		{[]int{503}, sdk.Retryable, "SIP/2.0 503 Service Unavailable", 0},
		{[]int{500}, sdk.Retryable, "SIP/2.0 500 Server Internal Error", 0},
		{[]int{408}, sdk.Retryable, "SIP/2.0 408 Request Timeout", 0},
		{[]int{480}, sdk.Retryable, "SIP/2.0 480 Temporarily Unavailable", 0},
		{[]int{486}, sdk.Retryable, "SIP/2.0 486 Busy Here", 0},
		{[]int{504}, sdk.Retryable, "SIP/2.0 504 Server Time-out", 0},
		{[]int{403}, sdk.Permanent, "unexpected answer SIP/2.0 403 Forbidden to PUBLISH (Event: presence)", 1},
		{[]int{404}, sdk.Permanent, "unexpected answer SIP/2.0 404 Not Found", 1},
		{[]int{302}, sdk.Permanent, "unexpected answer SIP/2.0 302 Moved Temporarily", 1},
		{[]int{412}, sdk.Retryable, "412 Conditional Request Failed to a PUBLISH without SIP-If-Match", 1},
		{[]int{423}, sdk.Permanent, `423 Interval Too Brief with Min-Expires "", not above the 2m0s asked`, 1},
		{[]int{401}, sdk.Permanent, "the server asks for digest credentials (SIP/2.0 401 Unauthorized) and none are configured", 0},
		{[]int{407}, sdk.Permanent, "the server asks for digest credentials (SIP/2.0 407 Proxy Authentication Required) and none are configured", 0},
		{[]int{202}, sdk.Permanent, "answered SIP/2.0 202 Accepted without a SIP-ETag", 1},
	}
	for _, tc := range tests {
		t.Run(strings.Trim(strings.Join(strings.Fields(strings.Trim(string(mustJSON(tc.codes)), "[]")), ","), ","), func(t *testing.T) {
			p := NewPeer(t)
			p.Force(tc.codes...)
			a := publishing(t, p, nil)
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), tc.outcome, tc.msg)
			if got := a.count.unexpected.Load(); got != tc.unexpected {
				t.Fatalf("%d unexpected responses counted, want %d", got, tc.unexpected)
			}
			if h := a.Health(ctx); !strings.Contains(h.Message, "unexpected responses "+itoa(int(tc.unexpected))) {
				t.Fatalf("health %q does not show the count", h.Message)
			}
			// The next try goes through.
			expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 2)}), sdk.Applied, "published")
		})
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestIdentities(t *testing.T) {
	ctx := context.Background()
	p := NewPeer(t)
	a := publishing(t, p, map[string]any{"uri_identity": "extension", "domain": "example.test"})
	tests := []struct {
		value   string
		outcome sdk.Outcome
		msg     string
	}{
		{"1001", sdk.Applied, "published"},
		{"sip:1002@Example.TEST;transport=udp", sdk.Applied, "published"},
		{"PJSIP/1003", sdk.Applied, "published"},
		{"", sdk.Ignored, `no "extension" identity`},
		{"alice@example.test", sdk.Permanent, "expected a SIP URI like sip:alice@example.com"},
		{"sip:@example.test", sdk.Permanent, "expected a SIP URI with a user and a host"},
	}
	for i, tc := range tests {
		it := sdk.Availability{AgentID: "a-" + itoa(i), Version: 1, State: "in_session", Identities: map[string]string{"extension": tc.value}}
		expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{it}), tc.outcome, tc.msg)
	}
	for _, aor := range []string{"sip:1001@example.test", "sip:1002@example.test", "sip:PJSIP/1003@example.test"} {
		expectPresence(t, p, aor, true, "on-the-phone")
	}
	// Stale versions are ignored; a reconcile takes the same version again.
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{{AgentID: "a-0", Version: 1, Identities: map[string]string{"extension": "1001"}}}), sdk.Ignored, "version 1 already applied")
	expectOutcome(t, a.Reconcile(ctx, []sdk.Availability{{AgentID: "a-0", Version: 1, State: "available", Available: true, Identities: map[string]string{"extension": "1001"}}}), sdk.Applied, "modified")
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		json   string
		fields []string
	}{
		{`{"address":"pbx:5060"}`, nil},
		{`{"address":"pbx:5060","transport":"tcp","username":"u","password":"p","expires":"10m","dialog_info":true,"rate":5,"uri_identity":"ext","domain":"example.test","busy_activity":"busy","timeout":"2s"}`, nil},
		{`{"mode":"server"}`, nil},
		{`{"mode":"server","listen":"127.0.0.1:5080","listen_transports":["udp"],"min_expires":"10s","max_expires":"10m","watchers":{"bob":"pw"},"realm":"example.test"}`, nil},
		{`{}`, []string{"address"}},
		{`{"address":"pbx"}`, []string{"address"}},
		{`{"address":"pbx:0"}`, []string{"address"}},
		{`{"address":"pbx:5060","transport":"sctp"}`, []string{"transport"}},
		{`{"address":"pbx:5060","expires":"10s"}`, []string{"expires"}},
		{`{"address":"pbx:5060","rate":0}`, []string{"rate"}},
		{`{"address":"pbx:5060","busy_activity":"lunch"}`, []string{"busy_activity"}},
		{`{"address":"pbx:5060","password":"p"}`, []string{"username"}},
		{`{"address":"pbx:5060","username":"u\r\nVia: x"}`, []string{"username"}},
		{`{"address":"pbx:5060","uri_identity":""}`, []string{"uri_identity"}},
		{`{"address":"pbx:5060","listen":"127.0.0.1:5070"}`, []string{"listen"}},
		{`{"address":"pbx:5060","tls_ca_file":"/nonexistent"}`, []string{"transport"}},
		{`{"address":"pbx:5060","transport":"tls","tls_ca_file":"/nonexistent"}`, []string{"tls_ca_file"}},
		{`{"mode":"server","address":"pbx:5060"}`, []string{"address"}},
		{`{"mode":"server","listen_transports":["udp","udp"]}`, []string{"listen_transports"}},
		{`{"mode":"server","listen_transports":["tls"]}`, []string{"listen_transports"}},
		{`{"mode":"server","min_expires":"1h","max_expires":"1m"}`, []string{"min_expires"}},
		{`{"mode":"server","watchers":{"bob":""}}`, []string{"watchers"}},
		{`{"mode":"server","max_subscriptions":1}`, nil},
		{`{"mode":"server","max_subscriptions":0}`, []string{"max_subscriptions"}},
		{`{"mode":"server","max_subscriptions":1000001}`, []string{"max_subscriptions"}},
		{`{"mode":"server","max_subscriptions":2.5}`, []string{"max_subscriptions"}},
		{`{"address":"pbx:5060","max_subscriptions":10}`, []string{"max_subscriptions"}},
		{`{"mode":"server","rate":5}`, []string{"mode"}},
		{`{"mode":"proxy"}`, []string{"mode", "address"}},
		{`{"adress":"pbx:5060"}`, []string{"adress"}},
	}
	parse := func(s sdk.Settings) error {
		_, err := parseConfig(s)
		return err
	}
	for _, tc := range tests {
		acdtest.ConfigErrors(t, parse, tc.json, tc.fields)
	}
}

// TestPublishTLS publishes over TLS, the server's certificate checked
// against tls_ca_file.
func TestPublishTLS(t *testing.T) {
	ctx := context.Background()
	p := NewPeer(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	addr := p.ServeTLS(t, ca)
	a := configure(t, map[string]any{"address": addr, "transport": "tls", "tls_ca_file": ca, "timeout": "2s"})
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published")
	expectPresence(t, p, alice, true, "on-the-phone")
	if tr := p.Transcript(); !strings.Contains(tr, "PUBLISH sip:alice@example.test SIP/2.0\nVia: SIP/2.0/TLS ") {
		t.Fatalf("not over TLS:\n%s", tr)
	}
	// A certificate for another name is refused: a retryable failure.
	b := configure(t, map[string]any{"address": addr, "transport": "tls", "tls_ca_file": ca, "tls_server_name": "other.example.test", "timeout": "2s"})
	expectOutcome(t, b.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Retryable, "certificate")
}

// TestRate: the rate setting paces every PUBLISH (burst = one second's).
func TestRate(t *testing.T) {
	p := NewPeer(t)
	a := publishing(t, p, map[string]any{"rate": 5})
	if l, b := a.pub.lim.Limit(), a.pub.lim.Burst(); l != 5 || b != 5 {
		t.Fatalf("limit %v burst %d, want 5 and 5", l, b)
	}
	a = publishing(t, p, nil)
	if l := a.pub.lim.Limit(); l != DefaultRate {
		t.Fatalf("default limit %v, want %d", l, DefaultRate)
	}
}

// TestPublishLargeOverUDP: a PUBLISH over 1300 bytes (long URIs, a long
// reason, digest credentials) still goes over UDP (sipgo's own limit
// would refuse it).
func TestPublishLargeOverUDP(t *testing.T) {
	p := NewPeer(t)
	p.SetUsers(map[string]string{"alice": "alicepw"})
	a := publishing(t, p, map[string]any{"username": "alice", "password": "alicepw", "dialog_info": true})
	aor := "sip:" + strings.Repeat("a", 100) + "@" + strings.Repeat("b", 100) + ".example.test"
	it := item("a-1", aor, "in_session", 1)
	it.Reason = strings.Repeat("remote-support ", 40)
	expectOutcome(t, a.SetAvailability(context.Background(), []sdk.Availability{it}), sdk.Applied, "published")
	body := p.State(aor, EventPresence)
	if len(body) < 1300 {
		t.Fatalf("the document has %d bytes; the test wants one over 1300", len(body))
	}
	expectPresence(t, p, aor, true, "on-the-phone")
}

// TestPublishOnlyChanges: a reconcile, or a new version that shows the
// same, sends nothing; a new password or a lost publication does.
func TestPublishOnlyChanges(t *testing.T) {
	ctx := context.Background()
	p := NewPeer(t)
	a := publishing(t, p, nil)
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "published")
	expectOutcome(t, a.Reconcile(ctx, []sdk.Availability{item("a-1", alice, "in_session", 1)}), sdk.Applied, "already published: in_session (remote-support)")
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "in_session", 2)}), sdk.Applied, "already published")
	if n := p.Publishes(); n != 1 {
		t.Fatalf("%d PUBLISH, want 1", n)
	}
	it := item("a-1", alice, "in_session", 3)
	it.Identities["sip_user"], it.Identities["sip_password"] = "alice", "new"
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{it}), sdk.Applied, "modified")
	expectOutcome(t, a.SetAvailability(ctx, []sdk.Availability{item("a-1", alice, "offline", 4)}), sdk.Applied, "publication removed")
	expectOutcome(t, a.Reconcile(ctx, []sdk.Availability{item("a-1", alice, "offline", 4)}), sdk.Applied, "already published: offline")
	if n := p.Publishes(); n != 3 {
		t.Fatalf("%d PUBLISH, want 3", n)
	}
}

// TestPacedBatch: a batch larger than the rate allows before the call's
// deadline is done in part; the rest are retryable, and the call ends
// before its deadline (a reconcile of many agents must not time out).
func TestPacedBatch(t *testing.T) {
	p := NewPeer(t)
	a := publishing(t, p, map[string]any{"rate": 2, "timeout": "1s"})
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	items := make([]sdk.Availability, 10)
	for i := range items {
		items[i] = item("a-"+itoa(i), "sip:agent"+itoa(i)+"@example.test", "in_session", 1)
	}
	rs := a.Reconcile(ctx, items)
	if ctx.Err() != nil {
		t.Fatal("the call ran into its deadline")
	}
	applied := 0
	for _, r := range rs {
		switch {
		case r.Outcome == sdk.Applied:
			applied++
		case r.Outcome != sdk.Retryable || !strings.Contains(r.Message, "not sent in this call: at 2 PUBLISH a second it would start after the call's deadline"):
			t.Fatalf("%+v", r)
		}
	}
	// The burst (2) at once, then one every 0.5 s until 1.5 s (the
	// deadline less the timeout and a second).
	if applied < 2 || applied >= len(items) || p.Publishes() != applied {
		t.Fatalf("%d applied, %d PUBLISH sent, of %d", applied, p.Publishes(), len(items))
	}
}

// TestHealthProbe: publish mode asks the server OPTIONS; any answer makes
// Health up, none degraded.
func TestHealthProbe(t *testing.T) {
	p := NewPeer(t)
	a := New(hclog.NewNullLogger())
	a.probeEvery = 20 * time.Millisecond
	js, _ := json.Marshal(map[string]any{"address": p.Addr(), "timeout": "300ms"})
	if err := a.Configure(context.Background(), sdk.Settings{Instance: "presence", JSON: js}); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, "up", func() bool {
		h := a.Health(context.Background())
		return h.Status == sdk.Up && strings.Contains(h.Message, "(OPTIONS answered SIP/2.0 405 Method Not Allowed)")
	})
	p.Close()
	waitFor(t, "degraded", func() bool {
		h := a.Health(context.Background())
		return h.Status == sdk.Degraded && strings.Contains(h.Message, "no answer to OPTIONS from "+p.Addr()+" over udp")
	})
}
