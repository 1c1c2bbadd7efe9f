package config

import (
	"fmt"
	"slices"
	"strings"
)

// lookupFunc reports an environment variable's value and whether it is set (os.LookupEnv).
type lookupFunc func(string) (string, bool)

// expandVars replaces every ${NAME} in s with the value of the environment variable NAME, and every $${ with
// a literal "${". Any other "$" is kept as is. It returns the expanded value, or a message saying what is
// wrong; the message names variables but never contains s itself, which may be a secret.
func expandVars(s string, lookup lookupFunc) (string, string) {
	if !strings.Contains(s, "${") {
		return s, ""
	}
	var (
		b     strings.Builder
		unset []string
	)
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", `"${" is not closed by "}": write ${NAME}, or $${ for a literal "${"`
			}
			name := s[i+2 : i+2+end]
			if !isVarName(name) {
				return "", `a ${...} reference does not hold a variable name (letters, digits and _, not ` +
					`starting with a digit): write ${NAME}, or $${ for a literal "${"`
			}
			v, ok := lookup(name)
			if !ok {
				if !slices.Contains(unset, name) {
					unset = append(unset, name)
				}
			}
			b.WriteString(v)
			i += 2 + end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	switch len(unset) {
	case 0:
		return b.String(), ""
	case 1:
		return "", fmt.Sprintf("environment variable %s is not set: export it before starting mcpwarden "+
			`(or write $${ for a literal "${")`, unset[0])
	default:
		return "", fmt.Sprintf("environment variables %s are not set: export them before starting mcpwarden "+
			`(or write $${ for a literal "${")`, strings.Join(unset, ", "))
	}
}

// isVarName reports whether s is a portable environment variable name: [A-Za-z_][A-Za-z0-9_]*.
func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
