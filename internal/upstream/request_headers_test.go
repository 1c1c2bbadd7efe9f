package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type userKey struct{}

// TestHTTPRequestHeaders: RequestHeaders adds a per-caller header to each POST (from the Send context) and
// to the GET stream and DELETE (from the Open context); its error fails the request without the secret.
func TestHTTPRequestHeaders(t *testing.T) {
	srv := goSDKFixture()
	rec := &httpRecorder{next: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)}
	ts := httptest.NewServer(rec)
	defer ts.Close()

	headers := func(ctx context.Context) (http.Header, error) {
		u, _ := ctx.Value(userKey{}).(string)
		if u == "" {
			return nil, errors.New("no credential for this caller")
		}
		return http.Header{"Authorization": {"Bearer token-of-" + u}}, nil
	}
	openCtx := context.WithValue(t.Context(), userKey{}, "alice")
	conn, err := NewHTTP(HTTPOptions{Name: "fixture", URL: ts.URL, Headers: map[string]string{"Authorization": "Bearer shared"},
		RequestHeaders: headers}).Open(openCtx)
	if err != nil {
		t.Fatal(err)
	}
	send := func(user, raw string) error {
		return conn.Send(context.WithValue(t.Context(), userKey{}, user), Frame{Msg: wireMsg(t, raw)})
	}
	if err := send("alice", legacyInit); err != nil {
		t.Fatal(err)
	}
	wireRecvResponse(t, conn, "1")
	if err := send("alice", `{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil {
		t.Fatal(err)
	}
	if err := send("bob", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`); err != nil {
		t.Fatal(err)
	}
	wireRecvResponse(t, conn, "2")
	// No caller value: the request fails with the function's error, as a JSON-RPC error for its id.
	if err := conn.Send(t.Context(), Frame{Msg: wireMsg(t, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)}); err != nil {
		t.Fatal(err)
	}
	f, _ := wireRecvResponse(t, conn, "3")
	if we := wireErrorOf(t, f); !strings.Contains(we.Message, "no credential for this caller") {
		t.Errorf("error = %q", we.Message)
	}
	wireClose(t, conn)

	var got []string
	for _, r := range rec.all() {
		got = append(got, r.Method+" "+strings.Join(r.Header.Values("Authorization"), "|"))
	}
	// The GET stream may or may not have been opened before Close; when it was, it carried alice's token.
	got = deleteIf(got, "GET Bearer token-of-alice")
	want := []string{
		"POST Bearer token-of-alice", "POST Bearer token-of-alice", "POST Bearer token-of-bob",
		"DELETE Bearer token-of-alice",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got)\n%s", diff)
	}
}

func deleteIf(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
