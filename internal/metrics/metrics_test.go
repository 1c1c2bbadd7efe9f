package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// series gathers m and returns "name{k=v,…}" → value for the counters and gauges.
func series(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			var ls []string
			for _, l := range s.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch {
			case s.Counter != nil:
				out[key] = s.GetCounter().GetValue()
			case s.Gauge != nil:
				out[key] = s.GetGauge().GetValue()
			case s.Histogram != nil:
				out[key+"count"] = float64(s.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestLabelsAreBounded: unknown methods count as "other", unknown servers as UnknownServer, the aggregate's
// own answers as AggregateServer; approval outcomes keep only their kind; only tools/call is timed.
func TestLabelsAreBounded(t *testing.T) {
	m := New([]string{"db"}, "test")
	for range 2 {
		m.Begin()
		m.Done("db", "tools/call", Forwarded, time.Millisecond)
	}
	m.Begin()
	m.Done("db", "vendor/secretMethod-"+strings.Repeat("x", 100), Denied, 0)
	m.Begin()
	m.Done("nope", "tools/list", Error, 0)
	m.Begin()
	m.Done("", "initialize", Answered, 0)
	m.Begin()
	m.Done("db", "tools/list", Outcome(200), 0) // out of range: counted as an error, never a new label
	m.Approval("approved:args:grant-123")
	m.Approval("grant:once:g-9")
	m.Approval("something new")
	m.Waiting(1)
	m.WatchSessions(func() int { return 4 })

	got := series(t, m)
	want := map[string]float64{
		"mcpwarden_requests_total{method=tools/call,outcome=forwarded,server=db}":         2,
		"mcpwarden_requests_total{method=other,outcome=denied,server=db}":                 1,
		"mcpwarden_requests_total{method=tools/list,outcome=error,server=(unknown)}":      1,
		"mcpwarden_requests_total{method=initialize,outcome=answered,server=(aggregate)}": 1,
		"mcpwarden_requests_total{method=tools/list,outcome=error,server=db}":             1,
		"mcpwarden_approvals_total{outcome=approved}":                                     1,
		"mcpwarden_approvals_total{outcome=grant}":                                        1,
		"mcpwarden_approvals_total{outcome=other}":                                        1,
		"mcpwarden_approvals_total{outcome=denied}":                                       0,
		"mcpwarden_approvals_waiting{}":                                                   1,
		"mcpwarden_requests_in_flight{}":                                                  0,
		"mcpwarden_sessions{}":                                                            4,
		"mcpwarden_tool_call_duration_seconds{server=db}count":                            2,
		"mcpwarden_build_info{version=test}":                                              1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "mcpwarden_requests_total") {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d request series, want the 5 counted (zero series are not exported)", n)
	}
	if _, ok := got["go_goroutines{}"]; !ok {
		t.Error("no go_goroutines")
	}
}

// TestNilMetrics: every method is a no-op on a nil *Metrics (metrics off).
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Begin()
	m.Done("db", "tools/call", Forwarded, time.Second)
	m.Approval("denied")
	m.Waiting(1)
	m.WatchSessions(func() int { return 1 })
	m.WatchAudit(nil)
}

// TestServer: the listener serves the registry at its path to GET, refuses other methods, and 404s
// elsewhere with the right path.
func TestServer(t *testing.T) {
	m := New([]string{"db"}, "test")
	s, err := Listen("127.0.0.1:0", "/metrics", false, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(context.Background()) }()
	get := func(method, url string) (int, string) {
		req, _ := http.NewRequest(method, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("GET", s.URL()); code != 200 || !strings.Contains(body, "\ngo_goroutines ") || !strings.Contains(body, "mcpwarden_build_info") {
		t.Errorf("GET %s: %d\n%.300s", s.URL(), code, body)
	}
	if code, _ := get("POST", s.URL()); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", code)
	}
	if code, body := get("GET", "http://"+s.Addr()+"/"); code != 404 || !strings.Contains(body, "/metrics") {
		t.Errorf("GET /: %d %q, want 404 naming /metrics", code, body)
	}
	if _, err := Listen(s.Addr(), "/metrics", false, m, nil); err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Errorf("second listener on %s: %v, want an error naming metrics.listen", s.Addr(), err)
	}
	if code, _ := get("GET", "http://"+s.Addr()+"/debug/pprof/"); code != 404 {
		t.Errorf("GET /debug/pprof/ without pprof: %d, want 404", code)
	}

	p, err := Listen("127.0.0.1:0", "/metrics", true, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(context.Background()) }()
	if code, body := get("GET", "http://"+p.Addr()+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ with pprof: %d %.200q", code, body)
	}
	if code, body := get("GET", "http://"+p.Addr()+"/debug/pprof/heap?debug=1"); code != 200 || !strings.Contains(body, "heap profile") {
		t.Errorf("GET /debug/pprof/heap with pprof: %d %.200q", code, body)
	}
	if code, body := get("GET", p.URL()); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics beside pprof: %d %.200q", code, body)
	}
}
