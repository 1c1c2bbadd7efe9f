package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/mcpwarden/mcpwarden/internal/policy/destructive"
)

// Options tune compilation and evaluation.
type Options struct {
	// Destructive configures the destructive-action classifiers (roots, home, SQL dialect, role overrides).
	Destructive destructive.Options
}

// Policy is a compiled policy. It is immutable and safe for concurrent use.
type Policy struct {
	// Mode is enforce or monitor.
	Mode Mode
	// Default is the effect for calls no rule decides.
	Default Effect
	// Version is a short hash of the policy's source; Source names where it came from.
	Version, Source string
	// External is the external decision point, nil when none is configured.
	External *External

	rules  []*rule
	always []int            // rules not indexed by name
	byName map[string][]int // canonical literal name → rules naming it
	opts   Options
}

// Rules returns the number of rules.
func (p *Policy) Rules() int { return len(p.rules) }

// RuleIDs returns the rule ids in evaluation order.
func (p *Policy) RuleIDs() []string {
	ids := make([]string, len(p.rules))
	for i, r := range p.rules {
		ids[i] = r.id
	}
	return ids
}

type rule struct {
	id, file     string
	line         int
	effect       Effect
	message      string
	users        matcher
	groups       matcher
	auth         matcher
	clients      matcher
	servers      matcher
	methods      matcher
	names        map[string]matcher // "tools"/"prompts"/"resources" → patterns; nil = any name
	labels       []string
	findings     matcher
	annotations  map[string]bool
	prg          cel.Program
	argDependent bool
	usesCall     bool
	redact       []*regexp.Regexp
	limitCount   int
	limitPer     time.Duration
	limitBy      []string
}

func compile(d *document, opts Options) (*Policy, Errors) {
	p := &Policy{Mode: d.Mode, Default: d.Default, External: d.External, byName: map[string][]int{}, opts: opts}
	var errs Errors
	for i, s := range d.Rules {
		r := &rule{
			id: s.id, file: s.file, line: s.line, effect: s.Effect, message: s.Message,
			users: newMatcher(s.Users), groups: newMatcher(s.Groups), auth: newMatcher(s.Auth),
			clients: newMatcher(s.Clients), servers: newMatcher(s.Servers), methods: newMatcher(s.Methods),
			findings: newMatcher(s.Findings), annotations: s.Annotations,
			limitCount: s.LimitCount, limitPer: s.LimitPer, limitBy: s.LimitBy,
		}
		for _, l := range s.Labels {
			r.labels = append(r.labels, Canonical(l))
		}
		for kind, pats := range map[string][]string{"tools": s.Tools, "prompts": s.Prompts, "resources": s.Resources} {
			if len(pats) > 0 {
				if r.names == nil {
					r.names = map[string]matcher{}
				}
				r.names[kind] = newMatcher(pats)
			}
		}
		for _, m := range s.Methods {
			if strings.TrimSpace(m) == "" {
				errs = append(errs, &Error{File: s.file, Line: s.line, Rule: s.id, Msg: "methods: an empty method name matches nothing"})
			}
		}
		for _, pat := range s.Redact {
			re, err := regexp.Compile(pat)
			if err != nil {
				errs = append(errs, &Error{File: s.file, Line: s.line, Rule: s.id, Msg: fmt.Sprintf("redact: %q is not a valid regular expression: %v", pat, err)})
				continue
			}
			r.redact = append(r.redact, re)
		}
		if s.When != "" {
			prg, vars, err := compileWhen(s.When)
			if err != nil {
				line := s.whenLine
				if line == 0 {
					line = s.line
				}
				errs = append(errs, &Error{File: s.file, Line: line, Rule: s.id, Msg: "when: " + err.Error()})
				continue
			}
			r.prg = prg
			r.usesCall = vars["call"]
			r.argDependent = vars["args"] || vars["meta"] || vars["call"]
		}
		p.rules = append(p.rules, r)
		if lits, ok := r.indexNames(); ok {
			for _, n := range lits {
				if l := p.byName[n]; len(l) == 0 || l[len(l)-1] != i {
					p.byName[n] = append(p.byName[n], i)
				}
			}
		} else {
			p.always = append(p.always, i)
		}
	}
	return p, errs
}

