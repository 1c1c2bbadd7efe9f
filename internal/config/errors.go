package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem in a config: where it is and what is wrong with it.
type FieldError struct {
	// Line and Col are the 1-based position in the file of the offending key or value; 0 when unknown
	// (a Config built in code and checked with CheckAndSetDefaults, or a YAML syntax error without a
	// column).
	Line, Col int
	// Path is the key path of the offending value, e.g. "servers[1].timeout" or `servers[0].env["A.B"]`;
	// empty for the document as a whole.
	Path string
	// Msg says what is wrong and what to do. It never contains an env or header value.
	Msg string
}

// Error formats e without the file name: "line:col: path: msg".
func (e *FieldError) Error() string { return e.format("") }

func (e *FieldError) format(file string) string {
	var b strings.Builder
	if file != "" {
		b.WriteString(file)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, "%d:", e.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ValidationError is every problem found in one config, returned by Load, Parse and CheckAndSetDefaults.
// Inspect it with errors.As; each entry is also reachable as a *FieldError through errors.As.
type ValidationError struct {
	// File is the config's path as given to Load or Parse (Config.Path for CheckAndSetDefaults).
	File string
	// Errors holds at least one problem, sorted by line and column; problems without a position come
	// last, sorted by path.
	Errors []FieldError
}

// Error lists the problems one per line, each as "file:line:col: path: msg".
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i := range e.Errors {
		lines[i] = e.Errors[i].format(e.File)
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns each problem as a *FieldError.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i := range e.Errors {
		errs[i] = &e.Errors[i]
	}
	return errs
}

// sortFieldErrors orders errors by position (unknown positions last), then path and message, and drops
// exact duplicates.
func sortFieldErrors(errs []FieldError) []FieldError {
	slices.SortStableFunc(errs, func(a, b FieldError) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.Compact(errs)
}
