package injection

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fixture is one file of testdata/corpus/{injection,benign}; ORIGINS.json beside the files records
// where each came from (package@version and path for harvested text, "mcpwarden (hand-written)" for
// the rest) and its shape.
type fixture struct {
	name   string
	path   string
	body   []byte
	Origin string `json:"origin"`
	Shape  string `json:"shape"`
}

func loadCorpus(t testing.TB, dir string) []fixture {
	t.Helper()
	root := filepath.Join("testdata", "corpus", dir)
	raw, err := os.ReadFile(filepath.Join(root, "ORIGINS.json"))
	if err != nil {
		t.Fatalf("read the origins of %s: %v", root, err)
	}
	origins := map[string]fixture{}
	if err := json.Unmarshal(raw, &origins); err != nil {
		t.Fatalf("%s/ORIGINS.json: %v", root, err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []fixture
	for _, e := range entries {
		if e.Name() == "ORIGINS.json" {
			continue
		}
		f, ok := origins[e.Name()]
		if !ok || f.Origin == "" {
			t.Fatalf("%s/%s has no origin in ORIGINS.json; record package@version and path, or mcpwarden (hand-written)", root, e.Name())
		}
		delete(origins, e.Name())
		f.name, f.path = e.Name(), filepath.Join(root, e.Name())
		if f.body, err = os.ReadFile(f.path); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	for name := range origins {
		t.Errorf("%s/ORIGINS.json lists %s, which does not exist", root, name)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// scanFixture scans a fixture the way the gateway would: JSON documents with ScanJSON, the rest as text.
func scanFixture(f fixture) Report {
	if strings.HasSuffix(f.name, ".json") {
		return ScanJSON(f.body)
	}
	return Scan(string(f.body))
}

func describe(r Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString("\n    " + f.RuleID + " " + f.Category + " w=" + itoa(f.Weight) + " " + f.Path + " [" + f.Evidence + "]")
	}
	return b.String()
}

// TestCorpusQuality is the acceptance test of the detector: recall on hand-written injections in the
// shapes of shared/reference/attacks.md, precision on real and realistic benign tool outputs, and no
// benign fixture at block level.
func TestCorpusQuality(t *testing.T) {
	inj := loadCorpus(t, "injection")
	ben := loadCorpus(t, "benign")
	if len(inj) < 50 || len(ben) < 100 {
		t.Fatalf("corpus too small: %d injections (want ≥ 50), %d benign (want ≥ 100)", len(inj), len(ben))
	}
	tp, fn, tpBlock := 0, 0, 0
	for _, f := range inj {
		r := scanFixture(f)
		t.Logf("injection %-40s %3d %-8s %s", f.name, r.Score, r.Level, f.Shape)
		if r.Level >= Medium {
			tp++
		} else {
			fn++
			t.Errorf("missed injection %s (%s): score %d %s%s", f.name, f.Shape, r.Score, r.Level, describe(r))
		}
		if r.Level >= LevelBlock {
			tpBlock++
		}
	}
	fp, fpBlock := 0, 0
	for _, f := range ben {
		r := scanFixture(f)
		if r.Level >= Medium {
			fp++
			t.Logf("benign flagged %s (%s): score %d %s%s", f.name, f.Origin, r.Score, r.Level, describe(r))
		}
		if r.Level >= LevelBlock {
			fpBlock++
			t.Errorf("benign fixture %s (%s) reached block level: score %d %s%s", f.name, f.Origin, r.Score, r.Level, describe(r))
		}
	}
	precision := float64(tp) / float64(max(1, tp+fp))
	recall := float64(tp) / float64(max(1, tp+fn))
	precisionBlock := float64(tpBlock) / float64(max(1, tpBlock+fpBlock))
	recallBlock := float64(tpBlock) / float64(len(inj))
	t.Logf("corpus: %d injections, %d benign", len(inj), len(ben))
	t.Logf("summary (flag = medium+): precision=%.3f recall=%.3f TP=%d FN=%d FP=%d", precision, recall, tp, fn, fp)
	t.Logf("summary (block = %s+): precision=%.3f recall=%.3f TP=%d FP=%d", LevelBlock, precisionBlock, recallBlock, tpBlock, fpBlock)
	if recall < 0.95 {
		t.Errorf("recall %.3f < 0.95", recall)
	}
	if precision < 0.95 {
		t.Errorf("precision %.3f < 0.95", precision)
	}
}