// indexNames returns the literal names a rule applies to, when it applies to named things only.
func (r *rule) indexNames() ([]string, bool) {
	if r.names == nil {
		return nil, false
	}
	var all []string
	for _, m := range r.names {
		lits := m.literals()
		if lits == nil {
			return nil, false
		}
		all = append(all, lits...)
	}
	slices.Sort(all)
	return slices.Compact(all), true
}

// evaluation holds the lazily computed views of one Input.
type evaluation struct {
	p    *Policy
	in   *Input
	name string // canonical Name
	// canonical Method, Server, ClientName, Principal.User, Principal.Auth
	method, server, client, user, auth string
	kind                               string // "tools", "prompts", "resources" or "" (from Method)
	ann                                map[string]any
	annDone                            bool
	facts                              *destructive.Facts
	factsVal                           *factsValue
	act                                *activation
}

func (p *Policy) newEvaluation(in *Input) *evaluation {
	return &evaluation{p: p, in: in, name: Canonical(in.Name), kind: callMethods[in.Method],
		method: Canonical(in.Method), server: Canonical(in.Server), client: Canonical(in.ClientName),
		user: Canonical(in.Principal.User), auth: Canonical(in.Principal.Auth)}
}

// candidates calls fn for the rules that may apply to the evaluation's name, in order, until fn returns false.
func (e *evaluation) candidates(fn func(*rule) bool) {
	a, b := e.p.always, e.p.byName[e.name]
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var k int
		if j >= len(b) || (i < len(a) && a[i] < b[j]) {
			k = a[i]
			i++
		} else {
			k = b[j]
			j++
		}
		if !fn(e.p.rules[k]) {
			return
		}
	}
}

// static reports whether the rule's non-CEL matchers match.
func (e *evaluation) static(r *rule) bool {
	in := e.in
	if len(r.methods) > 0 {
		if !r.methods.match(e.method) {
			return false
		}
	} else if e.kind == "" {
		return false
	}
	if r.names != nil {
		m, ok := r.names[e.kind]
		if !ok || !m.match(e.name) {
			return false
		}
	}
	if !r.servers.match(e.server) || !r.clients.match(e.client) || !r.users.match(e.user) || !r.auth.match(e.auth) ||
		!r.groups.matchAny(in.Principal.Groups) || !r.findings.matchAny(in.Findings) {
		return false
	}
	for _, l := range r.labels {
		if !slices.ContainsFunc(in.Labels, func(s string) bool { return Canonical(s) == l }) {
			return false
		}
	}
	if len(r.annotations) > 0 {
		ann := e.annotations()
		for k, want := range r.annotations {
			got, ok := ann[k].(bool)
			if !ok || got != want {
				return false
			}
		}
	}
	return true
}

func (e *evaluation) annotations() map[string]any {
	if !e.annDone {
		e.annDone = true
		if e.in.Tool != nil && len(e.in.Tool.Annotations) > 0 {
			_ = json.Unmarshal(e.in.Tool.Annotations, &e.ann)
		}
		if e.ann == nil {
			e.ann = map[string]any{}
		}
	}
	return e.ann
}

// when evaluates the rule's CEL condition. A missing key or attribute is "no match"; any other error
// counts as a match for rules that restrict (deny, ask, limit) and as no match for the others, so an
// error never weakens a decision.
func (e *evaluation) when(r *rule, d *Decision) bool {
	if r.prg == nil {
		return true
	}
	if e.act == nil {
		e.act = &activation{e: e}
	}
	out, _, err := r.prg.Eval(e.act)
	if err == nil {
		b, ok := out.Value().(bool)
		if ok {
			return b
		}
		err = fmt.Errorf("result is %s, not a bool", out.Type().TypeName())
	}
	msg := err.Error()
	if strings.Contains(msg, "no such key") || strings.Contains(msg, "no such attribute") {
		return false
	}
	d.Errors = append(d.Errors, r.id+": "+msg)
	return r.effect == Deny || r.effect == Ask || r.effect == Limit
}

