package simulator

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

var firstNames = []string{"Ada", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Gustav", "Hana", "Ivan", "Jonas", "Keiko", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe"}
var lastNames = []string{"Abara", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist", "Rossi", "Silva", "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zimmer"}
var problems = []string{
	"printer prints blank pages", "cannot connect to VPN", "email stuck in outbox",
	"laptop very slow after update", "forgot password for the portal", "scanner not detected",
	"application crashes on start", "Wi-Fi drops every few minutes", "cannot install the new client",
	"second monitor stays black", "invoice PDF does not open", "sync conflict in shared folder",
}
var customerLines = []string{
	"Hi, thanks for taking this.", "It started this morning.", "I already restarted it twice.",
	"Yes, I can see your cursor now.", "It shows an error code, one moment.", "That seems to have worked!",
	"Should I stay on the line?", "Great, thank you so much.",
}
var agentLines = []string{
	"Hello, I'm connected to your screen now.", "Could you show me the error message?",
	"I'm going to check the driver version.", "I'll restart the service, it takes a minute.",
	"Please try again now.", "I've sent you a log collector, please run it.",
	"Everything looks good on my side.", "Is there anything else I can help with?",
}
var fileNames = []string{"support-log.zip", "driver-installer.exe", "screenshot.png", "config-backup.xml", "diagnostics.txt", "patch-4.2.1.msi"}
var osNames = []string{"Windows 11 Pro 23H2", "Windows 10 Enterprise 22H2", "macOS 14.5", "macOS 15.1", "Ubuntu 24.04 LTS", "ChromeOS 126"}
var softwareNames = []string{"Google Chrome", "Mozilla Firefox", "Microsoft Office", "Zoom", "Slack", "Adobe Acrobat Reader", "7-Zip", "VLC media player", "Cisco AnyConnect", "Teams"}
var goodComments = []string{"Quick and friendly, thank you!", "Solved in minutes.", "Very patient agent.", "Great help.", ""}
var badComments = []string{"Took far too long.", "Problem is still not fixed.", "I was disconnected twice.", "Had to explain everything again.", ""}
var transferReasons = []string{"escalated to tier 2", "needs billing access", "specialist for this model"}

// recordSeed gives each session id its own random stream, so a record does
// not depend on the order in which records are read.
func recordSeed(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// sessionInfo is what a record is built from: the parts the engine decided
// (who, where, when) for a live session, or all of it for a history session.
type sessionInfo struct {
	id, requestID, agentID, queue, externalRef string
	start, end                                 int64
	customer                                   Customer
	fields                                     map[string]string
	history                                    bool
}

// buildRecord makes a session's whole record. Everything not in info is drawn
// from a random stream seeded by the scenario's seed and the session id, in
// a fixed order, so the same seed gives byte-identical records.
func (e *Engine) buildRecord(info sessionInfo) SessionRecord {
	rng := rand.New(rand.NewPCG(e.sc.Seed, recordSeed(info.id)))
	start, end := time.Unix(0, info.start).UTC(), time.Unix(0, info.end).UTC()
	if info.history {
		info.customer, info.fields = randomCustomer(rng)
		info.fields["problem"] = problems[rng.IntN(len(problems))]
	}
	rec := SessionRecord{
		ID:              info.id,
		RequestID:       info.requestID,
		AgentID:         info.agentID,
		Queue:           info.queue,
		ExternalRef:     info.externalRef,
		StartedAt:       start,
		EndedAt:         end,
		DurationSeconds: end.Sub(start).Seconds(),
		Customer:        info.customer,
		Fields:          info.fields,
		Events:          []SessionEvent{},
		Resolution:      "resolved",
		ReplayURL:       "https://replay.example.invalid/sessions/" + info.id,
	}
	if rec.Fields == nil {
		rec.Fields = map[string]string{}
	}
	span := end.Sub(start)
	at := func(share float64) time.Time {
		return start.Add(time.Duration(share * float64(span))).Truncate(time.Millisecond)
	}

	sw := make([]Software, 0, 6)
	for _, i := range rng.Perm(len(softwareNames))[:3+rng.IntN(4)] {
		sw = append(sw, Software{Name: softwareNames[i], Version: fmt.Sprintf("%d.%d.%d", 1+rng.IntN(120), rng.IntN(20), rng.IntN(5000))})
	}
	slices.SortFunc(sw, func(a, b Software) int { return cmpString(a.Name, b.Name) })
	rec.Events = append(rec.Events, SessionEvent{At: at(0.02), Type: EventDiagnostics, Diagnostics: &Diagnostics{
		OS:       osNames[rng.IntN(len(osNames))],
		Hostname: fmt.Sprintf("DESKTOP-%06X", rng.IntN(1<<24)),
		MemoryMB: 4096 << rng.IntN(4),
		Software: sw,
	}})
	lines := 2 + rng.IntN(9)
	for i := range lines {
		share := 0.05 + 0.9*float64(i)/float64(lines)
		if i%2 == 0 {
			rec.Events = append(rec.Events, SessionEvent{At: at(share), Type: EventChat, From: info.agentID, Text: agentLines[rng.IntN(len(agentLines))]})
		} else {
			rec.Events = append(rec.Events, SessionEvent{At: at(share), Type: EventChat, From: "customer", Text: customerLines[rng.IntN(len(customerLines))]})
		}
	}
	for range rng.IntN(3) {
		dir, from := "to_customer", info.agentID
		if rng.IntN(2) == 0 {
			dir, from = "from_customer", "customer"
		}
		rec.Events = append(rec.Events, SessionEvent{At: at(0.1 + 0.8*rng.Float64()), Type: EventFileTransfer, From: from,
			File: &FileInfo{Name: fileNames[rng.IntN(len(fileNames))], Size: int64(1024 + rng.IntN(8<<20)), Direction: dir}})
	}
	if rng.Float64() < 0.2 {
		rec.Events = append(rec.Events, SessionEvent{At: at(0.3 + 0.4*rng.Float64()), Type: EventReboot, From: info.agentID, Text: "remote reboot, session reconnected"})
	}
	if rng.Float64() < 0.1 && len(e.agents) > 1 {
		to := e.agents[rng.IntN(len(e.agents))].id
		if to != info.agentID {
			rec.Events = append(rec.Events, SessionEvent{At: at(0.85), Type: EventTransfer, From: info.agentID, To: to, Text: transferReasons[rng.IntN(len(transferReasons))]})
		}
	}
	sort.SliceStable(rec.Events, func(i, j int) bool { return rec.Events[i].At.Before(rec.Events[j].At) })

	sm := e.sc.Sessions
	if rng.Float64() < sm.UnresolvedShare {
		rec.Resolution = "unresolved"
	}
	if rng.Float64() < sm.SurveyShare {
		s := &Survey{}
		if rng.Float64() < sm.NegativeShare {
			s.Rating = 1 + rng.IntN(2)
			s.Comment = badComments[rng.IntN(len(badComments))]
		} else {
			s.Rating = []int{3, 4, 4, 5, 5, 5}[rng.IntN(6)]
			s.Comment = goodComments[rng.IntN(len(goodComments))]
		}
		rec.Survey = s
	}
	size := recordingSize(rng, sm.RecordingMin, sm.RecordingMax)
	rec.Recording = Recording{Size: size, SHA256: e.recordingSHA(info.id, size), URL: "/v1/sessions/" + info.id + "/recording"}
	return rec
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// recordingSize is log-uniform between lo and hi bytes.
func recordingSize(rng *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	f := math.Exp(math.Log(float64(lo)) + rng.Float64()*(math.Log(float64(hi))-math.Log(float64(lo))))
	return min(max(int64(f), lo), hi)
}

func randomCustomer(rng *rand.Rand) (Customer, map[string]string) {
	first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
	c := Customer{Name: first + " " + last, Email: fmt.Sprintf("%s.%s@customer.example", lower(first), lower(last))}
	fields := map[string]string{
		"serial_number": fmt.Sprintf("SN-%08X", rng.Uint32()),
		"account":       fmt.Sprintf("ACC-%05d", rng.IntN(100000)),
	}
	return c, fields
}

// recordingSHA is the sha256 of a recording's bytes, remembered for the last
// few thousand recordings.
func (e *Engine) recordingSHA(id string, size int64) string {
	e.shaMu.Lock()
	if s, ok := e.shaCache[id]; ok {
		e.shaMu.Unlock()
		return s
	}
	e.shaMu.Unlock()
	h := sha256.New()
	if _, err := io.Copy(h, e.newRecording(id, size)); err != nil {
		panic("simulator: recording generator failed: " + err.Error()) // cannot happen: it never errors
	}
	s := hex.EncodeToString(h.Sum(nil))
	e.shaMu.Lock()
	if len(e.shaCache) >= 4096 {
		clear(e.shaCache)
	}
	e.shaCache[id] = s
	e.shaMu.Unlock()
	return s
}

// recording is a session's recording: size bytes that depend only on the
// seed and the session id, generated block by block so any offset can be
// read without the bytes before it.
type recording struct {
	seed, key uint64
	size, off int64
	block     int64
	buf       [recordingBlock]byte
}

const recordingBlock = 64 << 10

func (e *Engine) newRecording(id string, size int64) *recording {
	return &recording{seed: e.sc.Seed ^ 0x5245434f5244, key: recordSeed(id), size: size, block: -1}
}

func (r *recording) fill(b int64) {
	if r.block == b {
		return
	}
	g := rand.NewPCG(r.seed^r.key, uint64(b))
	for i := 0; i < recordingBlock; i += 8 {
		binary.LittleEndian.PutUint64(r.buf[i:], g.Uint64())
	}
	if b == 0 {
		copy(r.buf[:], "ACDBRIDGE-SIMULATED-RECORDING\n")
	}
	r.block = b
}

func (r *recording) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.off < r.size {
		b := r.off / recordingBlock
		r.fill(b)
		in := r.off - b*recordingBlock
		c := copy(p[n:], r.buf[in:min(int64(recordingBlock), r.size-b*recordingBlock)])
		n += c
		r.off += int64(c)
	}
	return n, nil
}

func (r *recording) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("recording: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("recording: negative position")
	}
	r.off = offset
	return offset, nil
}
