package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/mcpwarden/mcpwarden/internal/policy/destructive"
)

// CEL variables available in a rule's when: condition.
//
//	principal  map   {user, groups, auth, claims}
//	client     map   {name, version}
//	session    map   {id, labels, servers}
//	server     string
//	method     string
//	name       string  the tool/prompt name or resource uri as sent (canonical(name) for the compared form)
//	tool       map   {name, description, annotations, known, trusted, labels}
//	args       dyn   params.arguments as JSON values
//	meta       dyn   params._meta as JSON values
//	call       map   destructive-action facts (docs/destructive.md), plus call.sql.kind
//	findings   list(string)
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("principal", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("client", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("session", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("server", cel.StringType),
		cel.Variable("method", cel.StringType),
		cel.Variable("name", cel.StringType),
		cel.Variable("tool", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("args", cel.DynType),
		cel.Variable("meta", cel.DynType),
		cel.Variable("call", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("findings", cel.ListType(cel.StringType)),
		ext.Strings(),
		cel.Function("canonical", cel.Overload("canonical_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.Value().(string)
				if !ok {
					return types.NewErr("canonical: want a string")
				}
				return types.String(Canonical(s))
			}))),
	)
})

// Warm builds what compiling a policy's first condition builds once per process (the CEL environment,
// the CEL parser's tables, the facts' shape: about 1.5 ms), so that a caller with other start-up work can
// run it beside that work. Calling it is optional and safe for concurrent use; it changes nothing a
// policy compiles to.
func Warm() {
	_, _, _ = compileWhen("call.destructive")
}

// maxWhenLen bounds a condition's source; cost limits bound its evaluation.
const maxWhenLen = 4096

func compileWhen(src string) (cel.Program, map[string]bool, error) {
	if len(src) > maxWhenLen {
		return nil, nil, fmt.Errorf("the condition is %d bytes; keep it under %d", len(src), maxWhenLen)
	}
	env, err := celEnv()
	if err != nil {
		return nil, nil, fmt.Errorf("CEL environment: %w", err)
	}
	checked, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, nil, fmt.Errorf("%s", strings.TrimSpace(iss.Err().Error()))
	}
	if !checked.OutputType().IsExactType(cel.BoolType) && !checked.OutputType().IsExactType(cel.DynType) {
		return nil, nil, fmt.Errorf("the condition must be a boolean expression, not %s", checked.OutputType())
	}
	vars := map[string]bool{}
	nav := ast.NavigateAST(checked.NativeRep())
	for _, id := range ast.MatchDescendants(nav, ast.KindMatcher(ast.IdentKind)) {
		vars[id.AsIdent()] = true
	}
	if err := checkFactPaths(nav); err != nil {
		return nil, nil, err
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(200_000))
	if err != nil {
		return nil, nil, fmt.Errorf("%w", err)
	}
	return prg, vars, nil
}

// factSchema is the shape of the call variable: every key the facts have, nested.
var factSchema = sync.OnceValue(func() map[string]any {
	f := destructive.Classify(destructive.ToolInfo{}, json.RawMessage(`{}`), destructive.Options{})
	return factsMap(&f)
})

// checkFactPaths rejects call.x.y selections that name no fact, so a typo is a load error, not a rule that
// silently never matches.
func checkFactPaths(nav ast.NavigableExpr) error {
	for _, sel := range ast.MatchDescendants(nav, ast.KindMatcher(ast.SelectKind)) {
		if p, ok := sel.Parent(); ok && p.Kind() == ast.SelectKind {
			continue // checked as part of the longest chain
		}
		var path []string
		e := ast.Expr(sel)
		for e.Kind() == ast.SelectKind {
			path = append(path, e.AsSelect().FieldName())
			e = e.AsSelect().Operand()
		}
		if e.Kind() != ast.IdentKind || e.AsIdent() != "call" {
			continue
		}
		slices.Reverse(path)
		var cur any = factSchema()
		for i, k := range path {
			m, ok := cur.(map[string]any)
			if !ok || len(m) == 0 {
				break // a list or a free-form map: no fixed keys below
			}
			next, ok := m[k]
			if !ok {
				known := make([]string, 0, len(m))
				for kk := range m {
					known = append(known, kk)
				}
				sort.Strings(known)
				return fmt.Errorf("call.%s is not a fact (known under call%s: %s)", strings.Join(path[:i+1], "."),
					strings.TrimSuffix("."+strings.Join(path[:i], "."), "."), strings.Join(known, ", "))
			}
			cur = next
		}
	}
	return nil
}

// sqlKindRank orders statement kinds from riskiest to least, for call.sql.kind.
var sqlKindRank = []string{"ddl", "revoke", "grant", "delete", "update", "copy", "call", "insert", "set", "other", "transaction", "select"}

