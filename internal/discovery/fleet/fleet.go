// Package fleet is the central side of fleet discovery: hosts run `mcpwarden discover --report URL`, which
// posts their inventory (discovery.Inventory) to a gateway; the gateway keeps the history per host and user
// and answers which servers exist across the fleet and which are shadow.
//
// Contract:
//   - NewHandler serves POST /api/v1/fleet/reports, GET /api/v1/fleet/hosts and
//     GET /api/v1/fleet/servers[?shadow=1][&host=NAME], every request authenticated by an Authenticator
//     (API keys in `Authorization: Bearer`).
//   - A report carries a report_id: posting the same id again stores nothing and answers with the first
//     result (Duplicate=true). Bodies over MaxReportBytes get 413; invalid JSON gets 400 with the reason.
//   - A FleetStore compares each report with the same host+user's previous one: servers that did not exist
//     before are New (a new shadow server when Shadow), servers whose definition changed are Changed, and
//     servers no longer reported are Removed. The first report of a host+user is the baseline: nothing in it
//     is flagged New.
//   - Stores: NewSQLiteStore (modernc.org/sqlite, CGO-free, WAL) and NewMemoryStore (tests, single process).
package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/discovery"
)

// ReportsPath is where hosts post reports.
const ReportsPath = "/api/v1/fleet/reports"

// MaxReportBytes caps one report body.
const MaxReportBytes = 4 << 20

// StoredReport is a report as the store receives it.
type StoredReport struct {
	ReportID   string
	Host       string
	User       string
	OS         string
	Principal  string // who posted it (from the Authenticator)
	ReceivedAt time.Time
	Inventory  discovery.Inventory
}

// ServerRecord is one server of one host+user, as of that host's latest report.
type ServerRecord struct {
	Host      string `json:"host"`
	User      string `json:"user"`
	ServerID  string `json:"server_id"`
	Client    string `json:"client"`
	Scope     string `json:"scope"`
	File      string `json:"file"`
	Name      string `json:"name"`
	Transport string `json:"transport"`
	// Target is the command line (stdio) or URL.
	Target    string `json:"target"`
	Shadow    bool   `json:"shadow"`
	RiskScore int    `json:"risk_score"`
	RiskLevel string `json:"risk_level"`
	// RiskReasons are the messages of the reasons that make up the risk score.
	RiskReasons []string  `json:"risk_reasons,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	// New is true when the server appeared in the latest report and was not in the previous one.
	New bool `json:"new"`
	// Changed is true when the server's definition differs from the previous report.
	Changed  bool   `json:"changed"`
	ReportID string `json:"report_id"`
}

// HostSummary describes one host+user of the fleet.
type HostSummary struct {
	Host         string    `json:"host"`
	User         string    `json:"user"`
	OS           string    `json:"os"`
	LastReportID string    `json:"last_report_id"`
	LastSeen     time.Time `json:"last_seen"`
	Reports      int       `json:"reports"`
	Servers      int       `json:"servers"`
	Shadow       int       `json:"shadow"`
	NewShadow    int       `json:"new_shadow"`
}

// SaveResult says what a report changed.
type SaveResult struct {
	ReportID  string         `json:"report_id"`
	Duplicate bool           `json:"duplicate"`
	Baseline  bool           `json:"baseline"`
	New       []ServerRecord `json:"new,omitempty"`
	Changed   []ServerRecord `json:"changed,omitempty"`
	Removed   []ServerRecord `json:"removed,omitempty"`
	NewShadow int            `json:"new_shadow"`
}

// ServerFilter narrows Servers.
type ServerFilter struct {
	ShadowOnly bool
	Host       string
}

// FleetStore keeps fleet reports. Implementations must make SaveReport atomic and idempotent per ReportID.
type FleetStore interface {
	// SaveReport stores a report and returns what changed since the same host+user's previous report.
	// Saving a ReportID again stores nothing and returns the first result with Duplicate set.
	SaveReport(ctx context.Context, rep StoredReport) (SaveResult, error)
	// Hosts lists every host+user that reported, sorted by host then user.
	Hosts(ctx context.Context) ([]HostSummary, error)
	// Servers lists the servers of every host+user's latest report, sorted by host, user, client, name.
	Servers(ctx context.Context, f ServerFilter) ([]ServerRecord, error)
}

// fingerprint identifies a server's definition; a change means the server changed.
func fingerprint(s discovery.Server) string {
	parts := []string{s.Transport, s.Command, strings.Join(s.Args, "\x1f"), s.URL, strings.Join(s.EnvVars, ","),
		strings.Join(s.Headers, ","), s.Package.Name, s.Package.Version, s.RoutedVia}
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:12])
}

func target(s discovery.Server) string {
	if s.Transport == discovery.TransportStdio {
		return strings.TrimSpace(s.Command + " " + strings.Join(s.Args, " "))
	}
	return s.URL
}

// apply compares a report with the previous state of its host+user and returns the new state and result.
// prev is nil for the first report (the baseline).
func apply(prev map[string]ServerRecord, rep StoredReport) (map[string]ServerRecord, SaveResult) {
	res := SaveResult{ReportID: rep.ReportID, Baseline: prev == nil}
	next := map[string]ServerRecord{}
	for _, s := range rep.Inventory.Servers {
		r := ServerRecord{Host: rep.Host, User: rep.User, ServerID: s.ID, Client: s.Client, Scope: string(s.Scope),
			File: s.File, Name: s.Name, Transport: s.Transport, Target: target(s), Shadow: s.Shadow,
			RiskScore: s.Risk.Score, RiskLevel: s.Risk.Level, Fingerprint: fingerprint(s),
			FirstSeen: rep.ReceivedAt, LastSeen: rep.ReceivedAt, ReportID: rep.ReportID}
		for _, why := range s.Risk.Reasons {
			r.RiskReasons = append(r.RiskReasons, why.Message)
		}
		if old, ok := prev[s.ID]; ok {
			r.FirstSeen = old.FirstSeen
			if old.Fingerprint != r.Fingerprint {
				r.Changed = true
				res.Changed = append(res.Changed, r)
			}
		} else if prev != nil {
			r.New = true
			res.New = append(res.New, r)
			if r.Shadow {
				res.NewShadow++
			}
		}
		next[s.ID] = r
	}
	for id, old := range prev {
		if _, ok := next[id]; !ok {
			res.Removed = append(res.Removed, old)
		}
	}
	sortRecords(res.New)
	sortRecords(res.Changed)
	sortRecords(res.Removed)
	return next, res
}

func sortRecords(rs []ServerRecord) {
	sortSlice(rs, func(a, b ServerRecord) bool {
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.User != b.User {
			return a.User < b.User
		}
		if a.Client != b.Client {
			return a.Client < b.Client
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ServerID < b.ServerID
	})
}

func summarize(h *HostSummary, recs map[string]ServerRecord) {
	h.Servers, h.Shadow, h.NewShadow = len(recs), 0, 0
	for _, r := range recs {
		if r.Shadow {
			h.Shadow++
			if r.New {
				h.NewShadow++
			}
		}
	}
}

func filterRecords(all []ServerRecord, f ServerFilter) []ServerRecord {
	out := []ServerRecord{}
	for _, r := range all {
		if f.ShadowOnly && !r.Shadow {
			continue
		}
		if f.Host != "" && r.Host != f.Host {
			continue
		}
		out = append(out, r)
	}
	sortRecords(out)
	return out
}
