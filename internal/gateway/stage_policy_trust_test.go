package gateway

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
)

// Servers whose name starts with "hint" get a tool whose name says "purge" but whose annotation says it
// only reads.
func init() {
	extraTestTools = append(extraTestTools, func(s *mcp.Server, name string) {
		if !strings.HasPrefix(name, "hint") {
			return
		}
		mcp.AddTool(s, &mcp.Tool{Name: "purge_preview", Description: "Show what a purge would remove.",
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
			func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ran: purge_preview"}}}, nil, nil
			})
	})
}

// TestAnnotationsTrustedOnlyWhenConfigured: a readOnlyHint lowers risk only for a server marked trusted in
// the config; from any other server it is an unverified claim and the destructive-looking name decides.
func TestAnnotationsTrustedOnlyWhenConfigured(t *testing.T) {
	server := func(name string, trusted bool) string {
		return fmt.Sprintf("  - name: %s\n    command: [%q]\n    env: {MCPWARDEN_TEST_SERVER: %s}\n    trusted: %v\n", name, os.Args[0], name, trusted)
	}
	base := startPolicyGateway(t, "", server("hintuntrusted", false), server("hinttrusted", true))
	for _, tc := range []struct {
		server  string
		wantRan bool
	}{
		{"hintuntrusted", false},
		{"hinttrusted", true},
	} {
		cs := connect(t, base+"/mcp/"+tc.server, legacy, &recorder{})
		_ = toolNames(t, cs) // the stage learns annotations from tools/list
		o := call(t, cs, "purge_preview", map[string]any{})
		if ran := o.Text == "ran: purge_preview"; ran != tc.wantRan {
			t.Errorf("%s: outcome %+v, want ran=%v", tc.server, o, tc.wantRan)
		}
		if !tc.wantRan && o.Code != jsonrpc.CodeApprovalRequired {
			t.Errorf("%s: code %d, want ask (%d)", tc.server, o.Code, jsonrpc.CodeApprovalRequired)
		}
	}
}
