package poison

import (
	"strings"
	"testing"
)

// TestTables builds the tables as the first scan does, so that their checks (a data-request rule, prefix
// needles of at least three bytes) run, and checks the token index the scan relies on.
func TestTables(t *testing.T) {
	tb := buildTables() // panics on a broken table
	if tb.textRules[tb.dataRequestRule].id != RuleDataRequest {
		t.Errorf("dataRequestRule %d is %s", tb.dataRequestRule, tb.textRules[tb.dataRequestRule].id)
	}
	words := 0
	for _, r := range tb.textRules {
		if r.form != onWords {
			continue
		}
		for _, pt := range r.pats {
			if pt.word != words {
				t.Errorf("%s: words-form pattern %d has word %d", r.id, words, pt.word)
			}
			words++
			for _, n := range pt.need {
				if !strings.HasPrefix(n, " ") {
					t.Errorf("%s: need %q is not a words-form needle", r.id, n)
				}
			}
			// Each of the pattern's needles, as a text, triggers it.
			for _, n := range pt.need {
				if hit := tb.wordTriggers(n + " "); !hit[pt.word] {
					t.Errorf("%s: %q does not trigger its pattern", r.id, n)
				}
			}
		}
	}
	if words != tb.wordPatCount {
		t.Errorf("%d words-form patterns, wordPatCount %d", words, tb.wordPatCount)
	}
	if a, b := loadTables(), loadTables(); a != b {
		t.Error("loadTables builds the tables more than once")
	}
}

// TestTablesRefuseShortPrefix checks that a prefix needle under three bytes stops the build: the prefix
// index is keyed by three bytes.
func TestTablesRefuseShortPrefix(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "prefix needle shorter than 3 bytes: ab*") {
			t.Fatalf("recovered %v, want a panic naming the needle", r)
		}
	}()
	tb := &tables{exactIndex: map[string][]int{}, prefixIndex: map[string][]prefixNeedle{}}
	tb.indexNeedle("ab*", 0)
}
