package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/config"
)

// Lint returns warnings about a compiled policy: rules that can never decide because an earlier rule
// decides every call they match, and rules that trust what a server says about itself.
func Lint(p *Policy) []string {
	var warns []string
	var shadow *rule
	for _, r := range p.rules {
		terminal := r.effect == Allow || r.effect == Deny || r.effect == Ask
		if shadow != nil && len(r.methods) == 0 {
			warns = append(warns, fmt.Sprintf("%s:%d: rule %q is never reached: rule %q (line %d) decides every call before it",
				r.file, r.line, r.id, shadow.id, shadow.line))
			continue
		}
		if terminal && shadow == nil && r.catchAll() {
			shadow = r
		}
		if r.effect == Allow && len(r.annotations) > 0 {
			warns = append(warns, fmt.Sprintf("%s:%d: rule %q allows on annotations: any server can claim a hint; "+
				"use call.annotations.read_only in when: (honours hints only from trusted servers) unless the servers are trusted",
				r.file, r.line, r.id))
		}
	}
	for name, idx := range p.byName {
		// Two terminal rules for the same single literal name with no other condition: the second is dead.
		var first *rule
		for _, i := range idx {
			r := p.rules[i]
			if r.effect == Redact || r.effect == Limit || !r.onlyNames() {
				continue
			}
			if first != nil && slices.Equal(r.literalNames(), []string{name}) && sameKinds(first, r) {
				warns = append(warns, fmt.Sprintf("%s:%d: rule %q is never reached: rule %q (line %d) already decides %q",
					r.file, r.line, r.id, first.id, first.line, name))
			}
			if first == nil {
				first = r
			}
		}
	}
	slices.Sort(warns)
	return slices.Compact(warns)
}

// catchAll reports whether the rule matches every call.
func (r *rule) catchAll() bool {
	return r.names == nil && r.onlyNames()
}

// onlyNames reports whether the rule has no matcher besides names.
func (r *rule) onlyNames() bool {
	return r.prg == nil && len(r.users) == 0 && len(r.groups) == 0 && len(r.auth) == 0 && len(r.clients) == 0 &&
		len(r.servers) == 0 && len(r.methods) == 0 && len(r.labels) == 0 && len(r.findings) == 0 && len(r.annotations) == 0
}

func (r *rule) literalNames() []string {
	lits, _ := r.indexNames()
	return lits
}

func sameKinds(a, b *rule) bool {
	for k := range b.names {
		if _, ok := a.names[k]; !ok {
			return false
		}
	}
	return true
}

// LintApproval returns warnings about the approval rules of a config (approval.rules[].rule, see
// docs/approval.md) checked against the policy p that will decide the calls; configName names the config in
// the messages. The approval stage looks an ask decision's requirement up by the deciding rule's id, so an
// entry whose id is not a rule of p (a typo), names a rule that never asks, or (rule: "") stands for a
// default effect that is not ask, silently never applies: its four_eyes, approvers, timeout and
// self_approve are ignored and such calls get the plain approval defaults. a nil returns nothing.
func LintApproval(p *Policy, configName string, a *config.Approval) []string {
	if a == nil {
		return nil
	}
	effects := make(map[string]Effect, len(p.rules))
	ids := make([]string, 0, len(p.rules))
	var asks []string
	for _, r := range p.rules {
		effects[r.id] = r.effect
		ids = append(ids, r.id)
		if r.effect == Ask {
			asks = append(asks, fmt.Sprintf("%q", r.id))
		}
	}
	var warns []string
	for i, ar := range a.Rules {
		at := fmt.Sprintf("%s: approval.rules[%d]", configName, i)
		const never = "so its approval settings (four_eyes, approvers, timeout, self_approve) never apply"
		switch effect, known := effects[ar.Rule]; {
		case ar.Rule == "":
			if p.Default != Ask {
				warns = append(warns, fmt.Sprintf("%s: rule \"\" stands for calls the policy's default effect asks about, "+
					"but the default effect of %s is %s, %s", at, p.Source, p.Default, never))
			}
		case known && effect != Ask:
			warns = append(warns, fmt.Sprintf("%s: rule %q of %s has effect %s, not ask: it never parks a call, %s",
				at, ar.Rule, p.Source, effect, never))
		case known:
		case p.External != nil && (ar.Rule == "external" || strings.HasPrefix(ar.Rule, "external:")):
			// Decided by the external decision point: its rule names are not known here.
		default:
			msg := fmt.Sprintf("%s: rule %q is not a rule of %s, %s", at, ar.Rule, p.Source, never)
			if near := nearest(ar.Rule, ids); near != "" {
				msg += fmt.Sprintf(": did you mean %q?", near)
			} else if len(asks) > 0 {
				msg += ": write the id of one of its ask rules (" + strings.Join(asks, ", ") + ")"
			} else {
				msg += ": it has no ask rules"
			}
			warns = append(warns, msg)
		}
	}
	return warns
}

// nearest returns the candidate closest to s in edit distance when it is close enough to be a likely typo
// (at most a third of s's length away), else "".
func nearest(s string, candidates []string) string {
	best, bestDist := "", len(s)/3+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
