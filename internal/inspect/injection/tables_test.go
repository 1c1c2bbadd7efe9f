package injection

import (
	"strings"
	"testing"
)

// TestTables builds the tables as the first scan does, so that their checks (no empty anchor, no more
// patterns or need words than keywords' fixed-size state holds) run, and checks what the scan relies on.
func TestTables(t *testing.T) {
	tb := buildTables() // panics on a broken table
	if len(tb.patterns) == 0 {
		t.Fatal("no patterns")
	}
	for i, p := range tb.patterns {
		if len(p.anchors) == 0 {
			t.Errorf("pattern %d (%s): no anchor", i, p.id)
		}
		if len(p.needIDs) != len(p.needs) {
			t.Errorf("pattern %d (%s): %d need IDs for %d needs", i, p.id, len(p.needIDs), len(p.needs))
		}
		for k, id := range p.needIDs {
			if int(id) >= len(tb.needWords) || tb.needWords[id] != p.needs[k] {
				t.Errorf("pattern %d (%s): need %q has a wrong ID %d", i, p.id, p.needs[k], id)
			}
		}
	}
	// Every anchor is indexed under its first byte or first two bytes.
	for i, p := range tb.patterns {
		for _, a := range p.anchors {
			var refs []anchorRef
			if len(a) == 1 {
				refs = tb.index.singles[a[0]]
			} else if l := tb.index.byPair[uint16(a[0])<<8|uint16(a[1])]; l != 0 {
				refs = tb.index.lists[l-1]
			}
			found := false
			for _, r := range refs {
				found = found || r.pat == i && r.anchor == a
			}
			if !found {
				t.Errorf("pattern %d (%s): anchor %q is not indexed", i, p.id, a)
			}
		}
	}
	if a, b := loadTables(), loadTables(); a != b {
		t.Error("loadTables builds the tables more than once")
	}
}

// TestTablesRefuseEmptyAnchor checks that a pattern with an empty anchor stops the build: it would match
// at every position.
func TestTablesRefuseEmptyAnchor(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "empty anchor in MW-PI999") {
			t.Fatalf("recovered %v, want a panic naming the pattern", r)
		}
	}()
	var ix anchorIndex
	ix.build([]pattern{{id: "MW-PI999", anchors: []string{"x", ""}}})
}
