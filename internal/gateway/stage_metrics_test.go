package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/metrics"
)

// startMetricsGateway starts a gateway from body (which has a metrics: section) with the stages BuildStages
// makes, serves its metrics on their own listener as `serve` does, and returns the gateway's base URL, the
// scrape URL and the config.
func startMetricsGateway(t *testing.T, body string) (string, string, *config.Config) {
	t.Helper()
	cfg, _ := loadTestConfig(t, body)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stages, closeStages, err := BuildStages(t.Context(), cfg, log)
	if err != nil {
		t.Fatalf("stages: %v", err)
	}
	if stages.Metrics == nil {
		t.Fatal("BuildStages made no metrics for a config with a metrics: section")
	}
	g, err := New(cfg, Options{Logger: log, Stages: stages})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := metrics.Listen(cfg.Metrics.Listen, cfg.Metrics.Path, cfg.Metrics.Pprof, stages.Metrics, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close(t.Context()) })
	return serveGateway(t, g, closeStages), ms.URL(), cfg
}

// scrape is one scrape of a Prometheus endpoint, parsed with the Prometheus text parser: series
// "name{k=v,…}" (labels sorted) → value; a histogram gives name_count and name_sum series.
type scrape map[string]float64

func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %s\n%s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: not Prometheus text: %v", url, err)
	}
	out := scrape{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(labels)
			key := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name+key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name+key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[name+"_count"+key] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+key] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// requests is the key of mcpwarden_requests_total for server, method and outcome.
func requests(server, method, outcome string) string {
	return fmt.Sprintf("mcpwarden_requests_total{method=%s,outcome=%s,server=%s}", method, outcome, server)
}

