package sip

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Peer is an in-process presence server that answers as Kamailio 5.6 with
// presence, presence_xml (force_active=1) and, with Users set, auth_db
// challenging with 407 (testcases/reference/*.txt): the same headers in
// the same order, 200 to SUBSCRIBE, the 407 challenge, SIP-ETags of the
// same shape that change on every refresh and modify, 412 for an unknown
// SIP-If-Match, 423 with Min-Expires, 489 for an unknown event.
type Peer struct {
	t      testing.TB
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	udp    net.PacketConn
	tcp    net.Listener
	Port   int

	// WWW makes the challenge a 401 with WWW-Authenticate (a registrar's
	// way) instead of Kamailio's proxy 407.
	WWW bool
	// Users turns digest authentication on: user name = password (set it
	// with SetUsers once the peer runs).
	Users map[string]string
	Nonce string

	mu         sync.Mutex
	pubs       map[string]*peerPub // by ETag
	etags      int
	minExpires int             // below this, 423
	grant      int             // >0: the Expires granted, whatever was asked
	force      []int           // the next PUBLISH answers, whatever they are
	transcript strings.Builder // in the reference's notation
	publishes  int
	subs       map[string]*peerSub // by Call-ID
	tag        int
}

type peerPub struct {
	aor, event, body string
	expires          time.Time
	seq              int // the newest publication of an aor wins in State
}

type peerSub struct {
	aor, event     string
	callID         string
	fromHdr, toHdr string // as the NOTIFY's To and From
	contact        sip.Uri
	cseq           uint32
	transport      string
	expires        time.Time
}

const (
	peerServer = "kamailio (5.6.3 (x86_64/linux))"
	peerRealm  = "example.test"
)

// NewPeer starts a peer on 127.0.0.1, UDP and TCP on one port.
func NewPeer(t testing.TB) *Peer {
	t.Helper()
	p := &Peer{t: t, pubs: map[string]*peerPub{}, subs: map[string]*peerSub{}, minExpires: 60, Nonce: "awsWYWsLFTVXyta1l3lPQ+TzAx+1IeZ9"}
	ua, quiet := testUA(t, "kamailio")
	p.ua = ua
	p.srv, _ = sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	p.client, _ = sipgo.NewClient(ua, sipgo.WithClientLogger(quiet))
	p.srv.OnPublish(p.onPublish)
	p.srv.OnSubscribe(p.onSubscribe)
	udp, tcp := testListen(t)
	p.udp, p.tcp, p.Port = udp, tcp, udp.LocalAddr().(*net.UDPAddr).Port
	go p.srv.ServeUDP(udp)
	go p.srv.ServeTCP(tcp)
	t.Cleanup(p.Close)
	return p
}

// SetUsers turns digest authentication on: user name = password.
func (p *Peer) SetUsers(users map[string]string) { p.mu.Lock(); p.Users = users; p.mu.Unlock() }

// SetNonce changes the nonce, as a server does when the old one expires.
func (p *Peer) SetNonce(n string) { p.mu.Lock(); p.Nonce = n; p.mu.Unlock() }

// Addr is the peer's host:port.
func (p *Peer) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// Close stops the peer: it answers nothing any more.
func (p *Peer) Close() {
	p.udp.Close()
	p.tcp.Close()
	p.ua.Close()
}

// Forget drops every publication, as a restarted server does: the next
// SIP-If-Match gets 412.
func (p *Peer) Forget() {
	p.mu.Lock()
	p.pubs = map[string]*peerPub{}
	p.mu.Unlock()
}

// Grant makes the peer grant n seconds to every PUBLISH (0: what is asked).
func (p *Peer) Grant(n int) { p.mu.Lock(); p.grant = n; p.mu.Unlock() }

// MinExpires sets the shortest Expires taken; shorter gets 423.
func (p *Peer) MinExpires(n int) { p.mu.Lock(); p.minExpires = n; p.mu.Unlock() }

// Force makes the next PUBLISH requests get these status codes.
func (p *Peer) Force(codes ...int) { p.mu.Lock(); p.force = append(p.force, codes...); p.mu.Unlock() }

// Publishes counts the PUBLISH requests taken.
func (p *Peer) Publishes() int { p.mu.Lock(); defer p.mu.Unlock(); return p.publishes }

