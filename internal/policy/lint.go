package policy

import (
	"fmt"
	"slices"
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