// diff is the change of every series from before to s that changed.
func (s scrape) diff(before scrape) map[string]float64 {
	d := map[string]float64{}
	for k, v := range s {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// TestMetricsEndpoint: calls through a gateway with every default stage move the request counters by
// exactly the calls made, per server, method and outcome (forwarded, denied, approval asked, answered by the
// aggregate endpoint, upstream error), on both protocol eras and the aggregate endpoint; tools/call is timed;
// sessions, the audit writer and the Go runtime (go_goroutines) are exported; nothing is labelled by user,
// session or argument.
func TestMetricsEndpoint(t *testing.T) {
	remote := httptest.NewServer(newTestHTTPUpstream("polhttp", true))
	t.Cleanup(remote.Close)
	url, murl, _ := startMetricsGateway(t, "servers:\n"+stdioServerYAML("pol")+httpServerYAML("polhttp", remote.URL)+
		"approval: {enabled: false}\nmetrics: {listen: 127.0.0.1:0}\n")

	first := scrapeMetrics(t, murl)
	for _, k := range []string{"go_goroutines{}", "process_resident_memory_bytes{}", "go_memstats_heap_alloc_bytes{}",
		"mcpwarden_build_info{version=" + Version + "}", "mcpwarden_sessions{}", "mcpwarden_requests_in_flight{}",
		"mcpwarden_approvals_waiting{}", "mcpwarden_audit_records_total{}", "mcpwarden_audit_failures_total{}",
		"mcpwarden_tool_call_duration_seconds_count{server=pol}", "mcpwarden_tool_call_duration_seconds_count{server=polhttp}"} {
		if _, ok := first[k]; !ok {
			t.Errorf("no series %s in the first scrape", k)
		}
	}
	if first["go_goroutines{}"] < 1 || first["process_resident_memory_bytes{}"] <= 0 || first["mcpwarden_build_info{version="+Version+"}"] != 1 {
		t.Errorf("go_goroutines %v, rss %v, build_info %v", first["go_goroutines{}"], first["process_resident_memory_bytes{}"],
			first["mcpwarden_build_info{version="+Version+"}"])
	}

	// 2025-11-25 session on /mcp/pol.
	cs := connect(t, url+"/mcp/pol", legacy, &recorder{})
	before := scrapeMetrics(t, murl)
	if before["mcpwarden_sessions{}"] != 1 {
		t.Errorf("mcpwarden_sessions = %v with one 2025-era session open, want 1", before["mcpwarden_sessions{}"])
	}
	if got := before[requests("pol", "initialize", "forwarded")]; got != 1 {
		t.Errorf("initialize forwarded to pol counted %v times, want 1", got)
	}
	for i := range 3 {
		if o := call(t, cs, "echo", map[string]any{"text": fmt.Sprint("hi ", i)}); !strings.HasSuffix(o.Text, fmt.Sprint(":hi ", i)) {
			t.Fatalf("echo: %+v", o)
		}
	}
	for range 2 {
		if o := call(t, cs, "shell", map[string]any{"command": "rm -rf /"}); o.Code != jsonrpc.CodePolicyDenied {
			t.Fatalf("rm -rf /: %+v, want a policy denial", o)
		}
	}
	if o := call(t, cs, "sql", map[string]any{"query": "DROP TABLE users"}); o.Code != jsonrpc.CodeApprovalRequired {
		t.Fatalf("DROP TABLE: %+v, want an approval refusal", o)
	}
	if _, err := cs.ListTools(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if o := call(t, cs, "crash", map[string]any{"text": "x"}); o.Code != jsonrpc.CodeUpstreamUnavailable {
		t.Fatalf("crash: %+v, want the upstream-unavailable error", o)
	}
	after := scrapeMetrics(t, murl)
	d := after.diff(before)
	want := map[string]float64{
		requests("pol", "tools/call", "forwarded"):               3,
		requests("pol", "tools/call", "denied"):                  2,
		requests("pol", "tools/call", "approval_asked"):          1,
		requests("pol", "tools/call", "error"):                   1,
		requests("pol", "tools/list", "forwarded"):               1,
		"mcpwarden_tool_call_duration_seconds_count{server=pol}": 7,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s moved by %v, want %v", k, d[k], v)
		}
	}
	for k := range d {
		if strings.HasPrefix(k, "mcpwarden_requests_total") && want[k] == 0 {
			t.Errorf("%s moved by %v, want no change", k, d[k])
		}
	}
	if s := d["mcpwarden_tool_call_duration_seconds_sum{server=pol}"]; s <= 0 || s > 60 {
		t.Errorf("tools/call latency sum moved by %vs", s)
	}
	// Every request record is committed before the call goes on (responses follow asynchronously).
	if got := after["mcpwarden_audit_records_total{}"] - before["mcpwarden_audit_records_total{}"]; got < 8 {
		t.Errorf("audit records moved by %v over 8 requests, want at least 8", got)
	}
	if after["mcpwarden_audit_batches_total{}"] <= 0 || after["mcpwarden_audit_failures_total{}"] != 0 {
		t.Errorf("audit batches %v, failures %v", after["mcpwarden_audit_batches_total{}"], after["mcpwarden_audit_failures_total{}"])
	}
	if after["mcpwarden_requests_in_flight{}"] != 0 {
		t.Errorf("requests in flight = %v after every call returned", after["mcpwarden_requests_in_flight{}"])
	}

	// 2026-07-28 (stateless) on the HTTP upstream, and the aggregate endpoint (2025 era).
	before = after
	modern := connect(t, url+"/mcp/polhttp", "", &recorder{})
	if o := call(t, modern, "echo", map[string]any{"text": "new era"}); !strings.HasSuffix(o.Text, ":new era") {
		t.Fatalf("echo 2026: %+v", o)
	}
	agg := connect(t, url+"/mcp", legacy, &recorder{})
	if o := call(t, agg, "polhttp.echo", map[string]any{"text": "via /mcp"}); !strings.HasSuffix(o.Text, ":via /mcp") {
		t.Fatalf("echo via the aggregate: %+v", o)
	}
	d = scrapeMetrics(t, murl).diff(before)
	for k, v := range map[string]float64{
		requests("polhttp", "tools/call", "forwarded"):               2,
		requests(metrics.AggregateServer, "initialize", "answered"):  1,
		"mcpwarden_tool_call_duration_seconds_count{server=polhttp}": 2,
	} {
		if d[k] != v {
			t.Errorf("%s moved by %v, want %v (all changes: %v)", k, d[k], v, d)
		}
	}

	// Label values are bounded: configured servers and the pseudo-servers, no user, session or argument.
	for k := range scrapeMetrics(t, murl) {
		if strings.Contains(k, "session=") || strings.Contains(k, "user=") || strings.Contains(k, "hi ") || strings.Contains(k, "rm -rf") {
			t.Errorf("series %s carries a per-call label", k)
		}
		if strings.HasPrefix(k, "mcpwarden_requests_total") && !strings.Contains(k, "server=pol,") && !strings.Contains(k, "server=polhttp}") &&
			!strings.Contains(k, "server=pol}") && !strings.Contains(k, "server="+metrics.AggregateServer) {
			t.Errorf("series %s has a server label that is no configured server", k)
		}
	}
}

// TestMetricsApprovals: a parked call shows as waiting and in flight while a human decides; a denial is
// counted as an approval outcome and the request as denied.
func TestMetricsApprovals(t *testing.T) {
	url, murl, cfg := startMetricsGateway(t, "servers:\n"+stdioServerYAML("pol")+"approval: {timeout: 1m}\nmetrics: {listen: 127.0.0.1:0, path: /ops/metrics}\n")
	if !strings.HasSuffix(murl, "/ops/metrics") {
		t.Fatalf("metrics URL %s does not end in the configured path", murl)
	}
	st, err := approval.OpenStore(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cs := connect(t, url+"/mcp/pol", legacy, &recorder{})
	before := scrapeMetrics(t, murl)

	q := "DROP TABLE metrics_deny"
	res := asyncCall(t, cs, "sql", map[string]any{"query": q})
	a := pending(t, st, q)
	// Parked: the gauge moves once Await started, which follows the pending row by a moment.
	deadline := time.Now().Add(10 * time.Second)
	for scrapeMetrics(t, murl)["mcpwarden_approvals_waiting{}"] != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	during := scrapeMetrics(t, murl)
	if during["mcpwarden_approvals_waiting{}"] != 1 || during["mcpwarden_requests_in_flight{}"] != 1 {
		t.Errorf("while parked: approvals waiting %v, requests in flight %v; want 1 and 1",
			during["mcpwarden_approvals_waiting{}"], during["mcpwarden_requests_in_flight{}"])
	}
	if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{By: bob, Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	if got := <-res; got.Code != jsonrpc.CodePolicyDenied {
		t.Fatalf("denied call = %+v", got)
	}
	d := scrapeMetrics(t, murl).diff(before)
	for k, v := range map[string]float64{
		requests("pol", "tools/call", "denied"):     1,
		"mcpwarden_approvals_total{outcome=denied}": 1,
	} {
		if d[k] != v {
			t.Errorf("%s moved by %v, want %v (all changes: %v)", k, d[k], v, d)
		}
	}
	if w := d["mcpwarden_approvals_waiting{}"]; w != 0 {
		t.Errorf("approvals waiting moved by %v after the decision, want back to 0", w)
	}

	// The listener serves only the configured path.
	resp, err := http.Get(strings.TrimSuffix(murl, "/ops/metrics") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "/ops/metrics") {
		t.Errorf("GET /metrics on a /ops/metrics listener: %s %q, want 404 naming the path", resp.Status, body)
	}
}

// TestMetricsOff: without a metrics: section BuildStages makes no metrics, and the chain has no counting
// layer (countRequests returns the handler itself).
func TestMetricsOff(t *testing.T) {
	cfg, _ := loadTestConfig(t, "servers:\n"+httpServerYAML("up", "http://127.0.0.1:1/mcp"))
	stages, closeStages, err := BuildStages(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeStages() })
	if stages.Metrics != nil {
		t.Fatal("metrics built without a metrics: section")
	}
	h := Handler(func(context.Context, *Exchange) (*jsonrpc.Message, error) { return nil, nil })
	if got := countRequests(nil, h); reflect.ValueOf(got).Pointer() != reflect.ValueOf(h).Pointer() {
		t.Error("countRequests(nil, h) wraps h")
	}
}

// BenchmarkCountRequests: what the request counters add to one request, around a handler that answers at
// once (metrics on: a counter, the in-flight gauge, the tools/call histogram; off: nothing).
func BenchmarkCountRequests(b *testing.B) {
	reply := jsonrpc.MustDecode([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	msg := jsonrpc.MustDecode([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}`))
	next := func(context.Context, *Exchange) (*jsonrpc.Message, error) { return reply, nil }
	for _, c := range []struct {
		name string
		m    *metrics.Metrics
	}{{"off", nil}, {"on", metrics.New([]string{"a", "b", "up"}, "bench")}} {
		b.Run(c.name, func(b *testing.B) {
			h := countRequests(c.m, next)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				x := &Exchange{Server: "up", Msg: msg}
				x.forwarded.Store(true)
				if _, err := h(ctx, x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