// State is the aor's presence as published for event (the body), or "".
func (p *Peer) State(aor, event string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	body, seq := "", -1
	for _, pb := range p.pubs {
		if pb.aor == aor && pb.event == event && time.Now().Before(pb.expires) && pb.seq > seq {
			body, seq = pb.body, pb.seq
		}
	}
	return body
}

// Count is how many publications the peer holds.
func (p *Peer) Count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.pubs) }

// Live is how many publications the peer holds that have not expired or
// been removed.
func (p *Peer) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pb := range p.pubs {
		if time.Now().Before(pb.expires) {
			n++
		}
	}
	return n
}

// Transcript is what the peer saw and answered, random values masked.
func (p *Peer) Transcript() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return mask(p.transcript.String(), p.Port)
}

func (p *Peer) record(dir string, tp string, m sip.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if dir == ">>>" {
		fmt.Fprintf(&p.transcript, ">>> SENT (%s to 127.0.0.1:%d)\n", tp, p.Port)
	} else {
		p.transcript.WriteString("<<< RECEIVED\n")
	}
	p.transcript.WriteString(strings.ReplaceAll(m.String(), "\r\n", "\n"))
	if !strings.HasSuffix(p.transcript.String(), "\n") {
		p.transcript.WriteString("\n")
	}
	p.transcript.WriteString(strings.Repeat("-", 60) + "\n")
}

var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`branch=z9hG4bK[^;\s]+`), "branch=z9hG4bK<branch>"},
	{regexp.MustCompile(`tag=[^;\s>]+`), "tag=<tag>"},
	{regexp.MustCompile(`(?m)^Call-ID: .*$`), "Call-ID: <call-id>"},
	{regexp.MustCompile(`cnonce="[^"]*"`), `cnonce="<cnonce>"`},
	{regexp.MustCompile(`response="[^"]*"`), `response="<response>"`},
	{regexp.MustCompile(`rport=\d+`), "rport=<port>"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:<port>"},
}

// mask replaces what changes from run to run (branches, tags, Call-IDs,
// ports, digest cnonces and responses).
func mask(s string, port int) string {
	s = strings.ReplaceAll(s, fmt.Sprintf("127.0.0.1:%d", port), "127.0.0.1:5070")
	for _, m := range masks {
		s = m.re.ReplaceAllStringFunc(s, func(v string) string {
			if v == "127.0.0.1:5070" {
				return v
			}
			return m.with
		})
	}
	return s
}

// kamTag is a To tag in the shape Kamailio's sl (stateless, "." ) or
// tm (stateful, "-") module makes.
func (p *Peer) kamTag(stateless bool) string {
	p.tag++
	if stateless {
		return fmt.Sprintf("df673b98c9e0bd9172cfc0d849035098.%08x", 0x62a4197f+p.tag)
	}
	return fmt.Sprintf("25483a2a9fa04090c2dd4f1854d1ed2b-%08x", 0x4165419e+p.tag)
}

// respond builds a response in Kamailio's order: Via, From, To, Call-ID,
// CSeq, the extra headers, Server, Content-Length.
func (p *Peer) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, stateless bool, extra ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.RemoveHeader("Content-Length")
	if to := res.To(); to != nil && !hasTag(req.To()) {
		p.mu.Lock()
		to.Params.Add("tag", p.kamTag(stateless))
		p.mu.Unlock()
	}
	for _, h := range extra {
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Server", peerServer))
	res.SetBody(nil)
	p.record("<<<", "", res)
	if err := tx.Respond(res); err != nil {
		p.t.Logf("peer: respond: %v", err)
	}
}

func hasTag(to *sip.ToHeader) bool {
	if to == nil {
		return false
	}
	_, ok := to.Params.Get("tag")
	return ok
}

