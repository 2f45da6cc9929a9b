package sip

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Content types and event packages.
const (
	EventPresence   = "presence"
	EventDialog     = "dialog"
	TypePIDF        = "application/pidf+xml"
	TypeDialogInfo  = "application/dialog-info+xml"
	nsPIDF          = "urn:ietf:params:xml:ns:pidf"
	nsDataModel     = "urn:ietf:params:xml:ns:pidf:data-model"
	nsRPID          = "urn:ietf:params:xml:ns:pidf:rpid"
	nsDialogInfo    = "urn:ietf:params:xml:ns:dialog-info"
	maxDocumentSize = 64 << 10
)

// Basic statuses (RFC 3863).
const (
	BasicOpen   = "open"
	BasicClosed = "closed"
)

// Presence is what a PIDF document says about one presentity: the basic
// status of its tuple, the RPID activities of its person (RFC 4480) and the
// note.
type Presence struct {
	Entity     string   // the presentity's SIP URI
	Basic      string   // open or closed
	Activities []string // RPID activity element names: busy, on-the-phone, away, ...
	Note       string
}

// Busy says whether the document shows the presentity unavailable: closed,
// or open with an activity other than none.
func (p Presence) Busy() bool {
	return p.Basic != BasicOpen || len(p.Activities) > 0 && !slices.Equal(p.Activities, []string{"unknown"})
}

// presenceOf is the document for an agent's availability. In a session the
// person's activity is busyActivity (busy or on-the-phone); away is away;
// offline is closed; the note says the reason.
func presenceOf(entity string, av availability, busyActivity string) Presence {
	p := Presence{Entity: entity, Basic: BasicOpen, Note: "available"}
	if av.available {
		return p
	}
	p.Note = av.reason
	if p.Note == "" {
		p.Note = av.state
	}
	switch av.state {
	case "offline":
		p.Basic = BasicClosed
	case "away":
		p.Activities = []string{"away"}
	default: // in_session and any other state the bridge decides by
		p.Activities = []string{busyActivity}
	}
	return p
}

// BuildPIDF writes p as a PIDF document (RFC 3863) with an RPID person
// (RFC 4480) when p has activities; id names the tuple and, with a "p"
// prefix, the person.
func BuildPIDF(p Presence, id string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<presence xmlns="` + nsPIDF + `"`)
	if len(p.Activities) > 0 {
		b.WriteString(` xmlns:dm="` + nsDataModel + `" xmlns:rpid="` + nsRPID + `"`)
	}
	b.WriteString(` entity="`)
	escape(&b, p.Entity)
	b.WriteString("\">\n  <tuple id=\"")
	escape(&b, id)
	b.WriteString("\">\n    <status><basic>" + p.Basic + "</basic></status>\n")
	element(&b, "contact", p.Entity)
	if p.Note != "" {
		element(&b, "note", p.Note)
	}
	b.WriteString("  </tuple>\n")
	if len(p.Activities) > 0 {
		b.WriteString("  <dm:person id=\"p")
		escape(&b, id)
		b.WriteString("\">\n    <rpid:activities>")
		for _, a := range p.Activities {
			b.WriteString("<rpid:" + a + "/>")
		}
		b.WriteString("</rpid:activities>\n")
		if p.Note != "" {
			element(&b, "dm:note", p.Note)
		}
		b.WriteString("  </dm:person>\n")
	}
	b.WriteString("</presence>\n")
	return b.Bytes()
}

// element writes a line "    <tag>text</tag>", text escaped.
func element(b *bytes.Buffer, tag, text string) {
	b.WriteString("    <" + tag + ">")
	escape(b, text)
	b.WriteString("</" + tag + ">\n")
}

func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a bytes.Buffer does not fail
}

// ParseError says what a document was expected to be and what came.
type ParseError struct {
	What string // "PIDF" or "dialog-info"
	Msg  string
}

func (e *ParseError) Error() string { return e.What + ": " + e.Msg }

