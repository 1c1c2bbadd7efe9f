package secrets

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
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

// candidatesText is about size bytes of assignments of random-looking values to secret-sounding
// names, every tenth holding a stop word: a tool result full of generic-api-key candidates.
func candidatesText(size int) string {
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"api_key", "secret", "auth_token", "password", "client_secret"}
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		v := make([]byte, 24+r.IntN(16))
		for j := range v {
			v[j] = alnum[r.IntN(len(alnum))]
		}
		s := string(v)
		if i%10 == 9 {
			s = s[:8] + "example" + s[8:]
		}
		fmt.Fprintf(&b, "%s = %q\n", names[i%len(names)], s)
	}
	return b.String()[:size]
}

// encodedText is about size bytes of honest text whose lines are base64-encoded: every line a run
// that the decoder takes and the rules scan (the worst case of the decoding layer).
func encodedText(size int) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(sampleText(size*3/4), "\n") {
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(line)))
		b.WriteByte('\n')
	}
	return b.String()
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

// BenchmarkScan measures Scan on honest text (the common case), on text holding one secret, and on
// text full of generic-api-key candidates (a tenth of them allowed by a stop word).
func BenchmarkScan(b *testing.B) {
	if err := Init(); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 10, 10 << 10, 100 << 10} {
		clean := sampleText(size)
		dirty := clean[:size/2] + " " + ghPAT + " " + clean[size/2:]
		for name, text := range map[string]string{"clean": clean, "secret": dirty, "candidates": candidatesText(size), "encoded": encodedText(size)} {
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

// BenchmarkEngine measures building the rule set (what Init does once), and reports the heap that one
// engine keeps (retained-MB: live heap after a GC, less the live heap before it was built).
func BenchmarkEngine(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := newDetectors()
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(d)
	for b.Loop() {
		if _, err := newDetectors(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1e6, "retained-MB") // after b.Loop, which resets metrics
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