// Evaluate decides for one Input. It is pure: no I/O and no clock.
func (p *Policy) Evaluate(in *Input) Decision {
	e := p.newEvaluation(in)
	d := Decision{Policy: p.Version, Monitor: p.Mode == Monitor}
	decided := false
	e.candidates(func(r *rule) bool {
		if !e.static(r) || !e.when(r, &d) {
			return true
		}
		switch r.effect {
		case Redact:
			d.Redactions = append(d.Redactions, Redaction{RuleID: r.id, Patterns: r.redact})
			return true
		case Limit:
			d.Limits = append(d.Limits, LimitHit{RuleID: r.id, Key: e.limitKey(r), Count: r.limitCount, Per: r.limitPer, Message: r.message})
			return true
		}
		d.Effect, d.RuleID, decided = r.effect, r.id, true
		d.Reason = fmt.Sprintf("rule %q (%s:%d) matched", r.id, r.file, r.line)
		d.Message = r.message
		return false
	})
	if !decided {
		if e.kind != "" {
			d.Effect = p.Default
			d.Reason = "no rule matched; the policy's default effect is " + string(p.Default)
		} else {
			d.Effect = Allow
			d.Reason = "no rule names method " + in.Method
		}
	}
	explicit := d.Message != ""
	if d.Message == "" {
		switch d.Effect {
		case Deny:
			d.Message = "denied by policy"
		case Ask:
			d.Message = "this call needs a human approval"
		}
		if d.RuleID != "" && d.Effect != Allow {
			d.Message += " (rule " + d.RuleID + ")"
		}
	}
	if e.facts != nil {
		d.Destructive, d.DestructiveReasons = e.facts.Destructive, e.facts.Reasons
	}
	// A name the caller cannot see is answered as unknown, unless the deciding rule has a message of its
	// own: then the operator chose to tell the agent why.
	if d.Effect == Deny && !explicit && e.kind != "" && !p.Visible(in) {
		d.Hidden = true
	}
	return d
}

func (e *evaluation) limitKey(r *rule) string {
	var b strings.Builder
	b.WriteString(r.id)
	for _, by := range r.limitBy {
		b.WriteByte('|')
		switch by {
		case "principal":
			if e.in.Principal.ID != "" {
				b.WriteString(e.in.Principal.ID)
			} else {
				b.WriteString(e.in.Principal.Auth + ":" + e.in.Principal.User)
			}
		case "server":
			b.WriteString(e.server)
		case "tool":
			b.WriteString(e.name)
		case "session":
			b.WriteString(e.in.SessionID)
		}
	}
	return b.String()
}

// Visible reports whether the caller can use the named tool, prompt or resource at all: false only when
// every call to it would be denied whatever its arguments. in.Method is the call method (tools/call,
// prompts/get, resources/read); arguments are ignored. In monitor mode everything is visible.
func (p *Policy) Visible(in *Input) bool {
	if p.Mode == Monitor {
		return true
	}
	e := p.newEvaluation(in)
	if e.kind == "" {
		return true
	}
	var d Decision
	visible, decided := true, false
	e.candidates(func(r *rule) bool {
		if r.effect == Redact || r.effect == Limit || !e.static(r) {
			return true
		}
		if r.argDependent {
			if r.effect == Deny {
				return true // denies only some calls
			}
			decided = true // some calls may be allowed or asked
			return false
		}
		if !e.when(r, &d) {
			return true
		}
		visible, decided = r.effect != Deny, true
		return false
	})
	if !decided {
		return p.Default != Deny
	}
	return visible
}

// Facts computes the destructive-action facts for a tools/call input (arguments and _meta both inspected).
func (p *Policy) Facts(in *Input) destructive.Facts {
	return classify(in, p.opts.Destructive)
}

func classify(in *Input, opts destructive.Options) destructive.Facts {
	ti := destructive.ToolInfo{Name: in.Name}
	if in.Tool != nil {
		ti = destructive.ToolInfo{Name: in.Name, Description: in.Tool.Description, InputSchema: in.Tool.InputSchema,
			Schema: in.Tool.Schema(), Annotations: in.Tool.Annotations, Trusted: in.Tool.Trusted}
	}
	f := destructive.Classify(ti, in.Arguments, opts)
	if len(in.Meta) > 0 && string(in.Meta) != "{}" && string(in.Meta) != "null" {
		// Arguments smuggled in _meta: inspect them too (without the schema, which describes arguments),
		// and let anything they reveal count.
		mf := destructive.Classify(destructive.ToolInfo{Name: in.Name}, in.Meta, opts)
		f = mergeFacts(f, mf)
	}
	return f
}
