package sip

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDocumentsGolden builds the document for every state and compares it
// with testcases/<name>.xml byte for byte, then parses it back.
func TestDocumentsGolden(t *testing.T) {
	const aor = "sip:alice@example.test"
	tests := []struct {
		name       string
		av         availability
		activity   string
		basic      string
		activities []string
		note       string
		dialog     string // the dialog-info's dialog state
	}{
		{"available", availability{available: true, state: "available"}, "on-the-phone", BasicOpen, nil, "available", "terminated"},
		{"in-session", availability{state: "in_session", reason: "remote-support"}, "on-the-phone", BasicOpen, []string{"on-the-phone"}, "remote-support", "confirmed"},
		{"in-session-busy", availability{state: "in_session", reason: "remote-support"}, "busy", BasicOpen, []string{"busy"}, "remote-support", "confirmed"},
		{"away", availability{state: "away", reason: "break <15 min> & back"}, "on-the-phone", BasicOpen, []string{"away"}, "break <15 min> & back", "confirmed"},
		{"offline", availability{state: "offline", reason: "remote-support"}, "on-the-phone", BasicClosed, nil, "remote-support", "terminated"},
		{"no-reason", availability{state: "in_session"}, "busy", BasicOpen, []string{"busy"}, "in_session", "confirmed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := BuildPIDF(presenceOf(aor, tc.av, tc.activity), tupleID(aor))
			golden(t, "pidf-"+tc.name+".xml", string(body))
			p, err := ParsePIDF(body)
			if err != nil {
				t.Fatal(err)
			}
			if p.Entity != aor || p.Basic != tc.basic || !slices.Equal(p.Activities, tc.activities) || p.Note != tc.note {
				t.Fatalf("parsed %+v, want basic %s activities %v note %q", p, tc.basic, tc.activities, tc.note)
			}
			if p.Busy() != (!tc.av.available) {
				t.Fatalf("Busy() = %v for %+v", p.Busy(), tc.av)
			}

			body = BuildDialogInfo(dialogInfoOf(aor, tc.av, 7, tupleID(aor)))
			golden(t, "dialog-info-"+tc.name+".xml", string(body))
			d, err := ParseDialogInfo(body)
			if err != nil {
				t.Fatal(err)
			}
			if d.Entity != aor || d.Version != 7 || d.State != "full" || len(d.Dialogs) != 1 || d.Dialogs[0].State != tc.dialog || d.Dialogs[0].Direction != "recipient" {
				t.Fatalf("parsed %+v, want one %s dialog at version 7", d, tc.dialog)
			}
		})
	}
}

