package policy

import (
	"path/filepath"
	"testing"
)

// TestFixtures runs every fixture file in testdata/fixtures (what `mcpwarden policy test` runs), so the
// shipped default policy and the example policies are checked in CI.
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/fixtures/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixture files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, cases, err := LoadFixtures(f)
			if err != nil {
				t.Fatal(err)
			}
			var p *Policy
			if src == nil {
				p, err = Compile("default policy", DefaultPolicy(), Options{})
			} else {
				p, err = Load(src, Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range RunFixtures(p, f, cases) {
				if !r.Pass {
					t.Errorf("%s:%d: %s: %s", r.File, r.Line, r.Name, r.Problem)
				}
			}
		})
	}
}