type xmlPIDF struct {
	XMLName xml.Name `xml:"presence"`
	Entity  string   `xml:"entity,attr"`
	Tuples  []struct {
		ID     string `xml:"id,attr"`
		Status struct {
			Basic string `xml:"urn:ietf:params:xml:ns:pidf basic"`
		} `xml:"urn:ietf:params:xml:ns:pidf status"`
		Notes []string `xml:"urn:ietf:params:xml:ns:pidf note"`
	} `xml:"urn:ietf:params:xml:ns:pidf tuple"`
	Notes   []string `xml:"urn:ietf:params:xml:ns:pidf note"`
	Persons []struct {
		Activities []struct {
			Any []struct {
				XMLName xml.Name
			} `xml:",any"`
		} `xml:"urn:ietf:params:xml:ns:pidf:rpid activities"`
		Notes []string `xml:"urn:ietf:params:xml:ns:pidf:data-model note"`
	} `xml:"urn:ietf:params:xml:ns:pidf:data-model person"`
}

// ParsePIDF reads a PIDF document: the entity, the first tuple's basic
// status (open wins over closed when a server aggregated several tuples),
// every RPID activity of every person, and the first note (a tuple's, else
// the document's, else a person's).
func ParsePIDF(body []byte) (Presence, error) {
	var x xmlPIDF
	if err := decodeXML(body, "PIDF", &x); err != nil {
		return Presence{}, err
	}
	if x.XMLName.Space != nsPIDF {
		return Presence{}, &ParseError{"PIDF", fmt.Sprintf("expected a <presence> element in namespace %s; got <%s> in %q", nsPIDF, x.XMLName.Local, x.XMLName.Space)}
	}
	if x.Entity == "" {
		return Presence{}, &ParseError{"PIDF", "expected an entity attribute on <presence>; got none"}
	}
	p := Presence{Entity: strings.TrimSpace(x.Entity)}
	for _, t := range x.Tuples {
		switch b := strings.TrimSpace(t.Status.Basic); b {
		case BasicOpen:
			p.Basic = BasicOpen
		case BasicClosed:
			if p.Basic == "" {
				p.Basic = BasicClosed
			}
		case "":
		default:
			return Presence{}, &ParseError{"PIDF", fmt.Sprintf("expected <basic> open or closed in tuple %q; got %q", t.ID, b)}
		}
		if p.Note == "" && len(t.Notes) > 0 {
			p.Note = strings.TrimSpace(t.Notes[0])
		}
	}
	if p.Basic == "" {
		p.Basic = BasicClosed // RFC 3863: no tuple with a status says nothing open
	}
	if p.Note == "" && len(x.Notes) > 0 {
		p.Note = strings.TrimSpace(x.Notes[0])
	}
	for _, person := range x.Persons {
		for _, as := range person.Activities {
			for _, a := range as.Any {
				if a.XMLName.Space == nsRPID && !slices.Contains(p.Activities, a.XMLName.Local) {
					p.Activities = append(p.Activities, a.XMLName.Local)
				}
			}
		}
		if p.Note == "" && len(person.Notes) > 0 {
			p.Note = strings.TrimSpace(person.Notes[0])
		}
	}
	return p, nil
}

// decodeXML decodes one XML document, refusing an empty or oversized body
// and anything after the root element.
func decodeXML(body []byte, what string, v any) error {
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return &ParseError{what, "expected an XML document; got an empty body"}
	case len(body) > maxDocumentSize:
		return &ParseError{what, fmt.Sprintf("expected at most %d bytes; got %d", maxDocumentSize, len(body))}
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return &ParseError{what, "expected an XML document; got " + err.Error()}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return &ParseError{what, "after the root element: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return &ParseError{what, fmt.Sprintf("expected nothing after the root element; got text %q", truncate(string(t), 40))}
			}
		case xml.Comment, xml.ProcInst:
		default:
			return &ParseError{what, "expected nothing after the root element; got another element"}
		}
	}
}

// DialogInfo is what a dialog-info document (RFC 4235) says: a BLF lamp is
// lit while a dialog is early or confirmed.
type DialogInfo struct {
	Entity  string
	Version uint64
	State   string // full or partial
	Dialogs []Dialog
}

