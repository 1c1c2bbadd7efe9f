package discovery

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProbeOptions bounds a network probe.
type ProbeOptions struct {
	// MaxTargets caps the number of host:port targets; more is an error. Default 1024.
	MaxTargets int
	// Rate caps HTTP requests per second across all workers. Default 50.
	Rate float64
	// Timeout bounds the whole probe. Default 30s.
	Timeout time.Duration
	// RequestTimeout bounds one HTTP request. Default 2s.
	RequestTimeout time.Duration
	// Concurrency is the number of targets probed at once. Default 8.
	Concurrency int
	// Gateways are mcpwarden gateway base URLs; an endpoint at one of them is routed, not shadow.
	Gateways []string
	// Source is recorded on each endpoint: "probe" (default) or "socket".
	Source string
}

func (o *ProbeOptions) checkAndSetDefaults() {
	if o.MaxTargets <= 0 {
		o.MaxTargets = 1024
	}
	if o.Rate <= 0 {
		o.Rate = 50
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 2 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Source == "" {
		o.Source = "probe"
	}
	if o.Gateways == nil {
		o.Gateways = []string{DefaultGatewayURL}
	}
}

// ParseTargets expands a comma-separated list of host:port or host:lo-hi ranges (e.g.
// "127.0.0.1:8000-8100,[::1]:3000") into host:port targets. More than max targets is an error.
func ParseTargets(spec string, max int) ([]string, error) {
	var out []string
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		i := strings.LastIndex(part, ":")
		if i <= 0 {
			return nil, fmt.Errorf("probe target %q: want host:port or host:low-high (e.g. 127.0.0.1:8000-8100)", part)
		}
		host, ports := strings.Trim(part[:i], "[]"), part[i+1:]
		if host == "" || strings.ContainsAny(host, "/ ") {
			return nil, fmt.Errorf("probe target %q: bad host", part)
		}
		lo, hi, isRange := strings.Cut(ports, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || l < 1 || h > 65535 || l > h {
			return nil, fmt.Errorf("probe target %q: ports must be 1-65535 and low <= high", part)
		}
		if len(out)+(h-l+1) > max {
			return nil, fmt.Errorf("probe targets exceed the limit of %d: narrow the ranges or raise --probe-max", max)
		}
		for p := l; p <= h; p++ {
			out = append(out, net.JoinHostPort(host, strconv.Itoa(p)))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no probe targets: pass host:port or host:low-high")
	}
	return out, nil
}

// limiter spaces requests at a fixed rate without a goroutine.
type limiter struct {
	mu       sync.Mutex
	next     time.Time
	interval time.Duration
}

func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return ctx.Err()
}

type prober struct {
	opts   ProbeOptions
	client *http.Client
	lim    *limiter
}

// Probe asks every target whether it serves MCP: Streamable HTTP of both eras (server/discover, then
// initialize) at /mcp and /, legacy SSE at /sse, and RFC 9728 metadata at
// /.well-known/oauth-protected-resource. Only the given targets are contacted; redirects are followed only
// within the same host:port, and environment proxies are ignored. It returns the endpoints that answered,
// sorted by address.
func Probe(ctx context.Context, targets []string, opts ProbeOptions) ([]Endpoint, error) {
	opts.checkAndSetDefaults()
	if len(targets) > opts.MaxTargets {
		return nil, fmt.Errorf("%d probe targets exceed the limit of %d", len(targets), opts.MaxTargets)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	tr := &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: opts.RequestTimeout}).DialContext,
		DisableKeepAlives: true, DisableCompression: true, ResponseHeaderTimeout: opts.RequestTimeout}
	defer tr.CloseIdleConnections()
	pr := &prober{opts: opts, lim: &limiter{interval: time.Duration(float64(time.Second) / opts.Rate)}}
	pr.client = &http.Client{Transport: tr, Timeout: opts.RequestTimeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 || req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
			return http.ErrUseLastResponse // never leave the target
		}
		return nil
	}}
	work := make(chan string)
	var (
		mu  sync.Mutex
		out []Endpoint
		wg  sync.WaitGroup
	)
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if ep, ok := pr.target(ctx, t); ok {
					mu.Lock()
					out = append(out, ep)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for _, t := range targets {
		select {
		case work <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}

const (
	probeLegacyVersion = "2025-06-18"
	probeModernVersion = "2026-07-28"
	maxProbeBody       = 64 << 10
)

// target probes one host:port.
func (p *prober) target(ctx context.Context, addr string) (Endpoint, bool) {
	// Cheap reachability check first so closed ports cost one dial, not six requests.
	if err := p.lim.wait(ctx); err != nil {
		return Endpoint{}, false
	}
	d := net.Dialer{Timeout: p.opts.RequestTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Endpoint{}, false
	}
	c.Close()
	base := "http://" + addr
	ep := Endpoint{Address: addr, Source: p.opts.Source}
	auth := false
	for _, path := range []string{"/mcp", "/"} {
		d, ok := p.post(ctx, base+path, "server/discover", probeModernVersion)
		if !ok && path == "/mcp" {
			return Endpoint{}, false // the port does not speak HTTP (or hangs): stop here
		}
		if ok && d.mcp && d.modern {
			ep.URL, ep.Transport, ep.Era = base+path, TransportHTTP, "stateless"
			ep.ServerName, ep.ServerVersion, ep.ProtocolVersion = d.name, d.version, probeModernVersion
			return p.finish(ep), true
		}
		auth = auth || d.auth
		r, ok := p.post(ctx, base+path, "initialize", probeLegacyVersion)
		if ok && !r.mcp && d.mcp {
			r = d // answered server/discover without the modern version, but not initialize
		}
		if ok && r.mcp {
			ep.URL, ep.Transport, ep.Era = base+path, TransportHTTP, "legacy"
			ep.ServerName, ep.ServerVersion, ep.ProtocolVersion = r.name, r.version, r.protocol
			if ep.ServerName == "" {
				ep.ServerName, ep.ServerVersion = d.name, d.version
			}
			return p.finish(ep), true
		}
		if r.auth && !ep.AuthRequired {
			ep.URL, ep.Transport, ep.AuthRequired = base+path, TransportHTTP, true
		}
	}
	if p.sse(ctx, base+"/sse") {
		ep.URL, ep.Transport, ep.Era = base+"/sse", TransportSSE, "legacy"
		return p.finish(ep), true
	}
	if res, ok := p.protectedResource(ctx, base); ok {
		ep.AuthRequired = true
		if ep.URL == "" {
			ep.URL, ep.Transport = res, TransportHTTP
		}
	}
	if ep.AuthRequired {
		return p.finish(ep), true
	}
	return Endpoint{}, false
}

func (p *prober) finish(ep Endpoint) Endpoint {
	ep.Routed = gatewayRoute(ep.URL, p.opts.Gateways) || gatewayRoute(strings.TrimRight(ep.URL, "/")+"/mcp", p.opts.Gateways)
	ep.Shadow = !ep.Routed
	return ep
}

type probeResult struct {
	mcp                     bool
	modern                  bool // server/discover listed the 2026-07-28 version
	auth                    bool
	name, version, protocol string
}

// post sends one JSON-RPC request and classifies the answer.
func (p *prober) post(ctx context.Context, url, method, version string) (probeResult, bool) {
	var params map[string]any
	if method == "initialize" {
		params = map[string]any{"protocolVersion": version, "capabilities": map[string]any{},
			"clientInfo": map[string]any{"name": "mcpwarden-discover", "version": "1"}}
	} else {
		params = map[string]any{"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": version,
			"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "mcpwarden-discover", "version": "1"},
			"io.modelcontextprotocol/clientCapabilities": map[string]any{}}}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	if err := p.lim.wait(ctx); err != nil {
		return probeResult{}, false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return probeResult{}, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", version)
	if method != "initialize" {
		req.Header.Set("Mcp-Method", method)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return probeResult{}, false
	}
	defer resp.Body.Close()
	var r probeResult
	if resp.StatusCode == http.StatusUnauthorized {
		r.auth = true
		return r, true
	}
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		defer p.endSession(ctx, url, sid, version)
	}
	if resp.StatusCode != http.StatusOK {
		return r, true
	}
	msg := readRPC(resp)
	var res struct {
		Result struct {
			ProtocolVersion   string      `json:"protocolVersion"`
			SupportedVersions []string    `json:"supportedVersions"`
			ServerInfo        *serverInfo `json:"serverInfo"`
			Meta              struct {
				ServerInfo *serverInfo `json:"io.modelcontextprotocol/serverInfo"`
			} `json:"_meta"`
			Capabilities json.RawMessage `json:"capabilities"`
		} `json:"result"`
	}
	if json.Unmarshal(msg, &res) != nil {
		return r, true
	}
	if res.Result.ServerInfo == nil {
		res.Result.ServerInfo = res.Result.Meta.ServerInfo
	}
	for _, v := range res.Result.SupportedVersions {
		r.modern = r.modern || v == probeModernVersion
	}
	if res.Result.ServerInfo != nil || res.Result.ProtocolVersion != "" || len(res.Result.SupportedVersions) > 0 {
		r.mcp = true
		if res.Result.ServerInfo != nil {
			r.name, r.version = res.Result.ServerInfo.Name, res.Result.ServerInfo.Version
		}
		r.protocol = res.Result.ProtocolVersion
		if r.protocol == "" && len(res.Result.SupportedVersions) > 0 {
			r.protocol = res.Result.SupportedVersions[0]
		}
	}
	return r, true
}

type serverInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// endSession deletes a session the probe's initialize created, so probing leaves nothing behind.
func (p *prober) endSession(ctx context.Context, url, sid, version string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, url, nil)
	if err != nil {
		return
	}
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", version)
	if resp, err := p.client.Do(req); err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
		resp.Body.Close()
	}
}

