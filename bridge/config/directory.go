package config

import (
	"fmt"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/acdbridge/acdbridge/bridge/directory"
)

// directory { file = "agents.csv"  template { interface = "PJSIP/${extension}" }  agent "a-0001" { extension = "1001" } }
type directoryBlock struct {
	File      *string         `hcl:"file"`
	Templates *templateBlock  `hcl:"template,block"`
	Agents    []dirAgentBlock `hcl:"agent,block"`
	Body      hcl.Body        `hcl:",body"`
}

// templateBlock keeps its attributes as expressions: "PJSIP/${extension}"
// is evaluated per agent, with the agent's columns as variables.
type templateBlock struct {
	Remain hcl.Body `hcl:",remain"`
}

type dirAgentBlock struct {
	ID       string    `hcl:"id,label"`
	Remain   hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

func (v *validator) directory(b *directoryBlock, filename string) directory.Config {
	c := directory.Config{Rows: map[string]directory.Row{}, Templates: map[string]directory.Template{}}
	if b.File != nil {
		c.File = *b.File
		if c.File != "" && !filepath.IsAbs(c.File) && filename != "" {
			c.File = filepath.Join(filepath.Dir(filename), c.File) // relative to the config file
		}
	}
	if b.Templates != nil {
		attrs, diags := b.Templates.Remain.JustAttributes()
		v.diags = append(v.diags, diags...)
		for name, a := range attrs {
			c.Templates[name] = directory.Template{Expr: a.Expr}
		}
	}
	for _, ab := range b.Agents {
		if _, dup := c.Rows[ab.ID]; dup {
			v.failAt(ab.DefRange, fmt.Sprintf("agent %q is listed twice in the directory", ab.ID))
			continue
		}
		attrs, diags := ab.Remain.JustAttributes()
		v.diags = append(v.diags, diags...)
		row := directory.Row{}
		for name, a := range attrs {
			val, d := a.Expr.Value(EvalContext())
			if d.HasErrors() {
				v.diags = append(v.diags, d...)
				continue
			}
			str, err := asString(val)
			if err != nil {
				v.failAt(a.Expr.Range(), fmt.Sprintf("%s: %v", name, err))
				continue
			}
			row[name] = str
		}
		c.Rows[ab.ID] = row
	}
	if !v.diags.HasErrors() {
		// Read the file now, so that a bad row is an error of this config.
		if _, err := directory.Load(c); err != nil {
			v.fail(b.Body, "file", err.Error())
		}
	}
	return c
}

// asString takes a string, or a number or bool written without quotes.
func asString(v cty.Value) (string, error) {
	if v.IsNull() || !v.IsKnown() {
		return "", fmt.Errorf("expected a value, got null")
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", fmt.Errorf("expected a string, got %s", v.Type().FriendlyName())
	}
	return sv.AsString(), nil
}
