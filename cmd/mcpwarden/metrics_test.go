package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/loadgen"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// scrapeText GETs a metrics URL and returns its body.
func scrapeText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

// sampleValue returns the value of the series line that starts with series (name and labels, as written).
func sampleValue(text, series string) (string, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// TestServeMetrics: `serve` with a metrics: section serves Prometheus metrics on their own listener (up
// before the gateway's port), counts the calls made through it, announces the URL, and stops the listener
// with the gateway.
func TestServeMetrics(t *testing.T) {
	bin := binary(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	maddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	direct, _ := testenv.StartEverythingServer(t, false)
	cfg := writeConfig(t, fmt.Sprintf("listen: %s\ndata_dir: %s\nservers:\n  - name: everything\n    url: %s\nmetrics:\n  listen: %s\n",
		addr, t.TempDir(), direct, maddr))
	p := testenv.StartProcess(t, []string{bin, "serve", "--config", cfg}, nil)
	p.WaitForPort(t, addr)
	murl := "http://" + maddr + "/metrics"
	if n, err := loadgen.FetchGoroutines(t.Context(), murl); err != nil || n < 1 {
		t.Fatalf("go_goroutines from %s: %d, %v\n%s", murl, n, err, p.Output())
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp/everything"}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, p.Output())
	}
	for range 4 {
		if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text"}); err != nil || res.IsError {
			t.Fatalf("call: %v %+v", err, res)
		}
	}
	text := scrapeText(t, murl)
	for series, want := range map[string]string{
		`mcpwarden_requests_total{method="tools/call",outcome="forwarded",server="everything"}`: "4",
		`mcpwarden_requests_total{method="initialize",outcome="forwarded",server="everything"}`: "1",
		`mcpwarden_tool_call_duration_seconds_count{server="everything"}`:                       "4",
		`mcpwarden_sessions`: "1",
	} {
		if got, ok := sampleValue(text, series); got != want {
			t.Errorf("%s = %q (present %v), want %s", series, got, ok, want)
		}
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_memstats_alloc_bytes", "mcpwarden_audit_records_total", "mcpwarden_build_info"} {
		if !strings.Contains(text, "\n"+name) {
			t.Errorf("no %s in the scrape", name)
		}
	}
	_ = cs.Close()
	if err := p.Stop(); err != nil {
		t.Errorf("stop: %v\n%s", err, p.Output())
	}
	if out := p.Output(); !strings.Contains(out, "metrics: "+murl) {
		t.Errorf("the start line does not announce %s:\n%s", murl, out)
	}
	if _, err := http.Get(murl); err == nil {
		t.Errorf("metrics still served after the gateway stopped")
	}
}

// TestBenchSoakServeConfig: a soak run against a gateway bench starts from a config without a metrics:
// section samples the gateway's RSS and, through the metrics listener bench adds for the run, its
// goroutines, on every line; the text report prints both.
func TestBenchSoakServeConfig(t *testing.T) {
	cfg := benchConfig(t, "127.0.0.1:0")
	args := []string{"--serve-config", cfg, "--url", "/mcp/everything", "--duration", "2s", "--interval", "500ms"}

	t.Run("json", func(t *testing.T) {
		out := runBenchBinary(t, args...)
		s := out.Soak
		if out.Mode != "soak" || s == nil {
			t.Fatalf("mode %q, soak report %v", out.Mode, s)
		}
		if len(s.Samples) < 3 {
			t.Fatalf("%d samples in a 2s run at 500ms, want at least 3: %+v", len(s.Samples), s.Samples)
		}
		for i, smp := range s.Samples {
			if smp.Goroutines < 1 || smp.RSSBytes <= 0 || len(smp.SampleErrors) > 0 {
				t.Errorf("sample %d: goroutines %d, rss %d, errors %q; want both sampled", i, smp.Goroutines, smp.RSSBytes, smp.SampleErrors)
			}
		}
		if s.Total.Calls == 0 || s.Total.Errors != 0 {
			t.Errorf("total %d calls, %d errors", s.Total.Calls, s.Total.Errors)
		}
	})

	t.Run("text", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary(t), append([]string{"bench"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("bench: %v\n%s\n%s", err, stdout.String(), stderr.String())
		}
		lines := 0
		for _, line := range strings.Split(stdout.String(), "\n") {
			if strings.HasPrefix(line, "t=") {
				lines++
				if !strings.Contains(line, " rss=") || !strings.Contains(line, " goroutines=") {
					t.Errorf("sample line without rss and goroutines: %q", line)
				}
			}
		}
		if lines < 3 {
			t.Errorf("%d sample lines, want at least 3:\n%s", lines, stdout.String())
		}
	})
}
