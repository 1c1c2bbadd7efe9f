// Package metrics is mcpwarden's Prometheus instrumentation: the Go runtime and process collectors
// (go_goroutines, go_memstats_*, process_resident_memory_bytes, …) and the gateway's own metrics — client
// requests by server, method and outcome, the latency of tools/call through the gateway, requests in flight,
// live sessions, the audit writer's counters and the approvals. `mcpwarden serve` serves them on a listener
// of their own (config metrics:), so nothing is exposed unless asked.
//
// The hot path is one call per client request (Metrics.Done): two map lookups, an atomic add and, for
// tools/call, one histogram observation; the request counters are plain atomics read only when scraped.
// Label values are bounded: servers come from the config, methods from a fixed list (anything else is
// "other"), outcomes from Outcome. Nothing is labelled by user, session, tool or argument.
package metrics

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcpwarden/mcpwarden/internal/audit"
)

// Outcome is how the gateway answered one client request.
type Outcome uint8

// Outcomes, the values of the outcome label.
const (
	// Forwarded: the request reached the upstream and its answer came back (a result, or the upstream's own
	// JSON-RPC error).
	Forwarded Outcome = iota
	// Denied: refused on policy grounds — a policy rule, an approver, a quarantined tool, a data-flow guard
	// (JSON-RPC error -32082).
	Denied
	// ApprovalAsked: put to a human and not let through (yet): asked in band, not decided in time, or the
	// approval could not be parked (-32084).
	ApprovalAsked
	// Answered: answered by the gateway itself (the aggregate endpoint's initialize, ping and merged lists).
	Answered
	// Error: the gateway or the upstream failed — unreachable, timed out, audit unavailable, shutting down,
	// an internal error.
	Error
	// Cancelled: no answer, because the client went away or cancelled the request first.
	Cancelled
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"forwarded", "denied", "approval_asked", "answered", "error", "cancelled"}

// String returns the outcome's label value.
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// Methods with a label value of their own; any other method is counted as "other".
var methodNames = []string{
	"initialize", "ping", "server/discover", "logging/setLevel", "completion/complete",
	"tools/list", "tools/call", "prompts/list", "prompts/get",
	"resources/list", "resources/templates/list", "resources/read", "resources/subscribe", "resources/unsubscribe",
	"tasks/get", "tasks/list", "tasks/result", "tasks/cancel",
	"other",
}

const numMethods = 19

var (
	methodIndex = func() map[string]int {
		if len(methodNames) != numMethods {
			panic("metrics: numMethods does not match methodNames")
		}
		m := make(map[string]int, numMethods)
		for i, n := range methodNames {
			m[n] = i
		}
		return m
	}()
	methodOther    = methodIndex["other"]
	methodToolCall = methodIndex["tools/call"]
)

// Server label values that are not configured server names (names are [A-Za-z0-9_-], so these cannot
// collide with one).
const (
	// AggregateServer labels what the aggregate endpoint /mcp answers itself.
	AggregateServer = "(aggregate)"
	// UnknownServer labels a request for a server the metrics were not told about.
	UnknownServer = "(unknown)"
)

// Approval outcomes (the part of the audit record's approval outcome before the first ":"), the values of
// mcpwarden_approvals_total's outcome label; anything else is "other".
var approvalOutcomes = []string{"grant", "approved", "denied", "allowed_on_timeout", "timed_out", "asked_in_band", "abandoned", "spent", "other"}

// Buckets of mcpwarden_tool_call_duration_seconds: from the gateway's own sub-millisecond share to calls
// that waited for an approval.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// Metrics holds mcpwarden's registry. Its methods are safe for concurrent use, and are no-ops on a nil
// *Metrics (metrics off).
type Metrics struct {
	reg *prometheus.Registry

	servers          map[string]*serverStats // by configured name, "" for the aggregate's own answers; read-only after New
	unknown          *serverStats
	all              []*serverStats // in label order, for scrapes
	inFlight         prometheus.Gauge
	approvalsWaiting prometheus.Gauge
	approvals        map[string]prometheus.Counter
	requestsDesc     *prometheus.Desc
	sessions         atomic.Pointer[func() int]
}

// serverStats are one server label's request counters.
type serverStats struct {
	label    string
	requests [numMethods][numOutcomes]atomic.Uint64
	latency  prometheus.Observer // tools/call; nil for the pseudo-servers
}

