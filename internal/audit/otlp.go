package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OTLPConfig configures an OTLPExporter.
type OTLPConfig struct {
	// Endpoint is the collector's OTLP/HTTP base URL (http://127.0.0.1:4318). Required.
	Endpoint string
	// Logs and Traces select the signals to send.
	Logs, Traces bool
	// Headers are added to every export request.
	Headers map[string]string
	// Client sends the requests. Default: a client with a 10s timeout.
	Client *http.Client
	// FlushInterval is how long records wait before they are sent. Default 1s.
	FlushInterval time.Duration
	// QueueSize bounds records waiting to be sent; when it is full, records are not exported (the store
	// still has them) and Dropped counts them. Default 8192.
	QueueSize int
	// Logger reports export failures. Default slog.Default().
	Logger *slog.Logger
	// Instance is reported as service.instance.id.
	Instance string
}

// OTLPExporter sends committed audit records to an OpenTelemetry collector over OTLP/HTTP with JSON
// encoding, as log records and/or spans carrying the GenAI MCP semantic-convention attributes
// (mcp.method.name, mcp.session.id, gen_ai.tool.name, jsonrpc.request.id, …). It exports metadata only,
// never arguments or results. Export is a secondary sink: it never blocks the gateway; the store is the
// trail of record. It owns one goroutine, stopped by Close.
type OTLPExporter struct {
	cfg     OTLPConfig
	queue   chan *Record
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Int64
	sent    atomic.Int64
	once    sync.Once
}

// NewOTLPExporter starts an exporter.
func NewOTLPExporter(cfg OTLPConfig) *OTLPExporter {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	e := &OTLPExporter{cfg: cfg, queue: make(chan *Record, cfg.QueueSize), stop: make(chan struct{}), done: make(chan struct{})}
	go e.run()
	return e
}

// Offer queues committed records for export without blocking.
func (e *OTLPExporter) Offer(recs []*Record) {
	for _, r := range recs {
		select {
		case e.queue <- r:
		default:
			e.dropped.Add(1)
		}
	}
}

// Dropped is how many records were not exported because the queue was full or the collector failed.
func (e *OTLPExporter) Dropped() int64 { return e.dropped.Load() }

// Sent is how many records were exported.
func (e *OTLPExporter) Sent() int64 { return e.sent.Load() }

// Close sends what is queued and stops the exporter.
func (e *OTLPExporter) Close() {
	e.once.Do(func() { close(e.stop) })
	<-e.done
}

