package secrets

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// sampleText is about size bytes of an ordinary tool result: log lines, a README paragraph and code,
// mentioning keys, tokens and passwords the way honest text does, with no secret in it.
func sampleText(size int) string {
	parts := []string{
		"2025-11-24T10:15:%02d.123Z INFO  request id=3f2a9c1e-8b7d-4f5a-9c3b-2a1908f7e6d5 method=GET path=/api/v1/repos status=200 dur=12ms\n",
		"To authenticate, set the API key in your environment and pass max_tokens to limit output. See docs/auth.md.\n",
		"func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, error) { return c.hc.Do(req.WithContext(ctx)) }\n",
		"| name | version | license |\n| go-cmp | v0.7.0 | BSD-3-Clause |\n",
		"The password reset flow sends a one-time link; tokens expire after 15 minutes (token_type=Bearer).\n",
	}
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		p := parts[i%len(parts)]
		if strings.Contains(p, "%02d") {
			p = fmt.Sprintf(p, i%60)
		}
		b.WriteString(p)
	}
	return b.String()[:size]
}

func sampleJSON(size int) []byte {
	type content struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	var items []map[string]any
	for i := 0; ; i++ {
		items = append(items, map[string]any{"id": i, "title": fmt.Sprintf("Issue %d: fix token refresh", i), "state": "open", "labels": []string{"bug", "auth"}, "comments": i * 3})
		b, _ := json.Marshal(map[string]any{"content": []content{{"text", "ok"}}, "structuredContent": map[string]any{"items": items}})
		if len(b) >= size {
			return b
		}
	}
}

// BenchmarkScan measures Scan on honest text (the common case) and on text holding one secret.
func BenchmarkScan(b *testing.B) {
	if err := Init(); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 10, 10 << 10, 100 << 10} {
		clean := sampleText(size)
		dirty := clean[:size/2] + " " + ghPAT + " " + clean[size/2:]
		for name, text := range map[string]string{"clean": clean, "secret": dirty} {
			b.Run(fmt.Sprintf("%s/%dKB", name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					Scan(text)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(text))*1024/1000, "µs/KB")
			})
		}
	}
}

// BenchmarkRedactJSON measures ScanJSON+RedactJSON on a JSON tool result with no secret.
func BenchmarkRedactJSON(b *testing.B) {
	if err := Init(); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 10, 10 << 10} {
		raw := sampleJSON(size)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				RedactJSON(raw, nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(raw))*1024/1000, "µs/KB")
		})
	}
}
