package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdkjsonrpc "github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
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

// serveLineFramed runs the test server (with the "pol" tools) behind the stdin framing of Python's MCP SDK
// (a text stream in universal-newlines mode) and of Node's readline: a line ends at LF, CR or CRLF, and, as
// Python's str.splitlines has it, at U+0085, U+2028 and U+2029. Each line that is a JSON-RPC message is
// passed to the go-sdk server; other lines are skipped, as those SDKs skip them. Every tools/call the server
// receives is appended to the file logPath, one tool name per line.
func serveLineFramed(logPath string) int {
	srv := newTestServer("pol-lines")
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		sc.Split(universalLines)
		for sc.Scan() {
			line := sc.Bytes()
			msg, err := sdkjsonrpc.DecodeMessage(line)
			if err != nil {
				continue
			}
			if req, ok := msg.(*sdkjsonrpc.Request); ok && req.Method == "tools/call" {
				var p struct {
					Name string `json:"name"`
				}
				_ = json.Unmarshal(req.Params, &p)
				if f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
					fmt.Fprintln(f, p.Name)
					f.Close()
				}
			}
			if _, err := pw.Write(append(bytes.Clone(line), '\n')); err != nil {
				return
			}
		}
		pw.Close()
	}()
	if err := srv.Run(context.Background(), &mcp.IOTransport{Reader: pr, Writer: os.Stdout}); err != nil {
		return 1
	}
	return 0
}

