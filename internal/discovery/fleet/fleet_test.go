package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/discovery"
)

const apiKey = "fleet-test-key-0001"

func scanTree(t *testing.T, osName, host, reportID string) *discovery.Inventory {
	t.Helper()
	base, _ := filepath.Abs(filepath.Join("..", "testdata", osName))
	inv, err := discovery.Scan(context.Background(), discovery.Options{OS: osName, Home: filepath.Join(base, "home"),
		Root: filepath.Join(base, "root"), Host: discovery.Host{Hostname: host, User: "alice", OS: osName}})
	if err != nil {
		t.Fatal(err)
	}
	inv.ReportID = reportID
	return inv
}

type storeCase struct {
	name string
	open func(t *testing.T) FleetStore
}

func stores() []storeCase {
	return []storeCase{
		{"memory", func(*testing.T) FleetStore { return NewMemoryStore() }},
		{"sqlite", func(t *testing.T) FleetStore {
			s, err := NewSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "fleet.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestFleetTwoHostsAndNewShadow(t *testing.T) {
	for _, sc := range stores() {
		t.Run(sc.name, func(t *testing.T) {
			store := sc.open(t)
			srv := httptest.NewServer(NewHandler(store, NewAPIKeys(map[string]string{"ci": apiKey})))
			defer srv.Close()
			endpoint, err := ReportURL(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			a1 := scanTree(t, "linux", "host-a", "a-1")
			b1 := scanTree(t, "darwin", "host-b", "b-1")
			for _, inv := range []*discovery.Inventory{a1, b1} {
				res, err := Send(ctx, nil, endpoint, apiKey, inv)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Baseline || len(res.New) != 0 {
					t.Errorf("first report of %s: %+v, want a baseline with nothing new", inv.Host.Hostname, res)
				}
			}
			// Host A adds a shadow server and changes another.
			a2 := scanTree(t, "linux", "host-a", "a-2")
			added := discovery.Server{ID: "new-server-id", Client: "cursor", Scope: discovery.ScopeUser, File: "/x/.cursor/mcp.json",
				Name: "sneaky", Transport: discovery.TransportStdio, Command: "npx", Args: []string{"sneaky-mcp"}, Shadow: true}
			a2.Servers = append(a2.Servers, added)
			a2.Servers[0].Args = append(a2.Servers[0].Args, "--extra")
			res, err := Send(ctx, nil, endpoint, apiKey, a2)
			if err != nil {
				t.Fatal(err)
			}
			if res.Baseline || res.NewShadow != 1 || len(res.New) != 1 || res.New[0].Name != "sneaky" || len(res.Changed) != 1 || res.Changed[0].ServerID != a2.Servers[0].ID {
				t.Errorf("second report result: %+v", res)
			}
			// Same report id again: stored once.
			again, err := Send(ctx, nil, endpoint, apiKey, a2)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Duplicate || again.NewShadow != 1 {
				t.Errorf("duplicate report: %+v", again)
			}

			var hosts struct{ Hosts []HostSummary }
			getJSON(t, srv.URL+"/api/v1/fleet/hosts", &hosts)
			var got []string
			for _, h := range hosts.Hosts {
				got = append(got, h.Host+"/"+h.User+"/"+h.LastReportID)
				if h.Host == "host-a" && (h.Reports != 2 || h.NewShadow != 1 || h.Servers != len(a2.Servers)) {
					t.Errorf("host-a summary = %+v", h)
				}
			}
			if diff := cmp.Diff([]string{"host-a/alice/a-2", "host-b/alice/b-1"}, got); diff != "" {
				t.Errorf("hosts (-want +got):\n%s", diff)
			}
			var shadow struct{ Servers []ServerRecord }
			getJSON(t, srv.URL+"/api/v1/fleet/servers?shadow=1", &shadow)
			var newShadow []string
			hostsSeen := map[string]bool{}
			for _, s := range shadow.Servers {
				if !s.Shadow {
					t.Errorf("shadow=1 listed routed server %s", s.Name)
				}
				hostsSeen[s.Host] = true
				if s.New {
					newShadow = append(newShadow, s.Host+"/"+s.Name)
				}
			}
			if diff := cmp.Diff([]string{"host-a/sneaky"}, newShadow); diff != "" || !hostsSeen["host-a"] || !hostsSeen["host-b"] {
				t.Errorf("new shadow servers (-want +got):\n%s (hosts %v)", diff, hostsSeen)
			}
			var all struct{ Servers []ServerRecord }
			getJSON(t, srv.URL+"/api/v1/fleet/servers?host=host-b", &all)
			if len(all.Servers) != len(b1.Servers) {
				t.Errorf("host-b servers = %d, want %d", len(all.Servers), len(b1.Servers))
			}
		})
	}
}

func TestFleetHandlerRejects(t *testing.T) {
	srv := httptest.NewServer(NewHandler(NewMemoryStore(), NewAPIKeys(map[string]string{"ci": apiKey})))
	defer srv.Close()
	valid, _ := json.Marshal(discovery.Inventory{SchemaVersion: 1, ReportID: "r1", Host: discovery.Host{Hostname: "h"}})
	big := append([]byte(`{"schema_version":1,"report_id":"x","host":{"hostname":"h"},"files":["`), bytes.Repeat([]byte("a"), MaxReportBytes)...)
	big = append(big, `"]}`...)
	tests := []struct {
		name, method, path, key string
		body                    []byte
		code                    int
		msg                     string
	}{
		{"no key", "POST", ReportsPath, "", valid, 401, "missing API key"},
		{"wrong key", "POST", ReportsPath, "nope", valid, 401, "unknown API key"},
		{"get without key", "GET", "/api/v1/fleet/hosts", "", nil, 401, "missing API key"},
		{"invalid json", "POST", ReportsPath, apiKey, []byte(`{"report_id": `), 400, "not valid inventory JSON"},
		{"trailing data", "POST", ReportsPath, apiKey, append(append([]byte{}, valid...), `{}`...), 400, "data after"},
		{"no report id", "POST", ReportsPath, apiKey, []byte(`{"schema_version":1,"host":{"hostname":"h"}}`), 400, "report_id"},
		{"no host", "POST", ReportsPath, apiKey, []byte(`{"schema_version":1,"report_id":"x"}`), 400, "host.hostname"},
		{"future schema", "POST", ReportsPath, apiKey, []byte(`{"schema_version":99,"report_id":"x","host":{"hostname":"h"}}`), 400, "schema_version"},
		{"too large", "POST", ReportsPath, apiKey, big, 413, "larger than"},
		{"bad shadow", "GET", "/api/v1/fleet/servers?shadow=maybe", apiKey, nil, 400, "shadow must be"},
		{"ok", "POST", ReportsPath, apiKey, valid, 201, ""},
		{"duplicate", "POST", ReportsPath, apiKey, valid, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, bytes.NewReader(tc.body))
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tc.code || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, resp.StatusCode, e.Error, tc.code, tc.msg)
			}
		})
	}
}

func TestSQLiteStorePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	ctx := context.Background()
	s, err := NewSQLiteStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	inv := scanTree(t, "windows", "win-1", "w-1")
	if _, err := s.SaveReport(ctx, StoredReport{ReportID: "w-1", Host: "win-1", User: "alice", Inventory: *inv}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = NewSQLiteStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.SaveReport(ctx, StoredReport{ReportID: "w-1", Host: "win-1", User: "alice", Inventory: *inv})
	if err != nil || !res.Duplicate {
		t.Errorf("re-saving after reopen: %+v %v, want a duplicate", res, err)
	}
	servers, err := s.Servers(ctx, ServerFilter{})
	if err != nil || len(servers) != len(inv.Servers) {
		t.Errorf("servers after reopen = %d (%v), want %d", len(servers), err, len(inv.Servers))
	}
	var mode string
	s.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestReportURL(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"https://gw.example.com", "https://gw.example.com/api/v1/fleet/reports", ""},
		{"http://127.0.0.1:8740/", "http://127.0.0.1:8740/api/v1/fleet/reports", ""},
		{"https://gw.example.com/custom/path", "https://gw.example.com/custom/path", ""},
		{"http://gw.example.com", "", "plain http"},
		{"ftp://x", "", "http(s) URL"},
	}
	for _, tc := range tests {
		got, err := ReportURL(tc.in)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ReportURL(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// FuzzPostReport sends arbitrary bodies to the reports endpoint: the handler answers 201, 200 or 4xx, never
// 5xx, and never panics.
func FuzzPostReport(f *testing.F) {
	valid, _ := json.Marshal(discovery.Inventory{SchemaVersion: 1, ReportID: "r", Host: discovery.Host{Hostname: "h"},
		Servers: []discovery.Server{{ID: "1", Name: "s", Shadow: true}}})
	f.Add(valid)
	f.Add([]byte(`{"schema_version":1,"report_id":"r","host":{"hostname":"h"},"servers":[{"id":"1"},{"id":"1"}]}`))
	f.Add([]byte(`{`))
	h := NewHandler(NewMemoryStore(), NewAPIKeys(map[string]string{"ci": apiKey}))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, ReportsPath, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
