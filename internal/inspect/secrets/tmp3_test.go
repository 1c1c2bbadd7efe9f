package secrets

import (
	"os"
	"testing"
)

func TestTmp3(t *testing.T) {
	d, _ := engine()
	for _, f := range []string{"readme", "api", "log", "adv"} {
		raw, _ := os.ReadFile("/tmp/" + f + ".json")
		WalkJSON(raw, func(tok *JSONToken) {
			text := tok.Value
			if !tok.String || len(text) < 8 {
				return
			}
			d.hits.each(text, func(at int, k keywordOf) {
				r := d.specific[k.rule]
				if r.near != nil && !r.near(text, at) {
					return
				}
				t.Logf("%s hit %s %q before %d after %d", f, r.id, k.kw, k.before, k.after)
			})
			for _, g := range d.gated {
				if ws := g.windows(text, g.keywords); len(ws) > 0 {
					t.Logf("%s gated %s %v %q", f, g.id, ws, text[ws[0].start:ws[0].end])
				}
			}
		})
	}
}