// Dialog is one dialog of a dialog-info document.
type Dialog struct {
	ID        string
	Direction string // initiator, recipient or empty
	State     string // trying, proceeding, early, confirmed, terminated
}

// Busy says whether a dialog is early or confirmed.
func (d DialogInfo) Busy() bool {
	for _, x := range d.Dialogs {
		if x.State != "terminated" {
			return true
		}
	}
	return false
}

// dialogInfoOf is the dialog-info document for an agent: one confirmed
// dialog while unavailable (a lit lamp), one terminated dialog otherwise.
func dialogInfoOf(entity string, av availability, version uint64, id string) DialogInfo {
	d := Dialog{ID: id, Direction: "recipient", State: "terminated"}
	if !av.available && av.state != "offline" {
		d.State = "confirmed"
	}
	return DialogInfo{Entity: entity, Version: version, State: "full", Dialogs: []Dialog{d}}
}

// BuildDialogInfo writes d as a dialog-info document (RFC 4235).
func BuildDialogInfo(d DialogInfo) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<dialog-info xmlns="` + nsDialogInfo + `" version="` + strconv.FormatUint(d.Version, 10) + `" state="` + d.State + `" entity="`)
	escape(&b, d.Entity)
	b.WriteString("\">\n")
	for _, x := range d.Dialogs {
		b.WriteString(`  <dialog id="`)
		escape(&b, x.ID)
		b.WriteString(`"`)
		if x.Direction != "" {
			b.WriteString(` direction="` + x.Direction + `"`)
		}
		b.WriteString(">\n    <state>" + x.State + "</state>\n  </dialog>\n")
	}
	b.WriteString("</dialog-info>\n")
	return b.Bytes()
}

var dialogStates = []string{"trying", "proceeding", "early", "confirmed", "terminated"}

// ParseDialogInfo reads a dialog-info document (RFC 4235).
func ParseDialogInfo(body []byte) (DialogInfo, error) {
	var x struct {
		XMLName xml.Name `xml:"dialog-info"`
		Version string   `xml:"version,attr"`
		State   string   `xml:"state,attr"`
		Entity  string   `xml:"entity,attr"`
		Dialogs []struct {
			ID        string `xml:"id,attr"`
			Direction string `xml:"direction,attr"`
			State     string `xml:"urn:ietf:params:xml:ns:dialog-info state"`
		} `xml:"urn:ietf:params:xml:ns:dialog-info dialog"`
	}
	if err := decodeXML(body, "dialog-info", &x); err != nil {
		return DialogInfo{}, err
	}
	if x.XMLName.Space != nsDialogInfo {
		return DialogInfo{}, &ParseError{"dialog-info", fmt.Sprintf("expected a <dialog-info> element in namespace %s; got <%s> in %q", nsDialogInfo, x.XMLName.Local, x.XMLName.Space)}
	}
	v, err := strconv.ParseUint(strings.TrimSpace(x.Version), 10, 64)
	if err != nil {
		return DialogInfo{}, &ParseError{"dialog-info", fmt.Sprintf("expected a version attribute with a number; got %q", x.Version)}
	}
	d := DialogInfo{Entity: strings.TrimSpace(x.Entity), Version: v, State: x.State}
	if d.State != "full" && d.State != "partial" {
		return DialogInfo{}, &ParseError{"dialog-info", fmt.Sprintf("expected state full or partial; got %q", x.State)}
	}
	if d.Entity == "" {
		return DialogInfo{}, &ParseError{"dialog-info", "expected an entity attribute; got none"}
	}
	for _, dl := range x.Dialogs {
		s := strings.TrimSpace(dl.State)
		if !slices.Contains(dialogStates, s) {
			return DialogInfo{}, &ParseError{"dialog-info", fmt.Sprintf("expected dialog %q's state to be one of %s; got %q", dl.ID, strings.Join(dialogStates, ", "), s)}
		}
		if dl.ID == "" {
			return DialogInfo{}, &ParseError{"dialog-info", "expected an id attribute on every <dialog>; got one without"}
		}
		d.Dialogs = append(d.Dialogs, Dialog{ID: dl.ID, Direction: dl.Direction, State: s})
	}
	return d, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
