package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Adapter is one adapter "TYPE" "NAME" { ... } block: an instance of an
// adapter type. Its settings are the adapter's to validate (in Configure);
// the bridge only turns them into JSON and keeps where each one stands, so
// that the adapter's errors point at the line.
type Adapter struct {
	Type     string
	Name     string
	Settings []byte               // the attributes as a JSON object
	Ranges   map[string]hcl.Range // where each setting stands
	DefRange hcl.Range
}

type adapterBlock struct {
	Type     string    `hcl:"type,label"`
	Name     string    `hcl:"name,label"`
	Remain   hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

// DefaultAdapters is what `acdbridge run` delivers to without a config: the
// log adapter, printing every call.
func DefaultAdapters() []Adapter {
	return []Adapter{{Type: "log", Name: "console", Settings: []byte(`{}`), Ranges: map[string]hcl.Range{}}}
}

func (v *validator) adapters(blocks []adapterBlock) []Adapter {
	var out []Adapter
	seen := map[string]bool{}
	for _, b := range blocks {
		// Names are unique across types: an instance's name keys its
		// durable consumer, its metrics and its column in the API.
		if seen[b.Name] {
			v.failAt(b.DefRange, fmt.Sprintf("adapter %q %q: the name %q is taken by another adapter block; give each instance its own name", b.Type, b.Name, b.Name))
			continue
		}
		seen[b.Name] = true
		if !validName(b.Type) || !validName(b.Name) {
			v.failAt(b.DefRange, fmt.Sprintf("adapter %q %q: expected a type and a name of a-z, 0-9, - and _", b.Type, b.Name))
			continue
		}
		attrs, diags := b.Remain.JustAttributes()
		if diags.HasErrors() {
			v.diags = append(v.diags, diags...)
			continue
		}
		a := Adapter{Type: b.Type, Name: b.Name, Ranges: map[string]hcl.Range{}, DefRange: b.DefRange}
		vals := map[string]cty.Value{}
		names := make([]string, 0, len(attrs))
		for name := range attrs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			attr := attrs[name]
			val, diags := attr.Expr.Value(EvalContext())
			if diags.HasErrors() {
				v.diags = append(v.diags, diags...)
				continue
			}
			vals[name] = val
			a.Ranges[name] = attr.Expr.Range()
		}
		obj := cty.ObjectVal(vals)
		js, err := ctyjson.Marshal(obj, obj.Type())
		if err != nil {
			v.failAt(b.DefRange, fmt.Sprintf("adapter %q %q: settings cannot be turned into JSON: %v", b.Type, b.Name, err))
			continue
		}
		a.Settings = js
		out = append(out, a)
	}
	return out
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// FieldError renders an adapter's complaint about one of its settings at the
// setting's place in the config file: file:line:col: adapter "T" "N": field: message.
func (a Adapter) FieldError(field, message string) string {
	rng := a.DefRange
	top, _, _ := strings.Cut(field, ".")
	if r, ok := a.Ranges[top]; ok {
		rng = r
	}
	where := ""
	if rng.Filename != "" {
		where = fmt.Sprintf("%s:%d:%d: ", rng.Filename, rng.Start.Line, rng.Start.Column)
	}
	if field == "" {
		return fmt.Sprintf("%sadapter %q %q: %s", where, a.Type, a.Name, message)
	}
	return fmt.Sprintf("%sadapter %q %q: %s: %s", where, a.Type, a.Name, field, message)
}