// authorized checks Proxy-Authorization, or answers 407.
func (p *Peer) authorized(req *sip.Request, tx sip.ServerTransaction) bool {
	p.mu.Lock()
	users := p.Users
	p.mu.Unlock()
	if len(users) == 0 {
		return true
	}
	p.mu.Lock()
	www, nonce := p.WWW, p.Nonce
	p.mu.Unlock()
	in := "Proxy-Authorization"
	if www {
		in = "Authorization"
	}
	if h := req.GetHeader(in); h != nil {
		cred, err := digest.ParseCredentials(h.Value())
		if err == nil && cred.Nonce == nonce {
			if pass, ok := users[cred.Username]; ok {
				want, _ := digest.Digest(&digest.Challenge{Realm: peerRealm, Nonce: nonce, QOP: []string{"auth"}, Algorithm: cred.Algorithm},
					digest.Options{Method: req.Method.String(), URI: cred.URI, Username: cred.Username, Password: pass, Cnonce: cred.Cnonce, Count: cred.Nc})
				if want != nil && want.Response == cred.Response {
					return true
				}
			}
		}
	}
	chal := fmt.Sprintf(`Digest realm="%s", nonce="%s", qop="auth"`, peerRealm, nonce)
	if www {
		p.respond(req, tx, 401, "Unauthorized", true, sip.NewHeader("WWW-Authenticate", chal))
		return false
	}
	p.respond(req, tx, 407, "Proxy Authentication Required", true, sip.NewHeader("Proxy-Authenticate", chal))
	return false
}

func (p *Peer) onPublish(req *sip.Request, tx sip.ServerTransaction) {
	p.record(">>>", req.Transport(), req)
	p.mu.Lock()
	p.publishes++
	var forced int
	if len(p.force) > 0 {
		forced, p.force = p.force[0], p.force[1:]
	}
	p.mu.Unlock()
	if forced != 0 {
		p.respond(req, tx, forced, reasons[forced], false)
		return
	}
	if !p.authorized(req, tx) {
		return
	}
	event := headerValue(req, "Event")
	if event != EventPresence && event != EventDialog {
		p.respond(req, tx, 489, "Bad Event", false)
		return
	}
	expires := 3600
	if v := headerValue(req, "Expires"); v != "" {
		expires, _ = strconv.Atoi(v)
	}
	p.mu.Lock()
	if expires > 0 && expires < p.minExpires {
		minExp := p.minExpires
		p.mu.Unlock()
		p.respond(req, tx, 423, "Interval Too Brief", false, sip.NewHeader("Min-Expires", strconv.Itoa(minExp)))
		return
	}
	granted := expires
	if p.grant > 0 && expires > 0 {
		granted = p.grant
	}
	ifMatch := headerValue(req, "SIP-If-Match")
	body := strings.ReplaceAll(string(req.Body()), "\r\n", "\n")
	var pb *peerPub
	if ifMatch != "" {
		pb = p.pubs[ifMatch]
		if pb == nil {
			p.mu.Unlock()
			p.respond(req, tx, 412, "Conditional request failed", false)
			return
		}
		delete(p.pubs, ifMatch)
	} else {
		if len(req.Body()) == 0 {
			p.mu.Unlock()
			p.respond(req, tx, 400, "Bad Request", false)
			return
		}
		pb = &peerPub{aor: req.Recipient.String(), event: event}
	}
	etag := ifMatch
	if expires > 0 {
		p.etags++
		etag = fmt.Sprintf("a.1795888435.14810.%d.%d", 1+p.etags/100, p.etags)
		if body != "" {
			pb.body = body
		}
		pb.expires = time.Now().Add(time.Duration(granted) * time.Second)
		pb.seq = p.etags
		p.pubs[etag] = pb
	}
	subs := p.watchersOf(pb.aor, event)
	p.mu.Unlock()
	p.respond(req, tx, 200, "OK", false, sip.NewHeader("Expires", strconv.Itoa(granted)), sip.NewHeader("SIP-ETag", etag))
	for _, s := range subs {
		p.notify(s, fmt.Sprintf("active;expires=%d", int(time.Until(s.expires).Seconds()+0.999)))
	}
}

func (p *Peer) watchersOf(aor, event string) []*peerSub {
	var out []*peerSub
	for _, s := range p.subs {
		if s.aor == aor && s.event == event {
			out = append(out, s)
		}
	}
	return out
}