// readRPC returns the first JSON-RPC message of a JSON or SSE response body.
func readRPC(resp *http.Response) []byte {
	body := io.LimitReader(resp.Body, maxProbeBody)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(body)
		return b
	}
	sc := bufio.NewScanner(body)
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "data:"); ok {
			data = append(data, strings.TrimSpace(d)...)
			continue
		}
		if line == "" && len(data) > 0 {
			return data
		}
	}
	return data
}

// sse reports whether url is a legacy HTTP+SSE endpoint: its first event is "endpoint".
func (p *prober) sse(ctx context.Context, url string) bool {
	if p.lim.wait(ctx) != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := p.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return false
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4096))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "event: endpoint" || line == "event:endpoint" {
			return true
		}
		if strings.HasPrefix(line, "event:") {
			return false
		}
	}
	return false
}

// protectedResource fetches RFC 9728 metadata; it returns the advertised resource when present.
func (p *prober) protectedResource(ctx context.Context, base string) (string, bool) {
	if p.lim.wait(ctx) != nil {
		return "", false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/.well-known/oauth-protected-resource", nil)
	if err != nil {
		return "", false
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", false
	}
	var md struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	if json.Unmarshal(b, &md) != nil || md.Resource == "" {
		return "", false
	}
	res := md.Resource
	if !strings.HasPrefix(res, base) {
		res = base + "/mcp" // the metadata may name a public URL; report the probed target
	}
	return res, true
}

// ProbeSockets probes the local listening sockets (from <procRoot>/net/tcp{,6}) for MCP endpoints, at
// most max of them, and attributes each endpoint to its owning process when known.
func ProbeSockets(ctx context.Context, procRoot string, max int, opts ProbeOptions) ([]Endpoint, error) {
	ls, err := ListeningSockets(procRoot)
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		max = 256
	}
	pids := map[string]int{}
	var targets []string
	for _, l := range ls {
		a := probeAddr(l.Addr)
		if _, dup := pids[a]; dup {
			continue
		}
		pids[a] = l.PID
		targets = append(targets, a)
		if len(targets) >= max {
			break
		}
	}
	opts.Source = "socket"
	opts.MaxTargets = len(targets) + 1
	eps, err := Probe(ctx, targets, opts)
	for i := range eps {
		eps[i].PID = pids[eps[i].Address]
	}
	return eps, err
}
