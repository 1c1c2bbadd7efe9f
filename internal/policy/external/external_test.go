package external

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// decisionPoint is a real HTTP server answering like OPA or a webhook; it records the inputs it got.
func decisionPoint(t *testing.T, answer func(in Request) (int, string)) (*httptest.Server, func() []Request) {
	var mu sync.Mutex
	var got []Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var env struct {
			Input Request `json:"input"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			t.Errorf("decision point got %s: %v", b, err)
		}
		mu.Lock()
		got = append(got, env.Input)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer t0k" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		code, body := answer(env.Input)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []Request { mu.Lock(); defer mu.Unlock(); return append([]Request(nil), got...) }
}

func TestDecide(t *testing.T) {
	opa, inputs := decisionPoint(t, func(in Request) (int, string) {
		switch in.Name {
		case "bool_allow":
			return 200, `{"result": true}`
		case "bool_deny":
			return 200, `{"result": false}`
		case "object_ask":
			return 200, `{"result": {"effect": "ask", "message": "ask the on-call", "rule": "oncall"}}`
		case "undefined":
			return 200, `{}`
		case "broken":
			return 500, `boom`
		case "slow":
			time.Sleep(300 * time.Millisecond)
			return 200, `{"result": true}`
		case "bad_effect":
			return 200, `{"result": {"effect": "maybe"}}`
		}
		return 200, `{"result": true}`
	})
	hooks, _ := decisionPoint(t, func(in Request) (int, string) {
		return 200, `{"effect": "deny", "message": "webhook says no"}`
	})
	headers := map[string]string{"Authorization": "Bearer t0k"}
	c := New(policy.External{Kind: "opa", URL: opa.URL, Timeout: 100 * time.Millisecond, OnError: policy.Deny, Headers: headers}, nil)
	allowLocal := policy.Decision{Effect: policy.Allow, Reason: "no rule matched"}
	for _, tc := range []struct {
		name   string
		local  policy.Decision
		effect policy.Effect
		rule   string
		msg    string
	}{
		{"bool_allow", allowLocal, policy.Allow, "", ""},
		{"bool_deny", allowLocal, policy.Deny, "external", "denied by the external policy decision point"},
		{"object_ask", allowLocal, policy.Ask, "external:oncall", "ask the on-call"},
		{"bool_allow", policy.Decision{Effect: policy.Ask, RuleID: "local"}, policy.Ask, "local", ""}, // never loosens
		{"undefined", allowLocal, policy.Deny, "external", "the external policy decision point is unavailable, so the call was refused"},
		{"broken", allowLocal, policy.Deny, "external", "the external policy decision point is unavailable, so the call was refused"},
		{"slow", allowLocal, policy.Deny, "external", "the external policy decision point is unavailable, so the call was refused"},
		{"bad_effect", allowLocal, policy.Deny, "external", "the external policy decision point is unavailable, so the call was refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &policy.Input{Method: "tools/call", Server: "s", Name: tc.name, Arguments: json.RawMessage(`{"a":1}`),
				Principal: policy.Principal{User: "alice", Auth: "local"}}
			d := c.Decide(context.Background(), in, tc.local)
			if d.Effect != tc.effect || d.RuleID != tc.rule || d.Message != tc.msg {
				t.Errorf("got %s %q %q, want %s %q %q (reason %s, errors %v)", d.Effect, d.RuleID, d.Message, tc.effect, tc.rule, tc.msg, d.Reason, d.Errors)
			}
		})
	}
	if first := inputs()[0]; first.Principal["user"] != "alice" || string(first.Arguments) != `{"a":1}` || first.Local["effect"] != "allow" {
		t.Errorf("decision point input = %+v", first)
	}

	// A point that cannot be reached fails closed; on_error: allow is honoured when configured.
	dead := New(policy.External{Kind: "webhook", URL: "http://127.0.0.1:1/", Timeout: time.Second}, nil)
	if d := dead.Decide(context.Background(), &policy.Input{Method: "tools/call"}, allowLocal); d.Effect != policy.Deny || len(d.Errors) != 1 {
		t.Errorf("unreachable point: %+v", d)
	}
	open := New(policy.External{Kind: "webhook", URL: "http://127.0.0.1:1/", Timeout: time.Second, OnError: policy.Allow}, nil)
	if d := open.Decide(context.Background(), &policy.Input{Method: "tools/call"}, allowLocal); d.Effect != policy.Allow {
		t.Errorf("on_error allow: %+v", d)
	}
	wh := New(policy.External{Kind: "webhook", URL: hooks.URL, Headers: headers}, nil)
	if d := wh.Decide(context.Background(), &policy.Input{Method: "tools/call"}, allowLocal); d.Effect != policy.Deny || d.Message != "webhook says no" {
		t.Errorf("webhook: %+v", d)
	}
	noToken := New(policy.External{Kind: "webhook", URL: hooks.URL}, nil)
	if d := noToken.Decide(context.Background(), &policy.Input{Method: "tools/call"}, allowLocal); d.Effect != policy.Deny || !strings.Contains(strings.Join(d.Errors, ""), "HTTP 401") {
		t.Errorf("webhook without token: %+v", d)
	}
}

func TestExternalConfig(t *testing.T) {
	p, err := policy.Compile("e.yaml", []byte("external: {kind: webhook, url: 'http://127.0.0.1:9/x', timeout: 250ms, on_error: ask, headers: {X-A: b}}\n"), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := policy.External{Kind: "webhook", URL: "http://127.0.0.1:9/x", Timeout: 250 * time.Millisecond, OnError: policy.Ask, Headers: map[string]string{"X-A": "b"}}
	if p.External == nil || p.External.Kind != want.Kind || p.External.URL != want.URL || p.External.Timeout != want.Timeout || p.External.OnError != want.OnError || p.External.Headers["X-A"] != "b" {
		t.Errorf("External = %+v", p.External)
	}
	for src, msg := range map[string]string{
		"external: {url: 'ftp://x'}\n":                   `external.url "ftp://x" is not an http(s) URL`,
		"external: {url: 'http://x', kind: rego}\n":      `external.kind "rego" is not valid`,
		"external: {kind: opa}\n":                        `external needs url:`,
		"external: {url: 'http://x', on_error: maybe}\n": `external.on_error "maybe" is not valid`,
		"external: {url: 'http://x', timeout: never}\n":  `external.timeout "never" is not a positive duration`,
	} {
		if _, err := policy.Compile("e.yaml", []byte(src), policy.Options{}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error = %v, want %q", src, err, msg)
		}
	}
}