// factsMap is facts.AsMap plus call.sql.kind: the shape of the call variable.
func factsMap(f *destructive.Facts) map[string]any {
	m := f.AsMap()
	if sql, ok := m["sql"].(map[string]any); ok {
		sql["kind"] = sqlKind(f.SQL.Kinds)
	}
	return m
}

// activation resolves CEL variables lazily from the evaluation's Input.
type activation struct {
	e              *evaluation
	args, meta     any
	argsOK, metaOK bool
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) ResolveName(name string) (any, bool) {
	in := a.e.in
	switch name {
	case "principal":
		claims := in.Principal.Claims
		if claims == nil {
			claims = map[string]any{}
		}
		groups := in.Principal.Groups
		if groups == nil {
			groups = []string{}
		}
		scopes := in.Principal.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		return map[string]any{"id": in.Principal.ID, "user": in.Principal.User, "groups": groups, "auth": in.Principal.Auth,
			"claims": claims, "email": in.Principal.Email, "issuer": in.Principal.Issuer, "scopes": scopes}, true
	case "client":
		return map[string]string{"name": in.ClientName, "version": in.ClientVersion}, true
	case "session":
		labels := in.Labels
		if labels == nil {
			labels = []string{}
		}
		servers := in.SessionServers
		if servers == nil {
			servers = []string{}
		}
		return map[string]any{"id": in.SessionID, "labels": labels, "servers": servers}, true
	case "server":
		return in.Server, true
	case "method":
		return in.Method, true
	case "name":
		return in.Name, true
	case "tool":
		tl := in.ToolLabels
		if tl == nil {
			tl = []string{}
		}
		t := map[string]any{"name": in.Name, "description": "", "annotations": a.e.annotations(), "known": in.Tool != nil, "trusted": false,
			"labels": tl}
		if in.Tool != nil {
			t["description"], t["trusted"] = in.Tool.Description, in.Tool.Trusted
		}
		return t, true
	case "args":
		if !a.argsOK {
			a.args, a.argsOK = jsonValue(in.Arguments), true
		}
		return a.args, true
	case "meta":
		if !a.metaOK {
			a.meta, a.metaOK = jsonValue(in.Meta), true
		}
		return a.meta, true
	case "call":
		return a.e.callFacts(), true
	case "findings":
		if in.Findings == nil {
			return []string{}, true
		}
		return in.Findings, true
	}
	return nil, false
}

func jsonValue(raw json.RawMessage) any {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil || v == nil {
		return map[string]any{}
	}
	return v
}

var emptyFacts = sync.OnceValue(func() *destructive.Facts {
	f := destructive.Classify(destructive.ToolInfo{}, json.RawMessage(`{}`), destructive.Options{})
	return &f
})

// callFacts returns the facts as a CEL value, classifying once per evaluation (only for tools/call).
func (e *evaluation) callFacts() ref.Val {
	if e.factsVal != nil {
		return e.factsVal
	}
	switch {
	case e.in.Method != "tools/call":
		e.factsVal = newFactsValue(emptyFacts())
		return e.factsVal
	case e.in.Facts != nil:
		e.facts = e.in.Facts
	default:
		f := classify(e.in, e.p.opts.Destructive)
		e.facts = &f
	}
	e.factsVal = newFactsValue(e.facts)
	return e.factsVal
}

// mergeFacts adds what meta revealed to the arguments' facts: flags are OR-ed, lists joined, read_only
// AND-ed, so _meta can only make a call look riskier.
func mergeFacts(args, meta destructive.Facts) destructive.Facts {
	if !(meta.Destructive || meta.Incomplete || meta.SQL.Present || meta.Shell.Present || meta.Paths.Present || meta.HTTP.Present) {
		return args
	}
	a, _ := json.Marshal(args)
	m, _ := json.Marshal(meta)
	var am, mm map[string]any
	_ = json.Unmarshal(a, &am)
	_ = json.Unmarshal(m, &mm)
	merged := mergeValue(am, mm, "")
	b, _ := json.Marshal(merged)
	var out destructive.Facts
	if json.Unmarshal(b, &out) != nil {
		args.Destructive, args.ReadOnly = true, false
		return args
	}
	return out
}

func mergeValue(a, b any, key string) any {
	switch av := a.(type) {
	case bool:
		bv, _ := b.(bool)
		if key == "read_only" {
			return av && bv
		}
		return av || bv
	case []any:
		bv, _ := b.([]any)
		return append(av, bv...)
	case map[string]any:
		bv, _ := b.(map[string]any)
		for k, v := range bv {
			if cur, ok := av[k]; ok {
				av[k] = mergeValue(cur, v, k)
			} else {
				av[k] = v
			}
		}
		return av
	case float64:
		bv, _ := b.(float64)
		return av + bv
	case string:
		if av == "" {
			return b
		}
		return av
	}
	if a == nil {
		return b
	}
	return a
}
