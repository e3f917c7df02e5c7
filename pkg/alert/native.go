package alert

import (
	"math"

	"github.com/expr-lang/expr/ast"

	"github.com/weatherd/weatherd/pkg/weather"
)

// This file turns a type-checked rule expression into Go closures that read
// only the values it uses, straight from the reading's array: no
// environment map, no boxing, no VM. Every reading meets every rule, and
// with the expr VM a reading that changes nothing cost about half a
// microsecond per rule. It covers what rules are made of — numbers,
// arithmetic (+ - * /), comparisons, !, && and || — and gives up on anything
// else (the VM runs those). A missing or null value is NaN, as in the VM's
// environment, and float64 arithmetic and comparison are IEEE in both, so a
// native check gives the VM's result for every input
// (TestEvaluator_ReusedMatchesFresh compares them).

type (
	numFn  func(*weather.Values) float64
	boolFn func(*weather.Values) bool
)

// nativeBool compiles a boolean node; ok is false when it has a node this
// file does not know.
func nativeBool(n ast.Node) (boolFn, bool) {
	switch n := n.(type) {
	case *ast.BoolNode:
		b := n.Value
		return func(*weather.Values) bool { return b }, true
	case *ast.ConstantNode:
		b, ok := n.Value.(bool)
		return func(*weather.Values) bool { return b }, ok
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil, false
		}
		x, ok := nativeBool(n.Node)
		if !ok {
			return nil, false
		}
		return func(v *weather.Values) bool { return !x(v) }, true
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and", "||", "or":
			l, lok := nativeBool(n.Left)
			r, rok := nativeBool(n.Right)
			if !lok || !rok {
				return nil, false
			}
			if n.Operator == "&&" || n.Operator == "and" {
				return func(v *weather.Values) bool { return l(v) && r(v) }, true
			}
			return func(v *weather.Values) bool { return l(v) || r(v) }, true
		case "<", "<=", ">", ">=", "==", "!=":
			return nativeCompare(n)
		}
	}
	return nil, false
}

// nativeCompare compiles a comparison of two numbers. The usual shape, a
// value against a constant, is one closure.
func nativeCompare(n *ast.BinaryNode) (boolFn, bool) {
	if !hasValue(n.Left) && !hasValue(n.Right) {
		return nil, false // constants only: expr's integer rules apply
	}
	op := n.Operator
	if id, ok := n.Left.(*ast.IdentifierNode); ok {
		if c, ok := constant(n.Right); ok {
			if i, ok := valueIndex[id.Value]; ok && op != "!=" {
				return compareSlot(i, op, c), true
			}
		}
	}
	l, lok := nativeNum(n.Left)
	r, rok := nativeNum(n.Right)
	if !lok || !rok {
		return nil, false
	}
	switch op {
	case "<":
		return func(v *weather.Values) bool { return l(v) < r(v) }, true
	case "<=":
		return func(v *weather.Values) bool { return l(v) <= r(v) }, true
	case ">":
		return func(v *weather.Values) bool { return l(v) > r(v) }, true
	case ">=":
		return func(v *weather.Values) bool { return l(v) >= r(v) }, true
	case "==":
		return func(v *weather.Values) bool { return l(v) == r(v) }, true
	default: // "!="
		return func(v *weather.Values) bool { return l(v) != r(v) }, true
	}
}

// compareSlot is value op c for slot i; a missing or null value (NaN)
// makes it false, as every comparison but != with NaN is.
func compareSlot(i int, op string, c float64) boolFn {
	switch op {
	case "<":
		return func(v *weather.Values) bool { x, ok := v.At(i); return ok && x < c }
	case "<=":
		return func(v *weather.Values) bool { x, ok := v.At(i); return ok && x <= c }
	case ">":
		return func(v *weather.Values) bool { x, ok := v.At(i); return ok && x > c }
	case ">=":
		return func(v *weather.Values) bool { x, ok := v.At(i); return ok && x >= c }
	default: // "=="
		return func(v *weather.Values) bool { x, ok := v.At(i); return ok && x == c }
	}
}

// nativeNum compiles a numeric node.
func nativeNum(n ast.Node) (numFn, bool) {
	if c, ok := constant(n); ok {
		return func(*weather.Values) float64 { return c }, true
	}
	switch n := n.(type) {
	case *ast.IdentifierNode:
		i, ok := valueIndex[n.Value]
		if !ok {
			return nil, false
		}
		return func(v *weather.Values) float64 {
			if x, ok := v.At(i); ok {
				return x
			}
			return math.NaN()
		}, true
	case *ast.UnaryNode:
		x, ok := nativeNum(n.Node)
		switch {
		case !ok || !hasValue(n.Node):
			return nil, false
		case n.Operator == "-":
			return func(v *weather.Values) float64 { return -x(v) }, true
		case n.Operator == "+":
			return x, true
		}
	case *ast.BinaryNode:
		// With a value on either side expr computes in float64, as here;
		// between constants alone it would use integers.
		if !hasValue(n.Left) && !hasValue(n.Right) {
			return nil, false
		}
		l, lok := nativeNum(n.Left)
		r, rok := nativeNum(n.Right)
		if !lok || !rok {
			return nil, false
		}
		switch n.Operator {
		case "+":
			return func(v *weather.Values) float64 { return l(v) + r(v) }, true
		case "-":
			return func(v *weather.Values) float64 { return l(v) - r(v) }, true
		case "*":
			return func(v *weather.Values) float64 { return l(v) * r(v) }, true
		case "/":
			return func(v *weather.Values) float64 { return l(v) / r(v) }, true
		}
	}
	return nil, false
}

// constant is a number literal's value.
func constant(n ast.Node) (float64, bool) {
	switch n := n.(type) {
	case *ast.FloatNode:
		return n.Value, true
	case *ast.IntegerNode:
		return float64(n.Value), true
	case *ast.ConstantNode:
		switch x := n.Value.(type) {
		case float64:
			return x, true
		case int:
			return float64(x), true
		}
	case *ast.UnaryNode:
		// A negative literal is unary minus on a number; on an integer,
		// expr negates the integer (-0 is 0, not -0.0).
		if i, ok := n.Node.(*ast.IntegerNode); ok && n.Operator == "-" {
			return float64(-i.Value), true
		}
		c, ok := constant(n.Node)
		switch {
		case ok && n.Operator == "-":
			return -c, true
		case ok && n.Operator == "+":
			return c, true
		}
	}
	return 0, false
}

// hasValue reports whether n reads a reading value (so expr computes it in
// float64).
func hasValue(n ast.Node) bool {
	found := false
	ast.Find(n, func(m ast.Node) bool {
		if id, ok := m.(*ast.IdentifierNode); ok {
			if _, known := valueIndex[id.Value]; known {
				found = true
			}
		}
		return false
	})
	return found
}