// TestParsePIDF reads documents as servers write them: Kamailio's
// reference NOTIFY bodies, aggregated tuples, prefixes other than ours.
func TestParsePIDF(t *testing.T) {
	tests := []struct {
		name, body string
		want       Presence
		err        string
	}{
		{"kamailio reference", `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.test">
  <tuple id="tnt6dj">
    <status><basic>closed</basic></status>
    <contact>sip:alice@example.test</contact>
    <note>note-weasi06i</note>
  </tuple>
</presence>`, Presence{Entity: "sip:alice@example.test", Basic: BasicClosed, Note: "note-weasi06i"}, ""},
		{"other prefixes, two tuples", `<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" xmlns:x="urn:ietf:params:xml:ns:pidf:data-model" xmlns:r="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:bob@x">
<p:tuple id="a"><p:status><p:basic>closed</p:basic></p:status></p:tuple>
<p:tuple id="b"><p:status><p:basic>open</p:basic></p:status></p:tuple>
<x:person id="p"><r:activities><r:busy/><r:on-the-phone/><other xmlns="urn:example"/></r:activities><x:note>in a call</x:note></x:person>
</p:presence>`, Presence{Entity: "sip:bob@x", Basic: BasicOpen, Activities: []string{"busy", "on-the-phone"}, Note: "in a call"}, ""},
		{"no tuple", `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"/>`, Presence{Entity: "sip:a@b", Basic: BasicClosed}, ""},
		{"empty", "", Presence{}, "PIDF: expected an XML document; got an empty body"},
		{"not XML", "SIP/2.0 200 OK", Presence{}, "PIDF: expected an XML document; got EOF"},
		{"truncated", `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><tuple>`, Presence{}, "PIDF: expected an XML document; got XML syntax error on line 1: unexpected EOF"},
		{"wrong namespace", `<presence entity="sip:a@b"/>`, Presence{}, `PIDF: expected a <presence> element in namespace urn:ietf:params:xml:ns:pidf; got <presence> in ""`},
		{"wrong root", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"/>`, Presence{}, "PIDF: expected an XML document; got expected element type <presence> but have <dialog-info>"},
		{"no entity", `<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`, Presence{}, "PIDF: expected an entity attribute on <presence>; got none"},
		{"bad basic", `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><tuple id="t"><status><basic>busy</basic></status></tuple></presence>`, Presence{}, `PIDF: expected <basic> open or closed in tuple "t"; got "busy"`},
		{"trailing element", `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"/><presence/>`, Presence{}, "PIDF: expected nothing after the root element; got another element"},
		{"trailing text", `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"/>junk`, Presence{}, `PIDF: expected nothing after the root element; got text "junk"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePIDF([]byte(tc.body))
			if tc.err != "" {
				var pe *ParseError
				if err == nil || err.Error() != tc.err || !errors.As(err, &pe) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Entity != tc.want.Entity || got.Basic != tc.want.Basic || !slices.Equal(got.Activities, tc.want.Activities) || got.Note != tc.want.Note {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseDialogInfo(t *testing.T) {
	tests := []struct {
		name, body string
		busy       bool
		err        string
	}{
		{"early", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="partial" entity="sip:a@b"><dialog id="x"><state>early</state></dialog></dialog-info>`, true, ""},
		{"no dialogs", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full" entity="sip:a@b"/>`, false, ""},
		{"bad version", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="x" state="full" entity="sip:a@b"/>`, false, `dialog-info: expected a version attribute with a number; got "x"`},
		{"bad state", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="some" entity="sip:a@b"/>`, false, `dialog-info: expected state full or partial; got "some"`},
		{"no entity", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"/>`, false, "dialog-info: expected an entity attribute; got none"},
		{"bad dialog state", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:a@b"><dialog id="d"><state>ringing</state></dialog></dialog-info>`, false, `dialog-info: expected dialog "d"'s state to be one of trying, proceeding, early, confirmed, terminated; got "ringing"`},
		{"dialog without id", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:a@b"><dialog><state>early</state></dialog></dialog-info>`, false, "dialog-info: expected an id attribute on every <dialog>; got one without"},
		{"wrong namespace", `<dialog-info version="1" state="full" entity="sip:a@b"/>`, false, `dialog-info: expected a <dialog-info> element in namespace urn:ietf:params:xml:ns:dialog-info; got <dialog-info> in ""`},
		{"PIDF", `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"/>`, false, "dialog-info: expected an XML document; got expected element type <dialog-info> but have <presence>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDialogInfo([]byte(tc.body))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Busy() != tc.busy {
				t.Fatalf("%+v: Busy() = %v, want %v", d, d.Busy(), tc.busy)
			}
		})
	}
}

// seedCorpus adds the golden documents and the reference captures' bodies.
func seedCorpus(f *testing.F, prefix string) {
	files, _ := filepath.Glob(filepath.Join("testcases", prefix+"*.xml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, ref := range []string{"kamailio-5.6-presence-auth-udp.txt", "kamailio-5.6-presence-tcp.txt"} {
		b, err := os.ReadFile(filepath.Join("testcases", "reference", ref))
		if err != nil {
			f.Fatal(err)
		}
		for _, part := range strings.Split(string(b), "<?xml")[1:] {
			doc, _, _ := strings.Cut("<?xml"+part, "-----")
			f.Add([]byte(doc))
		}
	}
}

// FuzzParsePIDF: any input gives a document or a *ParseError, never a
// panic; a document parsed, built again and parsed is the same.
func FuzzParsePIDF(f *testing.F) {
	seedCorpus(f, "pidf-")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePIDF(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%T is not a *ParseError: %v", err, err)
			}
			return
		}
		var acts []string
		for _, a := range p.Activities {
			if isName(a) {
				acts = append(acts, a)
			}
		}
		p.Activities = acts
		again, err := ParsePIDF(BuildPIDF(p, "t1"))
		if err != nil {
			t.Fatalf("rebuilt %+v does not parse: %v", p, err)
		}
		if again.Entity != strings.TrimSpace(p.Entity) || again.Basic != p.Basic || !slices.Equal(again.Activities, p.Activities) {
			t.Fatalf("round trip: %+v became %+v", p, again)
		}
	})
}

// isName keeps names the builder can write as element names.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r == '-' || r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// FuzzParseDialogInfo: any input gives a document or a *ParseError.
func FuzzParseDialogInfo(f *testing.F) {
	seedCorpus(f, "dialog-info-")
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDialogInfo(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%T is not a *ParseError: %v", err, err)
			}
			return
		}
		again, err := ParseDialogInfo(BuildDialogInfo(d))
		if err != nil {
			t.Fatalf("rebuilt %+v does not parse: %v", d, err)
		}
		if again.Version != d.Version || again.Busy() != d.Busy() || len(again.Dialogs) != len(d.Dialogs) {
			t.Fatalf("round trip: %+v became %+v", d, again)
		}
	})
}

// FuzzParseEvent: an Event header value gives a package and an id, or
// not ok; never a panic, never an upper-case package.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{"presence", "dialog;id=blf1", `Dialog ; ID="x"`, "", ";id=1", "presence;;", "message-summary"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ev, _, ok := parseEvent(s)
		if ok && (ev == "" || strings.ToLower(ev) != ev) {
			t.Fatalf("parseEvent(%q) = %q", s, ev)
		}
	})
}

// FuzzNormalizeURI: an identity gives sip:user@host (or sips:) or an
// error; a normalized URI normalizes to itself.
func FuzzNormalizeURI(f *testing.F) {
	for _, s := range []string{"sip:alice@example.test", "1001", "PJSIP/1001", "sips:bob@EXAMPLE.test:5061;transport=tls", "sip:@x", "alice@x", "sip:a@b?x=y", "tel:+123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := normalizeURI(s, "example.test")
		if err != nil {
			return
		}
		if !strings.HasPrefix(u, "sip:") && !strings.HasPrefix(u, "sips:") || !strings.Contains(u, "@") {
			t.Fatalf("normalizeURI(%q) = %q", s, u)
		}
		again, err := normalizeURI(u, "example.test")
		if err != nil || again != u {
			t.Fatalf("normalizeURI(%q) = %q, then %q %v", s, u, again, err)
		}
	})
}
