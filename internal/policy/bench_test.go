package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchPolicy builds a policy of n rules shaped like real ones: per-tool rules with an argument condition
// (indexed by name), and every 10th rule a server-scoped rule over the destructive facts (not indexed), then
// the shipped default's rules.
func benchPolicy(b *testing.B, n int) *Policy {
	var sb strings.Builder
	sb.WriteString("default: allow\nextends: default\nrules:\n")
	for i := range n {
		if i%10 == 9 {
			fmt.Fprintf(&sb, "  - {id: r%d, servers: [srv_%d], when: 'call.sql.drop || call.shell.rm_recursive', effect: ask}\n", i, i)
			continue
		}
		fmt.Fprintf(&sb, "  - {id: r%d, tools: [tool_%d], when: 'args.n > %d', effect: deny}\n", i, i, i)
	}
	p, err := Compile("bench.yaml", []byte(sb.String()), Options{})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkEvaluate measures one decision for a tools/call with 10, 100 and 1,000 rules (plus the 5 default
// rules). "facts" is the full cost including the destructive classifiers; "prefacts" starts from facts
// already computed (what the rules themselves cost). p50-ns is the median of the timed iterations.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		p := benchPolicy(b, n)
		tool := fmt.Sprintf("tool_%d", n/2)
		base := Input{Method: "tools/call", Server: "main", Name: tool, Principal: Principal{User: "alice", Auth: "local"},
			Arguments: json.RawMessage(`{"n": 1, "sql": "SELECT * FROM t WHERE id = 1"}`)}
		facts := p.Facts(&base)
		for _, mode := range []string{"facts", "prefacts"} {
			b.Run(fmt.Sprintf("rules=%d/%s", n, mode), func(b *testing.B) {
				durs := make([]time.Duration, 0, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					in := base
					if mode == "prefacts" {
						in.Facts = &facts
					}
					t0 := time.Now()
					d := p.Evaluate(&in)
					durs = append(durs, time.Since(t0))
					if d.Effect != Allow {
						b.Fatalf("decision %+v", d)
					}
				}
				slices.Sort(durs)
				b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
			})
		}
	}
}

// BenchmarkEvaluateToolSchema measures a decision (default rules) for a tools/call of a tool with a
// realistic input schema: "cached" reuses one ToolDef, as the policy stage does (its schema is decoded once),
// "fresh" makes a new one each time (the schema decoded for every call, as before the cache).
func BenchmarkEvaluateToolSchema(b *testing.B) {
	p, err := Compile("default", DefaultPolicy(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	schema := json.RawMessage(`{"type":"object","properties":{` +
		`"owner":{"type":"string","description":"Repository owner (user or organisation)"},` +
		`"repo":{"type":"string","description":"Repository name"},` +
		`"path":{"type":"string","description":"Path of the file to create or update"},` +
		`"content":{"type":"string","description":"Content of the file"},` +
		`"message":{"type":"string","description":"Commit message"},` +
		`"branch":{"type":"string","description":"Branch to create or update the file in"},` +
		`"sha":{"type":"string","description":"SHA of the file being replaced, required when updating"},` +
		`"committer":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":"string"}}}},` +
		`"required":["owner","repo","path","content","message","branch"]}`)
	args := json.RawMessage(`{"owner":"acme","repo":"site","path":"docs/index.md","content":"# Hello","message":"docs","branch":"main"}`)
	shared := &ToolDef{Name: "create_or_update_file", Description: "Create or update a file in a repository", InputSchema: schema}
	for _, mode := range []string{"cached", "fresh"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tool := shared
				if mode == "fresh" {
					tool = &ToolDef{Name: shared.Name, Description: shared.Description, InputSchema: schema}
				}
				in := Input{Method: "tools/call", Server: "github", Name: tool.Name, Tool: tool, Arguments: args,
					Principal: Principal{User: "alice", Auth: "local"}}
				if d := p.Evaluate(&in); d.Effect == Deny {
					b.Fatalf("decision %+v", d)
				}
			}
		})
	}
}
