package destructive

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Tool definitions shaped like those of common MCP servers (filesystem, git
// hosting, databases, shells, fetch), written for these tests.
var (
	fsWriteFile = ToolInfo{Name: "write_file", Description: "Create or overwrite a file.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},"required":["path","content"]}`)}
	fsMoveFile = ToolInfo{Name: "move_file", Description: "Move or rename files and directories.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"source":{"type":"string"},"destination":{"type":"string"}}}`)}
	fsReadMany = ToolInfo{Name: "read_multiple_files", Description: "Read several files at once.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"paths":{"type":"array","items":{"type":"string"}}}}`),
		Annotations: json.RawMessage(`{"readOnlyHint":true}`)}
	fsEditFile = ToolInfo{Name: "edit_file", Description: "Make line-based edits to a text file.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"path":{"type":"string"},"edits":{"type":"array","items":{"type":"object","properties":{"oldText":{"type":"string"},"newText":{"type":"string"}}}},"dryRun":{"type":"boolean"}}}`)}
	ghDeleteFile = ToolInfo{Name: "delete_file", Description: "Delete a file from a repository.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"owner":{"type":"string"},"repo":{"type":"string"},"path":{"type":"string"},"message":{"type":"string"},"branch":{"type":"string"}}}`)}
	ghPushFiles = ToolInfo{Name: "push_files", Description: "Push several files in one commit.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"owner":{"type":"string"},"repo":{"type":"string"},"branch":{"type":"string"},"files":{"type":"array","items":{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}}}},"message":{"type":"string"}}}`)}
	pgQuery = ToolInfo{Name: "query", Description: "Run a read-only SQL query.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"sql":{"type":"string"}}}`),
		Annotations: json.RawMessage(`{"readOnlyHint":true}`), Trusted: true}
	execCommand = ToolInfo{Name: "execute_command", Description: "Execute a terminal command with timeout.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"command":{"type":"string"},"timeout_ms":{"type":"number"}}}`)}
	killProcess = ToolInfo{Name: "kill_process", InputSchema: json.RawMessage(`{"type":"object","properties":{"pid":{"type":"number"}}}`)}
	fetchTool   = ToolInfo{Name: "fetch", Description: "Fetches a URL from the internet.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string","format":"uri"},"max_length":{"type":"integer"}}}`)}
	echoTool = ToolInfo{Name: "echo", InputSchema: json.RawMessage(`{"type":"object","properties":{"message":{"type":"string"}}}`)}
)

func TestRealWorldTools(t *testing.T) {
	opts := Options{Roots: []string{"/work/project"}}
	quiet := opts
	quiet.ToolRoles = map[string]map[string]Role{"write_file": {"content": RoleNone}}
	type view struct {
		Destructive bool
		ReadOnly    bool
		Reasons     []string
	}
	tests := []struct {
		name string
		tool ToolInfo
		args string
		opts Options
		want view
	}{
		{"write file inside root", fsWriteFile, `{"path":"/work/project/notes.md","content":"hello"}`, opts,
			view{false, false, []string{}}},
		{"write file outside root", fsWriteFile, `{"path":"/home/u/.bashrc","content":"alias ls=rm"}`, opts,
			view{true, false, []string{"path write sensitive (shell startup) in path: /home/u/.bashrc"}}},
		{"migration content is sniffed as SQL", fsWriteFile, `{"path":"/work/project/db/001.sql","content":"DROP TABLE legacy;"}`, opts,
			view{true, false, []string{"sql drop in content: DROP TABLE legacy"}}},
		{"content silenced by override", fsWriteFile, `{"path":"/work/project/db/001.sql","content":"DROP TABLE legacy;"}`, quiet,
			view{false, false, []string{}}},
		{"move sensitive source", fsMoveFile, `{"source":"/etc/hosts","destination":"/work/project/hosts"}`, opts,
			view{true, false, []string{"path write sensitive (system config) in source: /etc/hosts"}}},
		{"read many", fsReadMany, `{"paths":["/work/project/a.go","/work/project/b.go"]}`, opts,
			view{false, true, []string{}}},
		{"edit inside root", fsEditFile, `{"path":"/work/project/a.go","edits":[{"oldText":"a","newText":"b"}],"dryRun":false}`, opts,
			view{false, false, []string{}}},
		{"github delete file", ghDeleteFile, `{"owner":"o","repo":"r","path":"README.md","message":"rm","branch":"main"}`, Options{},
			view{true, false, []string{`tool name has destructive verb "delete"`}}},
		{"github push files", ghPushFiles, `{"owner":"o","repo":"r","branch":"main","files":[{"path":"a.txt","content":"x"}],"message":"m"}`, Options{},
			view{false, false, []string{}}},
		{"trusted read-only sql", pgQuery, `{"sql":"SELECT count(*) FROM orders"}`, Options{},
			view{false, true, []string{}}},
		{"read-only claim does not hide a drop", pgQuery, `{"sql":"SELECT 1; DROP TABLE orders"}`, Options{},
			view{true, false, []string{"sql drop in sql: DROP TABLE orders"}}},
		{"execute command test run", execCommand, `{"command":"npm test","timeout_ms":60000}`, opts,
			view{false, false, []string{}}},
		{"execute command cleanup", execCommand, `{"command":"rm -rf /work/project/node_modules && npm ci"}`, opts,
			view{true, false, []string{"shell rm_recursive in command: rm -rf /work/project/node_modules"}}},
		{"kill process", killProcess, `{"pid":4242}`, opts,
			view{true, false, []string{`tool name has destructive verb "kill"`}}},
		{"fetch page", fetchTool, `{"url":"https://example.com/docs","max_length":5000}`, opts,
			view{false, true, []string{}}},
		{"echo with a shell-looking message is flagged by value", echoTool, `{"message":"rm -rf /"}`, opts,
			view{true, false, []string{"shell rm_recursive_root in message: rm -rf /", "path delete sensitive (filesystem root) in message: /"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Classify(tc.tool, json.RawMessage(tc.args), tc.opts)
			got := view{f.Destructive, f.ReadOnly, f.Reasons}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s(%s) mismatch (-want +got):\n%s", tc.tool.Name, tc.args, diff)
			}
		})
	}
}
