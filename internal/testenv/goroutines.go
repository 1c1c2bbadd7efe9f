package testenv

import (
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// GoroutinesIn counts the goroutines whose stack contains fn (a function name as in a stack trace, e.g.
// "(*httpSession).serveRaw").
func GoroutinesIn(tb testing.TB, fn string) int {
	tb.Helper()
	var sb strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&sb, 2); err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, g := range strings.Split(sb.String(), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// WaitGoroutines waits until exactly want goroutines have fn in their stack (those of an earlier test may
// still be on their way out, a stream may still be opening), failing the test with what if that does not
// happen within 30 s — a bound far above what a healthy run needs, not a timing assertion.
func WaitGoroutines(tb testing.TB, fn string, want int, what string) {
	tb.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		n := GoroutinesIn(tb, fn)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d goroutines in %s, want %d: %s", n, fn, want, what)
		}
	}
}
