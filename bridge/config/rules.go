package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/acdbridge/acdbridge/monitors"
)

// Threshold rules in the file:
//
//	rule "support_backlog" {
//	  queues          = ["support", "support/*"]
//	  when            = "waiting >= 5 || longest_wait > 120"
//	  for             = "30s"
//	  keep_firing_for = "1m"
//	  severity        = "warning"
//	  labels          = { team = "support" }
//	  annotations     = { summary = "${waiting} waiting in ${queue}" }
//	}
//
//	session_rule "negative_rating" {
//	  rating_at_most  = 2
//	  unresolved      = false
//	  queues          = ["support/*"]   # optional: every queue
//	  keep_firing_for = "10m"           # how long each session's alert stays firing
//	  severity        = "warning"
//	}
//
// `when` and the annotations are kept as text and checked by monitors, so
// that a mistake inside them points at its line and column in the file.
// Rules from the file are read-only through the API.

type ruleBlock struct {
	Name          string             `hcl:"name,label"`
	Queues        *[]string          `hcl:"queues"`
	When          hcl.Expression     `hcl:"when,optional"`
	For           *string            `hcl:"for"`
	KeepFiringFor *string            `hcl:"keep_firing_for"`
	Severity      *string            `hcl:"severity"`
	Labels        *map[string]string `hcl:"labels"`
	Annotations   hcl.Expression     `hcl:"annotations,optional"`
	Body          hcl.Body           `hcl:",body"`
	DefRange      hcl.Range          `hcl:",def_range"`
}

type sessionRuleBlock struct {
	Name          string             `hcl:"name,label"`
	RatingAtMost  *int               `hcl:"rating_at_most"`
	Unresolved    *bool              `hcl:"unresolved"`
	Queues        *[]string          `hcl:"queues"`
	KeepFiringFor *string            `hcl:"keep_firing_for"`
	Severity      *string            `hcl:"severity"`
	Labels        *map[string]string `hcl:"labels"`
	Annotations   hcl.Expression     `hcl:"annotations,optional"`
	Body          hcl.Body           `hcl:",body"`
	DefRange      hcl.Range          `hcl:",def_range"`
}

func (v *validator) rules(src []byte, filename string, qs []ruleBlock, ss []sessionRuleBlock) []monitors.Rule {
	var out []monitors.Rule
	seen := map[string]bool{}
	named := func(name string, at hcl.Range) bool {
		if seen[name] {
			v.failAt(at, fmt.Sprintf("rule %q is declared twice; rule and session_rule names share one space", name))
			return false
		}
		seen[name] = true
		return true
	}
	for _, b := range qs {
		if !named(b.Name, b.DefRange) {
			continue
		}
		r := monitors.Rule{Name: b.Name, Kind: monitors.QueueRuleKind, Pos: rulePos(filename, b.DefRange, b.Body)}
		if b.Queues != nil {
			r.Queues = *b.Queues
		}
		if s, ok := v.ruleText(b.Body, "when", b.When, &r.Pos); ok {
			r.When = s
		}
		v.duration(b.Body, "for", b.For, 0, &r.For)
		v.duration(b.Body, "keep_firing_for", b.KeepFiringFor, 0, &r.KeepFiringFor)
		if b.Severity != nil {
			r.Severity = *b.Severity
		}
		if b.Labels != nil {
			r.Labels = *b.Labels
		}
		r.Annotations = v.annotations(src, b.Body, b.Annotations, &r.Pos)
		out = append(out, v.checkRule(r))
	}
	for _, b := range ss {
		if !named(b.Name, b.DefRange) {
			continue
		}
		r := monitors.Rule{Name: b.Name, Kind: monitors.SessionRuleKind, Pos: rulePos(filename, b.DefRange, b.Body)}
		if b.RatingAtMost != nil {
			r.RatingAtMost = *b.RatingAtMost
		}
		if b.Unresolved != nil {
			r.Unresolved = *b.Unresolved
		}
		if b.Queues != nil {
			r.Queues = *b.Queues
		}
		v.duration(b.Body, "keep_firing_for", b.KeepFiringFor, 0, &r.KeepFiringFor)
		if b.Severity != nil {
			r.Severity = *b.Severity
		}
		if b.Labels != nil {
			r.Labels = *b.Labels
		}
		r.Annotations = v.annotations(src, b.Body, b.Annotations, &r.Pos)
		out = append(out, v.checkRule(r))
	}
	return out
}

// checkRule has monitors check the rule; its error carries the file's
// line and column.
func (v *validator) checkRule(r monitors.Rule) monitors.Rule {
	checked, err := monitors.CheckRule(r)
	if err != nil {
		re, ok := monitors.IsRuleError(err)
		if ok && re.Subject != nil {
			v.failAt(*re.Subject, fmt.Sprintf("rule %q: %s: %s", r.Name, re.Field, re.Msg))
		} else {
			v.failAt(r.Pos.Block, fmt.Sprintf("rule %q: %v", r.Name, err))
		}
		return r
	}
	return checked
}

// rulePos records where each attribute's value starts.
func rulePos(filename string, def hcl.Range, body hcl.Body) monitors.RulePos {
	p := monitors.RulePos{File: filename, Block: def, Fields: map[string]hcl.Pos{}, Annotations: map[string]hcl.Pos{}}
	if sb, ok := body.(*hclsyntax.Body); ok {
		for name, a := range sb.Attributes {
			p.Fields[name] = a.Expr.Range().Start
		}
	}
	return p
}

// ruleText reads a string attribute holding an expression, and records
// where its text starts (after the opening quote).
func (v *validator) ruleText(body hcl.Body, attr string, expr hcl.Expression, pos *monitors.RulePos) (string, bool) {
	if expr == nil {
		return "", false
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() || (!val.IsNull() && val.Type() != cty.String) {
		v.fail(body, attr, `expected the condition as a string, like when = "waiting >= 5 || longest_wait > 120"`)
		return "", false
	}
	if val.IsNull() {
		return "", false
	}
	pos.Fields[attr] = afterQuote(expr.Range().Start)
	return val.AsString(), true
}

func afterQuote(p hcl.Pos) hcl.Pos {
	return hcl.Pos{Line: p.Line, Column: p.Column + 1, Byte: p.Byte + 1}
}

// annotations reads annotations = { name = "template" } without evaluating
// the templates: each is kept as written, to be filled with the figures
// when the alert fires.
func (v *validator) annotations(src []byte, body hcl.Body, expr hcl.Expression, pos *monitors.RulePos) map[string]string {
	if expr == nil {
		return nil
	}
	if val, diags := expr.Value(nil); !diags.HasErrors() && val.IsNull() {
		return nil // absent
	}
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		v.fail(body, "annotations", `expected an object of templates, like { summary = "${waiting} waiting in ${queue}" }`)
		return nil
	}
	out := map[string]string{}
	for _, item := range obj.Items {
		kv, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() || kv.Type() != cty.String {
			v.failAt(item.KeyExpr.Range(), "annotations: expected a name as the key")
			continue
		}
		rng := item.ValueExpr.Range()
		if rng.End.Byte > len(src) || rng.End.Byte-rng.Start.Byte < 2 || src[rng.Start.Byte] != '"' || src[rng.End.Byte-1] != '"' {
			v.failAt(rng, fmt.Sprintf("annotations.%s: expected a quoted template, like \"${waiting} waiting\"", kv.AsString()))
			continue
		}
		out[kv.AsString()] = string(src[rng.Start.Byte+1 : rng.End.Byte-1])
		pos.Annotations[kv.AsString()] = afterQuote(rng.Start)
	}
	return out
}
