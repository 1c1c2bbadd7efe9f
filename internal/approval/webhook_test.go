package approval

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWebhook: a pending approval is posted as Slack-compatible JSON with a valid HMAC-SHA256 signature,
// retried after failures, and never carries the call's arguments.
func TestWebhook(t *testing.T) {
	var mu sync.Mutex
	var tries int
	got := make(chan map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		tries++
		n := tries
		mu.Unlock()
		if n < 3 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		want := Sign("hush", r.Header.Get(TimestampHeader), body)
		if !hmac.Equal([]byte(want), []byte(r.Header.Get(SignatureHeader))) {
			t.Errorf("signature %q, want %q", r.Header.Get(SignatureHeader), want)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("body is not JSON: %v", err)
		}
		if strings.Contains(string(body), "DROP TABLE") {
			t.Errorf("the webhook body carries the arguments: %s", body)
		}
		got <- m
	}))
	defer srv.Close()
	w, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: "hush", Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a := &Approval{ID: "apr-1", Created: time.Now(), Call: alice, Require: Requirement{Timeout: time.Minute}}
	w.Notify(a)
	m := <-got
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	text, _ := m["text"].(string)
	if !strings.Contains(text, "apr-1") || !strings.Contains(text, "sql") || !strings.Contains(text, "alice") {
		t.Errorf("text = %q, want the approval id, tool and user", text)
	}
	if tries != 3 {
		t.Errorf("tries = %d, want 3 (two failures, then delivered)", tries)
	}
}

// TestWebhookCloseStopsRetries: Close ends a delivery that keeps failing.
func TestWebhookCloseStopsRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	w, err := NewWebhook(WebhookConfig{URL: srv.URL, Attempts: 1000, Backoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w.Notify(&Approval{ID: "apr-2", Call: alice})
	if err := w.Close(); err != nil { // returns once the waiting retry is cancelled
		t.Fatal(err)
	}
}

// TestWebhookLinksToDashboard: with the dashboard on, the message links to the approval's dashboard page.
func TestWebhookLinksToDashboard(t *testing.T) {
	got := make(chan map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		got <- m
	}))
	defer srv.Close()
	w, err := NewWebhook(WebhookConfig{URL: srv.URL, DashboardURL: "https://mcp.example.com/ui/"})
	if err != nil {
		t.Fatal(err)
	}
	w.Notify(&Approval{ID: "apr-3", Created: time.Now(), Call: alice, Require: Requirement{Timeout: time.Minute}})
	m := <-got
	_ = w.Close()
	const link = "https://mcp.example.com/ui/approvals/apr-3"
	if text, _ := m["text"].(string); !strings.Contains(text, "<"+link+"|the dashboard>") {
		t.Errorf("text = %q, want a link to %s", text, link)
	}
	if mw, _ := m["mcpwarden"].(map[string]any); mw["url"] != link {
		t.Errorf("mcpwarden.url = %v, want %s", mw["url"], link)
	}
}
