package destructive

import (
	"encoding/json"
	"testing"
)

// BenchmarkClassifyTypical measures a typical call: a shell tool with ~200
// bytes of arguments, with a schema and annotations.
func BenchmarkClassifyTypical(b *testing.B) {
	tool := ToolInfo{
		Name:        "run_command",
		Description: "Run a shell command in the workspace.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"command":{"type":"string","description":"Command to run"},"cwd":{"type":"string"},"timeout_ms":{"type":"integer"}}}`),
		Annotations: json.RawMessage(`{"destructiveHint":true,"openWorldHint":false}`),
	}
	args := json.RawMessage(`{"command":"cd /work/project && git status --short && git log --oneline -n 5 | head -3 && rm -rf build/tmp","cwd":"/work/project","timeout_ms":30000,"env":{"CI":"1"},"note":"nightly cleanup"}`)
	opts := Options{Roots: []string{"/work/project"}}
	b.SetBytes(int64(len(args)))
	b.ReportAllocs()
	for b.Loop() {
		_ = Classify(tool, args, opts)
	}
}

// BenchmarkClassifySQL measures a SQL tool call of ~200 bytes.
func BenchmarkClassifySQL(b *testing.B) {
	args := json.RawMessage(`{"sql":"WITH recent AS (SELECT id, email FROM users WHERE created_at > now() - interval '7 days') SELECT r.id, r.email, count(o.id) FROM recent r LEFT JOIN orders o ON o.user_id = r.id GROUP BY 1, 2"}`)
	b.SetBytes(int64(len(args)))
	b.ReportAllocs()
	for b.Loop() {
		_ = Classify(sqlTool, args, Options{})
	}
}
