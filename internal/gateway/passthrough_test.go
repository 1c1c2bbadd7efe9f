package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// rawUpstream is a Streamable HTTP "server" that records every body it receives and answers each request with
// a canned response carrying unknown fields, so byte-exact forwarding can be checked in both directions.
type rawUpstream struct {
	mu     sync.Mutex
	bodies []string
}

func (u *rawUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, string(body))
	u.mu.Unlock()
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	switch {
	case bytes.Contains(body, []byte(`"method":"initialize"`)):
		w.Header().Set("Mcp-Session-Id", "up-1")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"raw","version":"1"}}}`)
	case bytes.Contains(body, []byte(`"vendor/custom"`)):
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":"req-\u00e9","result":{"x-vendor":{"nested":[1,2.50,"three"]},"order":"kept"},"extension":true}`)
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

func TestPassthroughIsByteExact(t *testing.T) {
	up := &rawUpstream{}
	ts := httptest.NewServer(up)
	t.Cleanup(ts.Close)
	_, base := startGateway(t, fmt.Sprintf("  - name: raw\n    url: %s\n", ts.URL))

	post := func(body, sid string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", base+"/mcp/raw", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, _ := post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, "")
	sid := res.Header.Get("Mcp-Session-Id")
	if sid == "" || sid == "up-1" {
		t.Fatalf("gateway session id %q: must be the gateway's own, not the upstream's", sid)
	}
	custom := `{ "jsonrpc" : "2.0", "id" : "req-\u00e9", "method" : "vendor/custom", "params" : { "a" : 1.50, "_meta" : { "x" : [ ] } }, "extra" : null }`
	_, body := post(custom, sid)

	up.mu.Lock()
	got := up.bodies[len(up.bodies)-1]
	up.mu.Unlock()
	if got != custom {
		t.Errorf("upstream received\n%s\nwant the client's bytes\n%s", got, custom)
	}
	want := `{"jsonrpc":"2.0","id":"req-\u00e9","result":{"x-vendor":{"nested":[1,2.50,"three"]},"order":"kept"},"extension":true}`
	var data string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data += d
		}
	}
	if data == "" {
		data = body
	}
	if data != want {
		t.Errorf("client received\n%s\nwant the upstream's bytes\n%s", data, want)
	}
}
