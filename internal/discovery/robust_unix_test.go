//go:build unix

package discovery

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSpecialFiles: a FIFO at a config path is reported without being opened (opening blocks), and a
// file the user cannot read is reported instead of silently skipped.
func TestSpecialFiles(t *testing.T) {
	home := writeTree(t, t.TempDir(), map[string][]byte{
		".cursor/mcp.json":        []byte(`{"mcpServers": {"good": {"command": "x"}}}`),
		".kiro/settings/mcp.json": []byte(`{"mcpServers": {"hidden": {"command": "x"}}}`),
		".gemini/settings.json":   []byte(`{"mcpServers": {"locked": {"command": "x"}}}`),
	})
	fifo := filepath.Join(home, ".codeium", "windsurf", "mcp_config.json")
	if err := os.MkdirAll(filepath.Dir(fifo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	if err := os.Chmod(filepath.Join(home, ".gemini", "settings.json"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(home, ".kiro", "settings"), 0o600); err != nil { // not searchable
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(home, ".kiro", "settings"), 0o755) })
	_, by, errs := scanHome(t, home)
	if !strings.Contains(errs[".codeium/windsurf/mcp_config.json"], "not a regular file") {
		t.Errorf("fifo: %q", errs[".codeium/windsurf/mcp_config.json"])
	}
	if os.Geteuid() != 0 {
		if !strings.Contains(errs[".gemini/settings.json"], "permission denied") {
			t.Errorf("unreadable file: %q", errs[".gemini/settings.json"])
		}
		if !strings.Contains(errs[".kiro/settings/mcp.json"], "permission denied") {
			t.Errorf("unsearchable folder: %q", errs[".kiro/settings/mcp.json"])
		}
	}
	if _, ok := by["cursor/good"]; !ok {
		t.Error("good file lost")
	}
}