func (p *Peer) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	p.record(">>>", req.Transport(), req)
	if !p.authorized(req, tx) {
		return
	}
	event := headerValue(req, "Event")
	if event != EventPresence {
		p.respond(req, tx, 489, "Bad Event", false)
		return
	}
	expires := 3600
	if v := headerValue(req, "Expires"); v != "" {
		expires, _ = strconv.Atoi(v)
	}
	contact := fmt.Sprintf("<sip:127.0.0.1:%d>", p.Port)
	if req.Transport() == "TCP" {
		contact = fmt.Sprintf("<sip:127.0.0.1:%d;transport=tcp>", p.Port)
	}
	p.mu.Lock()
	s := p.subs[req.CallID().Value()]
	if s == nil {
		s = &peerSub{aor: req.Recipient.String(), event: event, callID: req.CallID().Value(), cseq: 1, transport: req.Transport()}
		p.subs[s.callID] = s
	}
	if c := req.Contact(); c != nil {
		s.contact = *c.Address.Clone()
	}
	s.expires = time.Now().Add(time.Duration(expires) * time.Second)
	p.mu.Unlock()
	// The tag: Kamailio's tm tag for a new dialog, the dialog's own after.
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.RemoveHeader("Content-Length")
	p.mu.Lock()
	if !hasTag(req.To()) {
		res.To().Params.Add("tag", p.kamTag(false))
	}
	s.toHdr = req.From().Value()
	s.fromHdr = res.To().Value()
	p.mu.Unlock()
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	res.AppendHeader(sip.NewHeader("Contact", contact))
	res.AppendHeader(sip.NewHeader("Server", peerServer))
	res.SetBody(nil)
	p.record("<<<", "", res)
	_ = tx.Respond(res)
	state := fmt.Sprintf("active;expires=%d", expires)
	if expires == 0 {
		state = "terminated;reason=timeout"
	}
	p.notify(s, state)
	if expires == 0 {
		p.mu.Lock()
		delete(p.subs, s.callID)
		p.mu.Unlock()
	}
}

// notify sends a NOTIFY in Kamailio's header order with the current body.
func (p *Peer) notify(s *peerSub, state string) {
	p.mu.Lock()
	body := ""
	for _, pb := range p.pubs {
		if pb.aor == s.aor && pb.event == s.event {
			body = pb.body
		}
	}
	s.cseq++
	cseq := s.cseq
	p.mu.Unlock()
	req := sip.NewRequest(sip.NOTIFY, s.contact)
	req.SetTransport(s.transport)
	req.SetDestination(s.contact.HostPort())
	req.AppendHeader(sip.NewHeader("To", s.toHdr))
	req.AppendHeader(sip.NewHeader("From", s.fromHdr))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.NOTIFY})
	cid := sip.CallIDHeader(s.callID)
	req.AppendHeader(&cid)
	cl := sip.ContentLengthHeader(len(body))
	req.AppendHeader(&cl)
	req.AppendHeader(sip.NewHeader("User-Agent", peerServer))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("Event", s.event))
	if s.transport == "TCP" {
		req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:127.0.0.1:%d;transport=tcp>", p.Port)))
	} else {
		req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:127.0.0.1:%d>", p.Port)))
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if body != "" {
		ct := sip.ContentTypeHeader(TypePIDF)
		req.AppendHeader(&ct)
	}
	req.SetBody([]byte(body))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tx, err := p.client.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		p.t.Logf("peer: NOTIFY: %v", err)
		return
	}
	p.record("<<<", "", req)
	defer tx.Terminate()
	select {
	case <-tx.Responses():
	case <-tx.Done():
	case <-ctx.Done():
	}
}

var reasons = map[int]string{202: "Accepted", 302: "Moved Temporarily", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 407: "Proxy Authentication Required",
	408: "Request Timeout", 412: "Conditional Request Failed", 415: "Unsupported Media Type", 423: "Interval Too Brief", 489: "Bad Event",
	480: "Temporarily Unavailable", 486: "Busy Here", 500: "Server Internal Error", 503: "Service Unavailable", 504: "Server Time-out"}

// md5hex is used by tests computing digests by hand.
func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// ServeTLS makes the peer listen for TLS too, with a certificate for
// 127.0.0.1 signed by a CA it writes to caFile; it gives the address.
func (p *Peer) ServeTLS(t testing.TB, caFile string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peer.example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"peer.example.test"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	l, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	go p.srv.ServeTLS(l)
	return l.Addr().String()
}
