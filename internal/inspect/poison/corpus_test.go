package poison

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fixture is one file of testdata/corpus: a surface and where it came from.
type fixture struct {
	// Origin is package@version for benign fixtures (harvested from the live server), or "mcpwarden" for
	// hand-written malicious ones.
	Origin string `json:"origin"`
	Source string `json:"source,omitempty"`
	// Shape names the attack shape of a malicious fixture (see shared/reference/attacks.md).
	Shape   string  `json:"shape,omitempty"`
	Context Context `json:"context,omitempty"`
	Surface Surface `json:"surface"`
	// ExpectRules must all fire on a malicious fixture.
	ExpectRules []string `json:"expectRules,omitempty"`
	// EncodedPayload marks fixtures whose payload is base64/hex: mutations that change letters (case,
	// look-alikes) corrupt the encoding itself, so those mutations skip them.
	EncodedPayload bool `json:"encodedPayload,omitempty"`

	path string
}

func loadCorpus(t testing.TB, dir string) []fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "corpus", dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no fixtures in testdata/corpus/%s", dir)
	}
	sort.Strings(paths)
	out := make([]fixture, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f fixture
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if f.Origin == "" {
			t.Fatalf("%s: fixture has no origin; record package@version or mcpwarden", p)
		}
		f.path = p
		out = append(out, f)
	}
	return out
}

func describe(r Report, min Severity) string {
	var b strings.Builder
	for _, f := range r.Findings {
		if f.Severity >= min {
			b.WriteString("\n    " + f.Severity.String() + " " + f.RuleID + " " + f.Location + ": " + f.Message + " [" + f.Evidence + "]")
		}
	}
	return b.String()
}

// TestCorpusQuality is the acceptance test of the scanner: recall on the hand-written malicious surfaces,
// precision against real descriptions of public servers.
func TestCorpusQuality(t *testing.T) {
	mal := loadCorpus(t, "malicious")
	ben := loadCorpus(t, "benign")
	if len(mal) < 40 || len(ben) < 100 {
		t.Fatalf("corpus too small: %d malicious (want ≥ 40), %d benign (want ≥ 100)", len(mal), len(ben))
	}
	tp, fn, fp, tn, benignHigh := 0, 0, 0, 0, 0
	for _, f := range mal {
		r := Scan(f.Surface, f.Context)
		t.Logf("malicious %-40s %-8s %s", filepath.Base(f.path), r.Verdict, f.Shape)
		if r.Verdict >= Medium {
			tp++
		} else {
			fn++
			t.Errorf("missed malicious %s (%s): verdict %s%s", f.path, f.Shape, r.Verdict, describe(r, Info))
		}
		fired := map[string]bool{}
		for _, x := range r.Findings {
			fired[x.RuleID] = true
		}
		for _, id := range f.ExpectRules {
			if !fired[id] {
				t.Errorf("%s: expected rule %s did not fire; findings:%s", f.path, id, describe(r, Info))
			}
		}
	}
	for _, f := range ben {
		r := Scan(f.Surface, f.Context)
		if r.Verdict >= Medium {
			fp++
			t.Logf("benign rated %s: %s (%s)%s", r.Verdict, f.path, f.Origin, describe(r, Medium))
		} else {
			tn++
		}
		if r.Verdict >= High {
			benignHigh++
			t.Errorf("benign fixture %s (%s) rated %s; real descriptions must never be high/critical%s", f.path, f.Origin, r.Verdict, describe(r, Medium))
		}
	}
	precision := float64(tp) / float64(max(1, tp+fp))
	recall := float64(tp) / float64(max(1, tp+fn))
	t.Logf("corpus: %d malicious, %d benign; TP=%d FN=%d FP=%d TN=%d; benign high/critical=%d", len(mal), len(ben), tp, fn, fp, tn, benignHigh)
	t.Logf("summary: precision=%.3f recall=%.3f (medium+ counts as detected)", precision, recall)
	if recall < 0.95 {
		t.Errorf("recall %.3f < 0.95", recall)
	}
	if precision < 0.95 {
		t.Errorf("precision %.3f < 0.95", precision)
	}
}

// TestCorpusBenignWithGateway scans each benign server (its fixtures merged into one surface) as if every
// other benign server sat behind the same gateway, so the shadowing rules see real neighbouring tool
// names. Real servers do share tool names (MW-TP051, medium, is expected then) and mention tools whose
// names other servers also use, but none may rate high or critical.
func TestCorpusBenignWithGateway(t *testing.T) {
	servers := map[string]*Surface{}
	var origins []string
	for _, f := range loadCorpus(t, "benign") {
		s, ok := servers[f.Origin]
		if !ok {
			s = &Surface{Server: f.Origin}
			servers[f.Origin] = s
			origins = append(origins, f.Origin)
		}
		if f.Surface.Instructions != "" {
			s.Instructions = f.Surface.Instructions
		}
		s.Tools = append(s.Tools, f.Surface.Tools...)
		s.Prompts = append(s.Prompts, f.Surface.Prompts...)
		s.Resources = append(s.Resources, f.Surface.Resources...)
		s.ResourceTemplates = append(s.ResourceTemplates, f.Surface.ResourceTemplates...)
	}
	all := map[string][]string{}
	for o, s := range servers {
		for _, tl := range s.Tools {
			all[o] = append(all[o], tl.Name)
		}
	}
	collisions, mentions := 0, 0
	for _, o := range origins {
		r := Scan(*servers[o], Context{OtherServers: all}) // Scan skips the entry named like the server itself
		for _, x := range r.Findings {
			switch x.RuleID {
			case RuleNameCollision:
				collisions++
			case RuleShadowMention:
				mentions++
				t.Logf("benign mention: %s: %s: %s [%s]", o, x.Location, x.Message, x.Evidence)
			}
			if x.Severity >= High {
				t.Errorf("benign server %s behind a shared gateway: %s %s %s: %s [%s]", o, x.Severity, x.RuleID, x.Location, x.Message, x.Evidence)
			}
		}
	}
	t.Logf("behind a shared gateway: %d servers, %d tool-name collisions, %d cross-server mentions", len(origins), collisions, mentions)
}