// New returns the registry of a gateway with the given configured servers: the Go and process collectors,
// build information, and mcpwarden's request, latency and approval metrics. Sessions and the audit writer
// are added with WatchSessions and WatchAudit.
func New(servers []string, version string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		reg:     reg,
		servers: make(map[string]*serverStats, len(servers)+1),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mcpwarden_requests_in_flight",
			Help: "Client requests inside the gateway's chain now (including calls parked for an approval)."}),
		approvalsWaiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mcpwarden_approvals_waiting",
			Help: "Calls this gateway holds parked until a human approves or denies them."}),
		requestsDesc: prometheus.NewDesc("mcpwarden_requests_total",
			"Client requests the gateway handled, by server, method (unknown methods: other) and outcome "+
				"(forwarded, denied, approval_asked, answered, error, cancelled).",
			[]string{"server", "method", "outcome"}, nil),
	}
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcpwarden_tool_call_duration_seconds",
		Help:    "Time from a tools/call entering the gateway to its answer leaving it (upstream time and any approval wait included).",
		Buckets: latencyBuckets}, []string{"server"})
	for _, name := range servers {
		m.servers[name] = &serverStats{label: name, latency: latency.WithLabelValues(name)}
		m.all = append(m.all, m.servers[name])
	}
	m.servers[""] = &serverStats{label: AggregateServer}
	m.unknown = &serverStats{label: UnknownServer}
	m.all = append(m.all, m.servers[""], m.unknown)

	approvals := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcpwarden_approvals_total",
		Help: "Calls the approval stage handled, by outcome: grant (an existing grant covered it), approved, denied, " +
			"allowed_on_timeout, timed_out, asked_in_band (2026-07-28 input_required), abandoned (the client went away), " +
			"spent (approved, but its grant was used up, revoked or expired)."},
		[]string{"outcome"})
	m.approvals = make(map[string]prometheus.Counter, len(approvalOutcomes))
	for _, o := range approvalOutcomes {
		m.approvals[o] = approvals.WithLabelValues(o)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "mcpwarden_build_info", Help: "Always 1; the version label is mcpwarden's.",
		ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	sessions := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcpwarden_sessions",
		Help: "Live client sessions (2024-11-05 … 2025-11-25 protocol era; 2026-07-28 requests are stateless)."},
		func() float64 { return float64(call(&m.sessions)) })
	reg.MustRegister(requestCollector{m}, latency, m.inFlight, m.approvalsWaiting, approvals, build, sessions)
	return m
}

// call returns f's result, 0 when f is unset.
func call(f *atomic.Pointer[func() int]) int {
	if p := f.Load(); p != nil {
		return (*p)()
	}
	return 0
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the underlying registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// WatchSessions makes mcpwarden_sessions report count() at each scrape.
func (m *Metrics) WatchSessions(count func() int) {
	if m != nil {
		m.sessions.Store(&count)
	}
}

// WatchAudit exports the audit writer's counters (records, batches, failures, checkpoints) and queue length.
func (m *Metrics) WatchAudit(w *audit.Writer) {
	if m == nil || w == nil {
		return
	}
	counter := func(name, help string, v func(audit.WriterStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(w.Stats())) })
	}
	m.reg.MustRegister(
		counter("mcpwarden_audit_records_total", "Audit records written to the store.", func(s audit.WriterStats) int64 { return s.Records }),
		counter("mcpwarden_audit_batches_total", "Batches (one transaction each) the audit writer committed.", func(s audit.WriterStats) int64 { return s.Batches }),
		counter("mcpwarden_audit_failures_total", "Audit batches the store refused (requests are refused meanwhile unless audit.fail_open).",
			func(s audit.WriterStats) int64 { return s.Failures }),
		counter("mcpwarden_audit_checkpoints_total", "Signed checkpoints written to the audit chain.", func(s audit.WriterStats) int64 { return s.Checkpoints }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcpwarden_audit_queue_length",
			Help: "Audit records waiting for the writer (a full queue slows requests down)."},
			func() float64 { return float64(w.Queued()) }),
	)
}

// Begin counts a client request entering the chain; call Done when it leaves.
func (m *Metrics) Begin() {
	if m != nil {
		m.inFlight.Inc()
	}
}

// Done counts a client request for server ("" for the aggregate endpoint's own answers) that ended with
// outcome after elapsed (observed for tools/call).
func (m *Metrics) Done(server, method string, o Outcome, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	s := m.servers[server]
	if s == nil {
		s = m.unknown
	}
	mi, ok := methodIndex[method]
	if !ok {
		mi = methodOther
	}
	if o >= numOutcomes {
		o = Error
	}
	s.requests[mi][o].Add(1)
	if mi == methodToolCall && s.latency != nil {
		s.latency.Observe(elapsed.Seconds())
	}
}

// Approval counts one approval-stage outcome, as written in the audit record ("approved:once:grant-…" is
// counted as approved).
func (m *Metrics) Approval(outcome string) {
	if m == nil {
		return
	}
	kind, _, _ := strings.Cut(outcome, ":")
	c := m.approvals[kind]
	if c == nil {
		c = m.approvals["other"]
	}
	c.Inc()
}

// Waiting adds delta to the calls parked for a human decision.
func (m *Metrics) Waiting(delta int) {
	if m != nil {
		m.approvalsWaiting.Add(float64(delta))
	}
}

// requestCollector exposes the request counters, one series per server, method and outcome seen so far.
type requestCollector struct{ m *Metrics }

func (c requestCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.requestsDesc }

func (c requestCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.m.all {
		for mi := range s.requests {
			for o := range s.requests[mi] {
				if v := s.requests[mi][o].Load(); v > 0 {
					ch <- prometheus.MustNewConstMetric(c.m.requestsDesc, prometheus.CounterValue, float64(v),
						s.label, methodNames[mi], outcomeNames[o])
				}
			}
		}
	}
}