// universalLines is a bufio.SplitFunc that ends a line at LF, CR, U+0085, U+2028 or U+2029.
func universalLines(data []byte, atEOF bool) (int, []byte, error) {
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\n' || data[i] == '\r':
			return i + 1, data[:i], nil
		case bytes.HasPrefix(data[i:], []byte("\u0085")), bytes.HasPrefix(data[i:], []byte("\u2028")),
			bytes.HasPrefix(data[i:], []byte("\u2029")):
			n := len(string([]rune(string(data[i : i+3]))[0]))
			return i + n, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// TestWireStdioLineFraming: what the gateway forwards to a stdio server is one message on one line for
// every common line reader. A lone CR (insignificant whitespace to JSON) would otherwise end the line for a
// Python or Node server, which would then run the message hidden inside the one policy judged.
func TestWireStdioLineFraming(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "calls")
	server := fmt.Sprintf("  - name: lines\n    command: [%q]\n    env: {MCPWARDEN_TEST_LINE_SERVER: %q}\n    timeout: 20s\n", os.Args[0], logPath)
	url := startPolicyGateway(t, wirePolicy, server) + "/mcp/lines"
	sid := rawInitialize(t, url)
	inner := `{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"shell","arguments":{"command":"id"}}}`
	for i, c := range []struct{ what, body string }{
		{"lone CR between values", `{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a"},"_meta":{"pad":` + "\r" + inner + "\r" + `}}}`},
		{"CR before the smuggled line, CRLF after", `{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b"},"_meta":{"pad":` + "\r" + inner + "\r\n" + `}}}`},
		// Raw line separators inside strings cannot hide a message (what follows one is the rest of a string),
		// but a server that splits lines at them would lose the call.
		{"raw U+0085, U+2028 and U+2029 in strings", `{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"echo","arguments":{"text":"c` + "\u2028\u0085" + `"},"_meta":{"end":"` + "\u2029" + `"}}}`},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", legacy)
		resp, err := http.DefaultClient.Do(req)
		var out []byte
		if err == nil {
			out, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		cancel()
		if want := "pol-lines:" + string("abc"[i]); err != nil || !strings.Contains(string(out), want) {
			t.Errorf("%s: %v %s\nwant the echo call answered (%q)", c.what, err, out, want)
		}
	}
	got, _ := os.ReadFile(logPath)
	if string(got) != "echo\necho\necho\n" {
		t.Errorf("the line-framed server received tools/call for:\n%s\nwant echo three times and no shell", got)
	}
}

// listUpstream is a Streamable HTTP server (JSON responses) whose initialize and tools/list results are
// given as raw JSON, for results no SDK would write.
type listUpstream struct{ hello, tools string }

func (u listUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || json.Unmarshal(body, &req) != nil || len(req.ID) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	result := `{}`
	switch req.Method {
	case "initialize":
		w.Header().Set("Mcp-Session-Id", "up-1")
		result = `{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"lists","version":"1"}` + u.hello + `}`
	case "tools/list":
		result = `{"tools":` + u.tools + `}`
	case "tools/call":
		result = `{"content":[{"type":"text","text":"ran"}]}`
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(req.ID)+`,"result":`+result+`}`)
}

// TestWireCaseVariantKeysInResults: a tools/list item or an initialize result with keys that differ only
// in case ("description" and "Description") is read one way by the gateway's scanners and another by
// clients: go-sdk matches keys exactly, encoding/json clients take the last case variant. The poisoned text
// must reach neither: the item is quarantined (hidden, its calls refused), the instructions withheld.
func TestWireCaseVariantKeysInResults(t *testing.T) {
	desc, _ := json.Marshal(poisonDesc)
	tools := `[{"name":"add","description":` + string(desc) + `,"Description":"Add two numbers.","inputSchema":{"type":"object"}},` +
		`{"name":"sub","Description":` + string(desc) + `,"description":"Subtract two numbers.","inputSchema":{"type":"object"}},` +
		`{"name":"mul","description":"Multiply.","inputSchema":{"type":"object","properties":{"a":{"description":"x","de\u017fcription":` + string(desc) + `}}}},` +
		`{"name":"plain","description":"Say hi.","inputSchema":{"type":"object"}}]`
	hello := `,"instructions":"Use the tools.","Instructions":` + string(desc)
	ts := httptest.NewServer(listUpstream{hello: hello, tools: tools})
	t.Cleanup(ts.Close)
	url, _ := startInspectGateway(t, inspectOnly, httpServerYAML("lists", ts.URL))
	cs := connect(t, url+"/mcp/lists", legacy, nil)
	if got := cs.InitializeResult().Instructions; got != "" {
		t.Errorf("instructions reached the client: %q", got)
	}
	names, _ := listedTools(t, cs)
	if strings.Join(names, ",") != "plain" {
		t.Errorf("listed tools %v, want only plain (add, sub and mul have case-variant keys)", names)
	}
	for _, name := range []string{"add", "sub", "mul"} {
		if got := call(t, cs, name, nil); got.Text != "" || !strings.Contains(got.Err, "quarantined") {
			t.Errorf("call %s = %+v, want it refused as quarantined", name, got)
		}
	}
	if got := call(t, cs, "plain", nil); got.Text != "ran" {
		t.Errorf("call plain = %+v", got)
	}
}

// TestWireAliasedRequestIDs: two requests in flight whose ids differ in bytes but not for the server
// ("a" and "\u0061"; 7 and 7.0) are one id to it. go-sdk ignores the second, which then waits for the
// gateway's timeout; a server that answers both (with its own encoding of the id) would have its answer to
// one delivered, and inspected, as the answer to the other. The second is refused at once while the first
// is in flight, and the first gets its own answer.
func TestWireAliasedRequestIDs(t *testing.T) {
	url := startPolicyGateway(t, wirePolicy, stdioServerYAML("pol")) + "/mcp/pol"
	sid := rawInitialize(t, url)
	for _, ids := range [][2]string{{`"a"`, `"\u0061"`}, {`7`, `7.0`}} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		first := make(chan string, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(
				`{"jsonrpc":"2.0","id":`+ids[0]+`,"method":"tools/call","params":{"name":"slow","arguments":{"steps":1,"step_ms":700}}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("Mcp-Protocol-Version", legacy)
			var out []byte
			if resp, err := http.DefaultClient.Do(req); err == nil {
				out, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			first <- string(out)
		}()
		time.Sleep(300 * time.Millisecond) // the first request reaches the server
		sctx, scancel := context.WithTimeout(t.Context(), 5*time.Second)
		req, _ := http.NewRequestWithContext(sctx, http.MethodPost, url, strings.NewReader(
			`{"jsonrpc":"2.0","id":`+ids[1]+`,"method":"tools/call","params":{"name":"echo","arguments":{"text":"leak"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", legacy)
		var second []byte
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			second, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		scancel()
		if err != nil || !strings.Contains(string(second), "already in use") {
			t.Errorf("ids %s then %s: second request → %v %s, want it refused (id in use)", ids[0], ids[1], err, second)
		}
		out := <-first
		cancel()
		if !strings.Contains(out, "done 1") {
			t.Errorf("ids %s then %s: the first request → %s, want its own answer", ids[0], ids[1], out)
		}
	}
}
