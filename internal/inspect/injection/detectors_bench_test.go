package injection

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/inspect/pii"
	"github.com/mcpwarden/mcpwarden/internal/inspect/secrets"
)

// honestJSON returns about size bytes of JSON tool results of the given shape, built from the benign
// corpus: "readme" and "log" wrap corpus text in an MCP text content block; "api" is a list of issue
// objects the way a REST API returns them (ids, titles, URLs, timestamps, bodies from the corpus).
func honestJSON(b *testing.B, shape string, size int) []byte { return honestJSONT(b, shape, size) }

func honestJSONT(b testing.TB, shape string, size int) []byte {
	type content struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	var text strings.Builder
	for text.Len() < 2*size {
		for _, f := range loadCorpus(b, "benign") {
			want := map[string][]string{"readme": {"go-readme-", "npm-readme-"}, "log": {"log-", "shell-", "terminal-"}, "api": {"issue-", "email-", "notes"}}[shape]
			for _, p := range want {
				if strings.HasPrefix(f.name, p) && !strings.HasSuffix(f.name, ".json") {
					text.Write(f.body)
					break
				}
			}
			if text.Len() >= 2*size {
				break
			}
		}
	}
	t := text.String()
	var raw []byte
	switch shape {
	case "api":
		type issue struct {
			ID        int      `json:"id"`
			Number    int      `json:"number"`
			Title     string   `json:"title"`
			URL       string   `json:"html_url"`
			State     string   `json:"state"`
			User      string   `json:"user"`
			Labels    []string `json:"labels"`
			CreatedAt string   `json:"created_at"`
			Body      string   `json:"body"`
		}
		var items []issue
		for i := 0; ; i++ {
			from := (i * 300) % max(1, len(t)-300)
			items = append(items, issue{ID: 2040000000 + i*7, Number: 1200 + i, Title: fmt.Sprintf("Token refresh fails after %d retries", i%9+1),
				URL: fmt.Sprintf("https://github.com/example/repo/issues/%d", 1200+i), State: "open", User: "octocat",
				Labels: []string{"bug", "auth"}, CreatedAt: fmt.Sprintf("2025-11-%02dT10:%02d:00Z", i%28+1, i%60), Body: t[from : from+240]})
			raw, _ = json.Marshal(map[string]any{"content": []content{}, "structuredContent": map[string]any{"items": items}})
			if len(raw) >= size {
				break
			}
		}
	default:
		for n := size; ; n += 64 {
			raw, _ = json.Marshal(map[string]any{"content": []content{{"text", strings.ToValidUTF8(t[:min(n, len(t))], "")}}})
			if len(raw) >= size || n >= len(t) {
				break
			}
		}
	}
	return raw
}

// adversarialJSON is about size bytes of near misses for every detector: injection anchors without
// their continuation, secret keywords with values that fail the rules, digit runs, '@', "eyJ" and
// "-----BEGIN" that are not PII. It shows that the cost stays linear in the size of the input.
func adversarialJSON(size int) []byte {
	const unit = "ignore the noise; disregard that; you are welcome; system: ok; new instructions follow soon? " +
		"api_key = placeholder token: ${TOKEN} password=hunter password_policy=strict secret= sk-abc ghp_short AKIA " +
		"eyJhbGciOi eyJ. user@ host@x 1234 5678 9012 3456 555-0100 192.168.1 10.0.0.256 ::1x -----BEGIN PUBLIC KEY " +
		"<!-- note --> ![img](http://x/y) [link](https://example.com/?q=1) send it to http://example.com/ \n"
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(unit)
	}
	raw, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": b.String()[:size]}}})
	return raw
}

// BenchmarkDetectorsJSON is the cost the gateway adds per JSON tool result when it runs the three
// default detectors' JSON entry points (secrets.ScanJSON, pii.ScanJSON, ScanJSON) on it. The budget:
// well under the gateway's own added latency (~130 µs) for 10 KB of honest text.
func BenchmarkDetectorsJSON(b *testing.B) {
	if err := secrets.Init(); err != nil {
		b.Fatal(err)
	}
	type input struct {
		name string
		raw  func() []byte
	}
	var inputs []input
	for _, shape := range []string{"readme", "log", "api", "adversarial"} {
		for _, size := range []int{1 << 10, 10 << 10, 100 << 10} {
			inputs = append(inputs, input{fmt.Sprintf("%s/%dKB", shape, size>>10), sync.OnceValue(func() []byte {
				if shape == "adversarial" {
					return adversarialJSON(size)
				}
				return honestJSON(b, shape, size)
			})})
		}
	}
	for _, in := range inputs {
		for _, d := range []struct {
			name string
			fn   func([]byte)
		}{
			{"all", func(r []byte) { secrets.ScanJSON(r); pii.ScanJSON(r); ScanJSON(r) }},
			{"secrets", func(r []byte) { secrets.ScanJSON(r) }},
			{"pii", func(r []byte) { pii.ScanJSON(r) }},
			{"injection", func(r []byte) { ScanJSON(r) }},
			{"walk", func(r []byte) { secrets.WalkJSON(r, func(*secrets.JSONToken) {}) }}, // the JSON walk each detector pays
		} {
			b.Run(d.name+"/"+in.name, func(b *testing.B) {
				raw := in.raw()
				// secrets.WalkJSON keeps the walk of the last document: alternate between two documents
				// (the second has a trailing space) so that every iteration walks its document once, as
				// the gateway does for each new tool result.
				docs := [2][]byte{raw, append(slices.Clip(raw), ' ')}
				b.SetBytes(int64(len(raw)))
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPU()
				i := 0
				for b.Loop() {
					d.fn(docs[i&1])
					i++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(raw))*1024/1000, "µs/KB")
				b.ReportMetric(float64((threadCPU()-cpu0).Nanoseconds())/float64(b.N)/1000, "cpu-µs/op")
			})
		}
	}
}
