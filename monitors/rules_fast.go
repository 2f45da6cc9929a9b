package monitors

import (
	"math/big"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A condition is evaluated for every queue a rule watches, on every tick:
// 200 rules over 5,000 queues is a million evaluations. HCL's evaluator
// allocates for each (about 3 µs), so the usual shape of a condition,
// comparisons of figures with numbers joined by && || !, is compiled to Go
// closures here. It gives exactly HCL's answer: a figure is a float64 (cty
// holds it exactly), only literals a float64 holds exactly are taken, and
// there is no arithmetic (which HCL does in arbitrary precision). Anything
// else is left to HCL; TestFastMatchesHCL compares the two.

// fastVals are a queue's figures in the order of fastVars.
type fastVals struct {
	queue string
	n     [4]float64
}

var fastVars = map[string]int{"waiting": 0, "longest_wait": 1, "agents_available": 2, "agents_logged_in": 3}

// compileFast compiles a condition, or returns nil when it is not of the
// supported shape.
func compileFast(expr hclsyntax.Expression) func(*fastVals) bool {
	f, ok := fastBool(expr)
	if !ok {
		return nil
	}
	return f
}

func fastBool(expr hclsyntax.Expression) (func(*fastVals) bool, bool) {
	switch e := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return fastBool(e.Expression)
	case *hclsyntax.LiteralValueExpr:
		if e.Val.Type() == cty.Bool && e.Val.IsKnown() && !e.Val.IsNull() {
			v := e.Val.True()
			return func(*fastVals) bool { return v }, true
		}
	case *hclsyntax.UnaryOpExpr:
		if e.Op == hclsyntax.OpLogicalNot {
			if f, ok := fastBool(e.Val); ok {
				return func(v *fastVals) bool { return !f(v) }, true
			}
		}
	case *hclsyntax.BinaryOpExpr:
		switch e.Op {
		case hclsyntax.OpLogicalAnd, hclsyntax.OpLogicalOr:
			l, ok1 := fastBool(e.LHS)
			r, ok2 := fastBool(e.RHS)
			if !ok1 || !ok2 {
				return nil, false
			}
			if e.Op == hclsyntax.OpLogicalAnd {
				return func(v *fastVals) bool { return l(v) && r(v) }, true
			}
			return func(v *fastVals) bool { return l(v) || r(v) }, true
		case hclsyntax.OpEqual, hclsyntax.OpNotEqual:
			neg := e.Op == hclsyntax.OpNotEqual
			if l, ok := fastNum(e.LHS); ok {
				if r, ok := fastNum(e.RHS); ok {
					return func(v *fastVals) bool { return (l(v) == r(v)) != neg }, true
				}
			}
			if l, ok := fastStr(e.LHS); ok {
				if r, ok := fastStr(e.RHS); ok {
					return func(v *fastVals) bool { return (l(v) == r(v)) != neg }, true
				}
			}
		case hclsyntax.OpGreaterThan, hclsyntax.OpGreaterThanOrEqual, hclsyntax.OpLessThan, hclsyntax.OpLessThanOrEqual:
			l, ok1 := fastNum(e.LHS)
			r, ok2 := fastNum(e.RHS)
			if !ok1 || !ok2 {
				return nil, false
			}
			switch e.Op {
			case hclsyntax.OpGreaterThan:
				return func(v *fastVals) bool { return l(v) > r(v) }, true
			case hclsyntax.OpGreaterThanOrEqual:
				return func(v *fastVals) bool { return l(v) >= r(v) }, true
			case hclsyntax.OpLessThan:
				return func(v *fastVals) bool { return l(v) < r(v) }, true
			default:
				return func(v *fastVals) bool { return l(v) <= r(v) }, true
			}
		}
	}
	return nil, false
}

func fastNum(expr hclsyntax.Expression) (func(*fastVals) float64, bool) {
	switch e := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return fastNum(e.Expression)
	case *hclsyntax.LiteralValueExpr:
		if e.Val.Type() != cty.Number || !e.Val.IsKnown() || e.Val.IsNull() {
			return nil, false
		}
		f, acc := e.Val.AsBigFloat().Float64()
		if acc != big.Exact {
			return nil, false
		}
		return func(*fastVals) float64 { return f }, true
	case *hclsyntax.ScopeTraversalExpr:
		if len(e.Traversal) != 1 {
			return nil, false
		}
		i, ok := fastVars[e.Traversal.RootName()]
		if !ok {
			return nil, false
		}
		return func(v *fastVals) float64 { return v.n[i] }, true
	}
	return nil, false
}

func fastStr(expr hclsyntax.Expression) (func(*fastVals) string, bool) {
	switch e := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return fastStr(e.Expression)
	case *hclsyntax.TemplateExpr:
		if len(e.Parts) != 1 {
			return nil, false
		}
		lit, ok := e.Parts[0].(*hclsyntax.LiteralValueExpr)
		if !ok || lit.Val.Type() != cty.String || !lit.Val.IsKnown() || lit.Val.IsNull() {
			return nil, false
		}
		s := lit.Val.AsString()
		return func(*fastVals) string { return s }, true
	case *hclsyntax.ScopeTraversalExpr:
		if len(e.Traversal) == 1 && e.Traversal.RootName() == "queue" {
			return func(v *fastVals) string { return v.queue }, true
		}
	}
	return nil, false
}
