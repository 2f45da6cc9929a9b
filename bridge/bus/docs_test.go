package bus

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated parts of docs/events.md")

const eventsDoc = "../../docs/events.md"

// docBlocks are the parts of docs/events.md that come from the code, by
// name: each sits between "<!-- begin NAME -->" and "<!-- end NAME -->".
func docBlocks(t *testing.T) map[string]string {
	t.Helper()
	jsonBlock := func(data []byte, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, data, "", "  "); err != nil {
			t.Fatal(err)
		}
		return "```json\n" + out.String() + "\n```"
	}
	blocks := map[string]string{
		"example agent": fmt.Sprintf("Subject `%s`, key `%s` in KV bucket `%s`:\n\n%s",
			AgentSubject(sampleAgent().ID), Token(sampleAgent().ID), BucketAgents, jsonBlock(EncodeAgent(sampleAgent()))),
		"example queue": fmt.Sprintf("Subject `%s`, key `%s` in KV bucket `%s`:\n\n%s",
			QueueSubject(sampleQueue().ID), Token(sampleQueue().ID), BucketQueues, jsonBlock(EncodeQueue(sampleQueue()))),
		"example availability": fmt.Sprintf("Subject `%s`, key `%s` in KV bucket `%s`:\n\n%s",
			AvailabilitySubject(sampleAvailability().AgentID), Token(sampleAvailability().AgentID), BucketAvailability,
			jsonBlock(EncodeAvailability(sampleAvailability()))),
		"example request": fmt.Sprintf("Subject `%s`, `Nats-Msg-Id: request-%s-%s` in stream `%s`:\n\n%s",
			RequestSubject(sampleRequest().Queue), Token(sampleRequest().ID), Token(sampleRequest().Status), StreamEvents,
			jsonBlock(EncodeRequest(sampleRequest()))),
		"example session": fmt.Sprintf("Subject `%s`, `Nats-Msg-Id: session-%s` in stream `%s`:\n\n%s",
			SessionSubject(sampleSession().Queue), Token(sampleSession().ID), StreamEvents,
			jsonBlock(EncodeSession(sampleSession()))),
		"example session record": fmt.Sprintf("Subject `%s`, `Nats-Msg-Id: session-%s` in stream `%s`:\n\n%s",
			SessionSubject(sampleRecord().Queue), Token(sampleRecord().ID), StreamEvents,
			jsonBlock(EncodeSessionMsg(sampleRecord()))),
	}

	var tokens strings.Builder
	tokens.WriteString("| id | token (KV key) | subject |\n| --- | --- | --- |\n")
	for _, id := range []string{"a-0001", "support/printers", "jo.doe@example.com", "Zoë Ng", "x=y", "*"} {
		fmt.Fprintf(&tokens, "| `%s` | `%s` | `%s` |\n", id, Token(id), AgentSubject(id))
	}
	blocks["tokens"] = strings.TrimSuffix(tokens.String(), "\n")

	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)\t// doc:begin (\w+)\n(.*?)\t// doc:end\n`)
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		lines := strings.Split(strings.TrimSuffix(m[2], "\n"), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "\t")
		}
		blocks["go "+m[1]] = "```go\n" + strings.Join(lines, "\n") + "\n```"
	}
	if len(blocks) != 10 {
		t.Fatalf("%d doc blocks, want 10 (did a doc:begin marker in example_test.go go missing?)", len(blocks))
	}
	return blocks
}

// TestEventsDoc fails when docs/events.md no longer shows what the code
// writes. go test ./bridge/bus -run TestEventsDoc -update rewrites it.
func TestEventsDoc(t *testing.T) {
	raw, err := os.ReadFile(eventsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	blocks := docBlocks(t)
	names := make([]string, 0, len(blocks))
	for name := range blocks {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		begin, end := "<!-- begin "+name+" -->\n", "<!-- end "+name+" -->"
		i := strings.Index(doc, begin)
		j := strings.Index(doc[max(i, 0):], end)
		if i < 0 || j < 0 {
			t.Errorf("%s lacks %q ... %q", eventsDoc, strings.TrimSpace(begin), end)
			continue
		}
		start, stop := i+len(begin), i+j
		want := blocks[name] + "\n"
		if got := doc[start:stop]; got != want {
			if *update {
				doc = doc[:start] + want + doc[stop:]
				continue
			}
			t.Errorf("%s, %s, is stale (go test ./bridge/bus -run TestEventsDoc -update):\n got:\n%s\nwant:\n%s", eventsDoc, name, got, want)
		}
	}
	for _, m := range regexp.MustCompile(`<!-- begin (.+?) -->`).FindAllStringSubmatch(doc, -1) {
		if _, ok := blocks[m[1]]; !ok {
			t.Errorf("%s has a generated part %q that the code no longer makes", eventsDoc, m[1])
		}
	}
	if *update {
		if err := os.WriteFile(eventsDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The JSON shown is exactly what the encoders write, re-indented.
	for name, enc := range map[string]func() ([]byte, error){
		"example agent":          func() ([]byte, error) { return EncodeAgent(sampleAgent()) },
		"example queue":          func() ([]byte, error) { return EncodeQueue(sampleQueue()) },
		"example availability":   func() ([]byte, error) { return EncodeAvailability(sampleAvailability()) },
		"example request":        func() ([]byte, error) { return EncodeRequest(sampleRequest()) },
		"example session":        func() ([]byte, error) { return EncodeSession(sampleSession()) },
		"example session record": func() ([]byte, error) { return EncodeSessionMsg(sampleRecord()) },
	} {
		want, _ := enc()
		_, block, ok1 := strings.Cut(doc, "<!-- begin "+name+" -->")
		_, shown, ok2 := strings.Cut(block, "```json\n")
		shown, _, ok3 := strings.Cut(shown, "\n```")
		if !ok1 || !ok2 || !ok3 {
			t.Errorf("%s: no JSON block in %s", name, eventsDoc)
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(shown)); err != nil || compact.String() != string(want) {
			t.Errorf("%s: the doc shows %s; the encoder writes %s (%v)", name, compact.String(), want, err)
		}
	}
}

// TestEventsDocNames: every subject, bucket and stream the code uses is
// named in the doc.
func TestEventsDocNames(t *testing.T) {
	raw, err := os.ReadFile(eventsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, want := range []string{
		"`acdbridge.agent.<agent>`", "`acdbridge.queue.<queue>`", "`acdbridge.availability.<agent>`",
		"`acdbridge.request.<queue>`", "`acdbridge.session.<queue>`", "`acdbridge.alert.<rule>`",
		"`" + BucketAgents + "`", "`" + BucketQueues + "`", "`" + BucketAvailability + "`", "`" + StreamEvents + "`",
		"KV-Operation: DEL", "Nats-Msg-Id", fmt.Sprintf("`\"v\": %d`", Version),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("%s does not mention %s", eventsDoc, want)
		}
	}
}
