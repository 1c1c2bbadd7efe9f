package gateway

import (
	"strings"
	"testing"
)

// Wire-format bypass tests: a message whose bytes the gateway and the upstream server would read as two
// different requests. Each case is sent as raw HTTP through the real gateway to a real go-sdk server; the
// server must never act on something the policy did not see.

const wirePolicy = `policy:
  default: allow
  rules:
    - {id: no-static, resources: ['test://*/static'], effect: deny, message: static is off limits}
    - {id: no-shell, tools: [shell], effect: deny, message: no shell}
`

// TestWireResourceNamedByURI: resources/read, subscribe and unsubscribe act on params.uri. A "name" member
// beside it (ignored by the server) must not be what policy judges, on a server's endpoint or on the
// aggregate, whose routing and rewriting follow the same member.
func TestWireResourceNamedByURI(t *testing.T) {
	url := startPolicyGateway(t, wirePolicy, stdioServerYAML("pol"))
	one, agg := url+"/mcp/pol", url+"/mcp"
	sOne, sAgg := rawInitialize(t, one), rawInitialize(t, agg)
	for _, c := range []struct{ url, sid, body string }{
		{one, sOne, `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"name":"harmless","uri":"test://pol/static"}}`},
		{one, sOne, `{"jsonrpc":"2.0","id":3,"params":{"uri":"test://pol/static","name":"harmless"},"method":"resources/read"}`},
		{one, sOne, `{"jsonrpc":"2.0","id":4,"method":"resources/subscribe","params":{"name":"harmless","uri":"test://pol/static"}}`},
		{agg, sAgg, `{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"name":"harmless","uri":"mcpwarden://pol/test://pol/static"}}`},
		{agg, sAgg, `{"jsonrpc":"2.0","id":6,"method":"resources/read","params":{"name":"mcpwarden://pol/test://pol/static","uri":"test://pol/static"}}`},
		{agg, sAgg, `{"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"name":"mcpwarden://pol/test://pol/static","uri":"mcpwarden://pol/test://pol/static"}}`},
	} {
		out := rawPost(t, c.url, c.sid, c.body)
		if strings.Contains(out, "static from") || strings.Contains(out, `"result"`) || !strings.Contains(out, `"error"`) {
			t.Errorf("POST %s %s\n→ %s\nwant an error and nothing read", c.url, c.body, out)
		}
	}
	// The same request without the extra member is denied as before.
	if out := rawPost(t, one, sOne, `{"jsonrpc":"2.0","id":8,"method":"resources/read","params":{"uri":"test://pol/static"}}`); !strings.Contains(out, `"error"`) {
		t.Errorf("plain read of a denied resource: %s", out)
	}
}
