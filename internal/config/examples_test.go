package config

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Every file in examples/ loads and validates without warnings.
func TestExamplesValidate(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d example files, want quickstart.yaml and gateway-http.yaml at least", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			c, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) > 0 {
				t.Errorf("warnings: %q", c.Warnings)
			}
		})
	}
}

// The quickstart's server command really runs and speaks MCP over stdio: a go-sdk client lists its tools
// through exactly the argv, env and cwd the config gives. The first run builds the server from the Go
// module proxy (or the module cache).
func TestQuickstartServerSpeaksMCP(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the quickstart needs the go command: %v", err)
	}
	c, err := Load("../../examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
	cmd.Dir = s.Cwd
	cmd.Env = cmd.Environ()
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "config-test", Version: "v0"}, nil)
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to %v: %v", s.Command, err)
	}
	defer session.Close()
	res, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	if !slices.Contains(names, "test_simple_text") {
		t.Errorf("tools = %v, want test_simple_text among them", names)
	}
}