func (e *OTLPExporter) run() {
	defer close(e.done)
	t := time.NewTicker(e.cfg.FlushInterval)
	defer t.Stop()
	var batch []*Record
	for {
		select {
		case r := <-e.queue:
			batch = append(batch, r)
			if len(batch) >= 512 {
				e.send(batch)
				batch = nil
			}
		case <-t.C:
			if len(batch) > 0 {
				e.send(batch)
				batch = nil
			}
		case <-e.stop:
			for {
				select {
				case r := <-e.queue:
					batch = append(batch, r)
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				e.send(batch)
			}
			return
		}
	}
}

func (e *OTLPExporter) send(batch []*Record) {
	ok := true
	if e.cfg.Logs {
		ok = e.post("/v1/logs", map[string]any{"resourceLogs": []any{map[string]any{
			"resource":  e.resource(),
			"scopeLogs": []any{map[string]any{"scope": scope, "logRecords": logRecords(batch)}},
		}}}) && ok
	}
	if e.cfg.Traces {
		if spans := spans(batch); len(spans) > 0 {
			ok = e.post("/v1/traces", map[string]any{"resourceSpans": []any{map[string]any{
				"resource":   e.resource(),
				"scopeSpans": []any{map[string]any{"scope": scope, "spans": spans}},
			}}}) && ok
		}
	}
	if ok {
		e.sent.Add(int64(len(batch)))
	} else {
		e.dropped.Add(int64(len(batch)))
	}
}

var scope = map[string]any{"name": "github.com/mcpwarden/mcpwarden/internal/audit"}

func (e *OTLPExporter) resource() map[string]any {
	return map[string]any{"attributes": []any{str("service.name", "mcpwarden"), str("service.instance.id", e.cfg.Instance)}}
}

func (e *OTLPExporter) post(path string, payload any) bool {
	body, err := json.Marshal(payload)
	if err != nil {
		e.cfg.Logger.Warn("audit OTLP export: encode", "err", err)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		e.cfg.Logger.Warn("audit OTLP export: bad endpoint", "endpoint", e.cfg.Endpoint, "err", err)
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range e.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		e.cfg.Logger.Warn("audit OTLP export failed; records stay in the audit store", "endpoint", e.cfg.Endpoint+path, "err", err)
		return false
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.cfg.Logger.Warn("audit OTLP export rejected by the collector", "endpoint", e.cfg.Endpoint+path, "status", resp.Status)
		return false
	}
	return true
}

func str(k, v string) map[string]any {
	return map[string]any{"key": k, "value": map[string]any{"stringValue": v}}
}

func num(k string, v int64) map[string]any {
	return map[string]any{"key": k, "value": map[string]any{"intValue": strconv.FormatInt(v, 10)}}
}

// attributes are the semantic-convention attributes of a record.
func attributes(r *Record) []any {
	a := []any{str("mcp.method.name", r.Method), str("mcpwarden.record.ref", r.Ref()), str("mcpwarden.direction", r.Direction),
		str("mcpwarden.kind", r.Kind), str("mcpwarden.server", r.Server)}
	add := func(k, v string) {
		if v != "" {
			a = append(a, str(k, v))
		}
	}
	add("mcp.session.id", r.SessionID)
	add("mcp.protocol.version", r.ProtocolVersion)
	add("jsonrpc.request.id", strings.Trim(r.RequestID, `"`))
	switch {
	case r.Method == "tools/call":
		add("gen_ai.tool.name", r.Name)
		add("gen_ai.operation.name", "execute_tool")
	case strings.HasPrefix(r.Method, "prompts/"):
		add("gen_ai.prompt.name", r.Name)
	case strings.HasPrefix(r.Method, "resources/"):
		add("mcp.resource.uri", r.Name)
	}
	add("client.address", r.Remote)
	add("mcpwarden.client.name", r.Client.Name)
	add("mcpwarden.client.version", r.Client.Version)
	add("enduser.id", r.Principal.User)
	add("mcpwarden.auth_method", r.Principal.AuthMethod)
	if d := r.Decision; d != nil {
		add("mcpwarden.decision", d.Action)
		add("mcpwarden.decision.rule", d.Rule)
	}
	if r.Error != nil {
		add("error.type", strconv.FormatInt(r.Error.Code, 10))
		a = append(a, num("rpc.jsonrpc.error_code", r.Error.Code))
	}
	if r.Kind == "result" || r.Kind == "error" {
		a = append(a, num("mcpwarden.bytes_out", int64(r.BytesOut)), num("mcpwarden.latency_us", int64(r.LatencyMS*1000)))
	}
	return a
}

func logRecords(batch []*Record) []any {
	out := make([]any, 0, len(batch))
	for _, r := range batch {
		sev, text := 9, "INFO"
		if r.Kind == "error" {
			sev, text = 17, "ERROR"
		}
		body := r.Method
		if r.Name != "" {
			body += " " + r.Name
		}
		body += " (" + r.Kind + ")"
		out = append(out, map[string]any{
			"timeUnixNano":   strconv.FormatInt(r.Time.UnixNano(), 10),
			"severityNumber": sev, "severityText": text,
			"body":       map[string]any{"stringValue": body},
			"attributes": attributes(r),
		})
	}
	return out
}

// spans turns each response record into a span covering its request (start = response time − latency).
func spans(batch []*Record) []any {
	var out []any
	for _, r := range batch {
		if r.Parent == "" || (r.Kind != "result" && r.Kind != "error") {
			continue
		}
		name := r.Method
		if r.Name != "" {
			name += " " + r.Name
		}
		end := r.Time.UnixNano()
		start := end - int64(r.LatencyMS*float64(time.Millisecond))
		status := map[string]any{"code": 1}
		if r.Error != nil {
			status = map[string]any{"code": 2, "message": r.Error.Message}
		}
		kind := 2 // SERVER: the gateway serves the client's call
		if r.Direction == "client_to_server" {
			kind = 3 // CLIENT: a server→client request the gateway relayed
		}
		out = append(out, map[string]any{
			"traceId": randomHex(16), "spanId": randomHex(8), "name": name, "kind": kind,
			"startTimeUnixNano": strconv.FormatInt(start, 10), "endTimeUnixNano": strconv.FormatInt(end, 10),
			"attributes": attributes(r), "status": status,
		})
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
