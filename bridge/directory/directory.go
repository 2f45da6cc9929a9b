// Package directory is the agent directory: each agent's identities in the
// other systems (an ACD interface or agent name, a SIP URI, an email, a
// ticketing user), from a CSV file and inline rows, with templates for the
// regular cases (interface = "PJSIP/${extension}"). Adapters receive these
// identities with every availability.
package directory

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/acdbridge/acdbridge/monitors"
)

// Config is where the directory comes from.
type Config struct {
	File      string              // CSV: a header row with agent_id first, then any columns
	Rows      map[string]Row      // inline rows by agent id; they override the file's
	Templates map[string]Template // identities computed from each agent's columns
}

// Row is one agent's columns.
type Row map[string]string

// Template is an HCL template ("PJSIP/${extension}") kept unevaluated until
// an agent's columns are known.
type Template struct {
	Expr hcl.Expression
}

// Directory answers an agent's identities. It is immutable: a reload makes
// a new one.
type Directory struct {
	rows      map[string]Row
	templates map[string]Template
	names     []string // template names, sorted
}

// Load reads the file (if any) and builds the directory. Errors name the
// file, line and column.
func Load(c Config) (*Directory, error) {
	d := &Directory{rows: map[string]Row{}, templates: c.Templates}
	if c.File != "" {
		f, err := os.Open(c.File)
		if err != nil {
			return nil, fmt.Errorf("directory: %w", err)
		}
		defer f.Close()
		if err := d.readCSV(f, c.File); err != nil {
			return nil, err
		}
	}
	for id, r := range c.Rows {
		merged := Row{}
		for k, v := range d.rows[id] {
			merged[k] = v
		}
		for k, v := range r {
			merged[k] = v
		}
		d.rows[id] = merged
	}
	for name := range c.Templates {
		d.names = append(d.names, name)
	}
	sort.Strings(d.names)
	return d, nil
}

func (d *Directory) readCSV(r io.Reader, name string) error {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: expected a header row starting with agent_id, got an empty file", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(header) == 0 || strings.TrimSpace(header[0]) != "agent_id" {
		return fmt.Errorf("%s:1: expected the first column to be agent_id, got %q", name, header[0])
	}
	cols := make([]string, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" || !validColumn(h) {
			return fmt.Errorf("%s:1: column %d: expected a name of a-z, 0-9 and _, got %q", name, i+1, h)
		}
		if slices.Contains(cols[:i], h) {
			return fmt.Errorf("%s:1: column %q appears twice", name, h)
		}
		cols[i] = h
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		id := strings.TrimSpace(rec[0])
		if id == "" {
			return fmt.Errorf("%s:%d: expected an agent_id, got an empty one", name, line)
		}
		if _, dup := d.rows[id]; dup {
			return fmt.Errorf("%s:%d: agent %q is listed twice", name, line, id)
		}
		row := Row{}
		for i, v := range rec[1:] {
			if v = strings.TrimSpace(v); v != "" {
				row[cols[i+1]] = v
			}
		}
		d.rows[id] = row
	}
}

func validColumn(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Len is the number of agents with a row.
func (d *Directory) Len() int { return len(d.rows) }

// Identities are an agent's identities: its row's columns, then each
// template evaluated over the row and the agent's id, name and email. A
// template that needs a column the agent lacks gives no identity (the
// agent simply has none for that system); the error lists what was missing.
func (d *Directory) Identities(a monitors.Agent) (map[string]string, error) {
	row := d.rows[a.ID]
	out := map[string]string{}
	vars := map[string]cty.Value{
		"id": cty.StringVal(a.ID), "name": cty.StringVal(a.Name), "email": cty.StringVal(a.Email),
	}
	for k, v := range row {
		out[k] = v
		vars[k] = cty.StringVal(v)
	}
	var missing []string
	for _, name := range d.names {
		if _, explicit := row[name]; explicit {
			continue // a row's own value wins over the template
		}
		v, diags := d.templates[name].Expr.Value(&hcl.EvalContext{Variables: vars})
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
			missing = append(missing, name)
			continue
		}
		out[name] = v.AsString()
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("agent %s: no %s: the templates need columns the agent's row lacks", a.ID, strings.Join(missing, ", "))
	}
	return out, nil
}
