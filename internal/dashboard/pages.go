package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/discovery/fleet"
	"github.com/mcpwarden/mcpwarden/internal/inspect/pin"
	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// page is what every template gets: the layout's fields and the page's own data.
type page struct {
	Title, Nav, CSRF, User, Flash string
	Data                          any
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"dash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
	"pretty": prettyJSON,
	"short": func(h string) string {
		if len(h) > 12 {
			return h[:12]
		}
		return h
	},
	"lines":  func(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") },
	"prefix": strings.HasPrefix,
	"arrow": func(dir string) string {
		if dir == "server_to_client" {
			return "←"
		}
		return "→"
	},
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(webFS, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "web/templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(webFS, "web/templates/layout.html", "web/templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", n, err)
		}
		out[base] = t
	}
	return out, nil
}

func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

type sessionCtx struct {
	id string
	s  *session
}

func contextWithSession(ctx context.Context, id string, s *session) context.Context {
	return context.WithValue(ctx, ctxSession{}, sessionCtx{id, s})
}

func sessionOf(r *http.Request) (string, *session) {
	sc, _ := r.Context().Value(ctxSession{}).(sessionCtx)
	return sc.id, sc.s
}

// render executes the page template name in the layout.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, code int, name, title string, data any) {
	p := page{Title: title, Nav: name, Data: data}
	if id, s := sessionOf(r); s != nil {
		p.CSRF, p.User, p.Flash = s.csrf, s.principal.ID(), d.sessions.takeFlash(id)
	}
	var b bytes.Buffer
	if err := d.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		d.log.Error("dashboard: render", "page", name, "err", err)
		http.Error(w, "the dashboard could not render this page (see the gateway log)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	d.render(w, r, code, "error", "Error", err.Error())
}

// back records msg for the next page and redirects there (post/redirect/get).
func (d *Dashboard) back(w http.ResponseWriter, r *http.Request, to, msg string) {
	id, _ := sessionOf(r)
	d.sessions.setFlash(id, msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// ---- overview

type count struct {
	Name string
	N    int
}

type bar struct {
	X, Y, H int
	N       int
	Label   string
}

type alert struct {
	Kind, Text, Link string
	Time             time.Time
}

type overviewView struct {
	Bars                       []bar
	ChartMax, CallsHour        int
	Calls24, Denials24, Asks24 int
	Pending                    int
	TopServers, TopTools       []count
	TopUsers                   []count
	Alerts                     []alert
	Scanned                    int
	Capped                     bool
}

const overviewScanCap = 20000

func top(m map[string]int, n int) []count {
	out := make([]count, 0, len(m))
	for k, v := range m {
		out = append(out, count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// severityRank orders finding severities (unknown ones rank with medium, so they are not hidden).
func severityRank(s string) int {
	switch strings.ToLower(s) {
	case "info":
		return 0
	case "low":
		return 1
	case "high":
		return 3
	case "critical":
		return 4
	}
	return 2
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	now := d.now()
	v := overviewView{}
	perMin := make([]int, 60)
	servers, tools, users := map[string]int{}, map[string]int{}, map[string]int{}
	err := d.audit.Scan(r.Context(), audit.Filter{Since: now.Add(-24 * time.Hour), Desc: true, Limit: overviewScanCap}, func(sr *audit.StoredRecord) error {
		v.Scanned++
		rec := &sr.Record
		// Requests are recorded before the chain decides; the decision, approval and findings of a call are
		// on its response record.
		if len(rec.Findings) > 0 && len(v.Alerts) < 20 {
			// The most severe finding of the record; low ones (a sanitised escape, a phone number) are no alert.
			f := rec.Findings[0]
			for _, g := range rec.Findings[1:] {
				if severityRank(g.Severity) > severityRank(f.Severity) {
					f = g
				}
			}
			if severityRank(f.Severity) >= severityRank("medium") {
				v.Alerts = append(v.Alerts, alert{Kind: "finding", Time: rec.Time, Link: fmt.Sprintf("/ui/audit/%d", sr.ID),
					Text: fmt.Sprintf("%s finding (%s) in %s %s on %s: %s", f.Detector, f.Severity, rec.Method, rec.Name, rec.Server, f.Message)})
			}
		}
		switch rec.DecisionAction() {
		case "deny":
			v.Denials24++
			if len(v.Alerts) < 20 {
				v.Alerts = append(v.Alerts, alert{Kind: "blocked", Time: rec.Time, Link: fmt.Sprintf("/ui/audit/%d", sr.ID),
					Text: fmt.Sprintf("blocked %s %s on %s for %s: %s", rec.Method, rec.Name, rec.Server, rec.Principal.User, rec.Decision.Reason)})
			}
		case "ask":
			v.Asks24++
		}
		if rec.Direction != "client_to_server" || rec.Kind != "request" || rec.Method != "tools/call" {
			return nil
		}
		v.Calls24++
		if age := now.Sub(rec.Time); age >= 0 && age < time.Hour {
			perMin[59-int(age/time.Minute)]++
			v.CallsHour++
		}
		servers[rec.Server]++
		tools[rec.Server+"."+rec.Name]++
		users[rec.Principal.User]++
		return nil
	})
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	v.Capped = v.Scanned >= overviewScanCap
	v.TopServers, v.TopTools, v.TopUsers = top(servers, 5), top(tools, 5), top(users, 5)
	for _, n := range perMin {
		v.ChartMax = max(v.ChartMax, n)
	}
	scale := max(v.ChartMax, 1)
	for i, n := range perMin {
		h := n * 100 / scale
		v.Bars = append(v.Bars, bar{X: 40 + i*10, Y: 110 - h, H: h, N: n,
			Label: fmt.Sprintf("%s: %d calls", now.Add(-time.Duration(59-i)*time.Minute).Local().Format("15:04"), n)})
	}
	if pending, err := d.approvals.List(r.Context(), approval.StatusPending); err == nil {
		v.Pending = len(pending)
	}
	if pins, err := d.pins.List(r.Context(), ""); err == nil {
		for i := range pins {
			p := &pins[i]
			if p.PendingHash == "" {
				continue
			}
			kind := "poisoning"
			if p.ApprovedHash != "" {
				kind = "rug pull"
			}
			t, _ := time.Parse(time.RFC3339, p.PendingAt)
			v.Alerts = append(v.Alerts, alert{Kind: kind, Time: t, Link: "/ui/servers#quarantine",
				Text: fmt.Sprintf("%s %q on %s quarantined: %s", p.Kind, p.Name, p.Server, p.PendingReason)})
		}
	}
	sort.SliceStable(v.Alerts, func(i, j int) bool { return v.Alerts[i].Time.After(v.Alerts[j].Time) })
	d.render(w, r, http.StatusOK, "overview", "Overview", v)
}

// ---- audit

type auditFilter struct {
	User, Server, Tool, Decision, Method, Since string
}

func (f auditFilter) query() string {
	q := make([]string, 0, 6)
	for _, kv := range [][2]string{{"user", f.User}, {"server", f.Server}, {"tool", f.Tool}, {"decision", f.Decision}, {"method", f.Method}} {
		if kv[1] != "" {
			q = append(q, kv[0]+"="+urlEscape(kv[1]))
		}
	}
	return strings.Join(q, "&")
}

func urlEscape(s string) string { return template.URLQueryEscaper(s) }

// auditFilterOf reads the filter form; since is a duration ago (15m, 24h, 7d) or an RFC 3339 time.
func (d *Dashboard) auditFilterOf(r *http.Request) (auditFilter, audit.Filter, error) {
	q := r.URL.Query()
	af := auditFilter{User: q.Get("user"), Server: q.Get("server"), Tool: q.Get("tool"), Decision: q.Get("decision"),
		Method: q.Get("method"), Since: q.Get("since")}
	f := audit.Filter{User: af.User, Server: af.Server, Tool: af.Tool, Decision: af.Decision, Method: af.Method}
	if af.Since != "" {
		t, err := parseSince(af.Since, d.now())
		if err != nil {
			return af, f, err
		}
		f.Since = t
	}
	return af, f, nil
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if dur, err := time.ParseDuration(s); err == nil && dur >= 0 {
		return now.Add(-dur), nil
	}
	return time.Time{}, fmt.Errorf("since %q is neither a duration ago (15m, 24h, 7d) nor an RFC 3339 time", s)
}

type auditListView struct {
	Filter      auditFilter
	SinceRFC    string
	Entries     []audit.Entry
	LastID      int64
	ExportQuery string
	Error       string
}

func (d *Dashboard) auditList(w http.ResponseWriter, r *http.Request) {
	af, f, err := d.auditFilterOf(r)
	v := auditListView{Filter: af}
	if err != nil {
		v.Error = err.Error()
		d.render(w, r, http.StatusBadRequest, "audit", "Audit", v)
		return
	}
	if !f.Since.IsZero() {
		v.SinceRFC = f.Since.UTC().Format(time.RFC3339Nano)
	}
	v.ExportQuery = af.query()
	if af.Since != "" {
		v.ExportQuery += "&since=" + urlEscape(af.Since)
	}
	f.Desc, f.Limit = true, 200
	if err := d.audit.Scan(r.Context(), f, func(sr *audit.StoredRecord) error {
		v.Entries = append(v.Entries, audit.EntryOf(sr))
		v.LastID = max(v.LastID, sr.ID)
		return nil
	}); err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if v.LastID == 0 {
		// Poll from the newest record of the whole trail, so that an empty filtered list still updates.
		_ = d.audit.Scan(r.Context(), audit.Filter{Desc: true, Limit: 1}, func(sr *audit.StoredRecord) error {
			v.LastID = sr.ID
			return nil
		})
	}
	d.render(w, r, http.StatusOK, "audit", "Audit", v)
}

type recordView struct {
	Entry  audit.Entry
	Status audit.RecordStatus
	// Approval is the approval the record's call needed, when the store still has it.
	Approval *approval.Approval
	Headers  string
	// Response is the response record answering a request, shown with it.
	Response *audit.Entry
}

func (d *Dashboard) auditRecord(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		d.fail(w, r, http.StatusBadRequest, errors.New("the record id must be a positive number"))
		return
	}
	sr, err := d.audit.Get(r.Context(), id)
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if sr == nil {
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("no audit record with id %d", id))
		return
	}
	st, err := audit.Status(r.Context(), d.audit, sr)
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	v := recordView{Entry: audit.EntryOf(sr), Status: st}
	if sr.Approval != nil && sr.Approval.ID != "" {
		if a, err := d.approvals.Get(r.Context(), sr.Approval.ID); err == nil {
			v.Approval = a
		}
	}
	if st.Response != 0 {
		if resp, err := d.audit.Get(r.Context(), st.Response); err == nil && resp != nil {
			e := audit.EntryOf(resp)
			v.Response = &e
		}
	}
	if len(sr.Headers) > 0 {
		b, _ := json.MarshalIndent(sr.Headers, "", "  ")
		v.Headers = string(b)
	}
	d.render(w, r, http.StatusOK, "record", fmt.Sprintf("Audit record %d", id), v)
}

func (d *Dashboard) auditExport(w http.ResponseWriter, r *http.Request) {
	_, f, err := d.auditFilterOf(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="mcpwarden-audit-%s.jsonl"`, d.now().UTC().Format("20060102T150405Z")))
	if _, err := audit.ExportJSONL(r.Context(), d.audit, f, w); err != nil {
		d.log.Warn("dashboard: audit export failed midway", "err", err)
	}
}

// ---- approvals

type approvalsView struct {
	Pending []*approval.Approval
	Decided []*approval.Approval
	Grants  []*approval.Grant
	Scopes  []approval.Scope
}

func (d *Dashboard) approvalsPage(w http.ResponseWriter, r *http.Request) {
	v := approvalsView{Scopes: approval.Scopes}
	var err error
	if v.Pending, err = d.approvals.List(r.Context(), approval.StatusPending); err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	all, err := d.approvals.List(r.Context(), "")
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	for _, a := range all {
		if a.Status != approval.StatusPending && len(v.Decided) < 20 {
			v.Decided = append(v.Decided, a)
		}
	}
	if v.Grants, err = d.approvals.Grants(r.Context(), false); err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	d.render(w, r, http.StatusOK, "approvals", "Approvals", v)
}

type approvalView struct {
	A      *approval.Approval
	Scopes []approval.Scope
	Open   bool
}

func (d *Dashboard) approvalPage(w http.ResponseWriter, r *http.Request) {
	a, err := d.approvals.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, approval.ErrNotFound) {
			code = http.StatusNotFound
		}
		d.fail(w, r, code, err)
		return
	}
	open := a.Status == approval.StatusPending && d.now().Before(a.Expires)
	d.render(w, r, http.StatusOK, "approval", "Approval "+a.ID, approvalView{A: a, Scopes: approval.Scopes, Open: open})
}

func (d *Dashboard) decide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		dec := approval.Decision{Approve: approve, By: approverOf(r), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
		if approve {
			sc, err := approval.ParseScope(r.PostFormValue("scope"))
			if err != nil {
				d.back(w, r, "/ui/approvals", err.Error())
				return
			}
			dec.Scope = sc
			if t := strings.TrimSpace(r.PostFormValue("ttl")); t != "" {
				ttl, err := time.ParseDuration(t)
				if err != nil || ttl <= 0 {
					d.back(w, r, "/ui/approvals", fmt.Sprintf("ttl %q is not a positive duration (write e.g. 10m or 8h)", t))
					return
				}
				dec.TTL = ttl
			}
		}
		a, g, err := d.approvals.Decide(r.Context(), id, dec)
		if err != nil {
			d.back(w, r, "/ui/approvals", "Not decided: "+err.Error())
			return
		}
		d.log.Info("dashboard: approval decided", "approval", a.ID, "status", a.Status, "by", dec.By.ID, "reason", dec.Reason)
		msg := fmt.Sprintf("Denied %s (%s on %s).", a.ID, a.Call.Tool, a.Call.Server)
		if g != nil {
			msg = fmt.Sprintf("Approved %s (%s on %s): grant %s, scope %s, until %s.", a.ID, a.Call.Tool, a.Call.Server, g.ID, g.Scope,
				g.Expires.Local().Format(time.DateTime))
		}
		d.back(w, r, "/ui/approvals", msg)
	}
}

func (d *Dashboard) revoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	by := approverOf(r).ID
	if err := d.approvals.Revoke(r.Context(), id, by); err != nil {
		d.back(w, r, "/ui/approvals", "Not revoked: "+err.Error())
		return
	}
	d.log.Info("dashboard: grant revoked", "grant", id, "by", by)
	d.back(w, r, "/ui/approvals", "Revoked grant "+id+".")
}

// ---- servers and pins

type serverView struct {
	Name, Transport, Target string
	Trusted                 bool
	Pins                    []pinView
}

type pinView struct {
	pin.Pin
	State string
	Diff  []diffLine
}

type diffLine struct {
	Op, Text string
}

type serversView struct {
	Servers     []serverView
	Quarantined []pinView
	PinningMode string
}

func (d *Dashboard) serversPage(w http.ResponseWriter, r *http.Request) {
	pins, err := d.pins.List(r.Context(), "")
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	v := serversView{PinningMode: "tofu"}
	if d.cfg.Pinning != nil && d.cfg.Pinning.Mode != "" {
		v.PinningMode = d.cfg.Pinning.Mode
	}
	byServer := map[string][]pinView{}
	for i := range pins {
		pv := pinView{Pin: pins[i], State: pins[i].State()}
		pv.ApprovedDef, pv.PendingDef = "", ""
		if pins[i].PendingHash != "" {
			for _, l := range strings.Split(strings.TrimRight(pin.Diff(pin.Pretty([]byte(pins[i].ApprovedDef)), pin.Pretty([]byte(pins[i].PendingDef))), "\n"), "\n") {
				op := "same"
				switch {
				case strings.HasPrefix(l, "+ "):
					op = "add"
				case strings.HasPrefix(l, "- "):
					op = "del"
				}
				pv.Diff = append(pv.Diff, diffLine{op, l})
			}
			v.Quarantined = append(v.Quarantined, pv)
		}
		byServer[pins[i].Server] = append(byServer[pins[i].Server], pv)
	}
	for _, s := range d.cfg.Servers {
		target := s.URL
		if s.Transport == "stdio" {
			target = strings.Join(s.Command, " ")
		}
		v.Servers = append(v.Servers, serverView{Name: s.Name, Transport: s.Transport, Target: target, Trusted: s.Trusted, Pins: byServer[s.Name]})
	}
	d.render(w, r, http.StatusOK, "servers", "Servers & tools", v)
}

func (d *Dashboard) approvePin(w http.ResponseWriter, r *http.Request) {
	server, kind, name, hash := r.PostFormValue("server"), r.PostFormValue("kind"), r.PostFormValue("name"), r.PostFormValue("hash")
	if server == "" || kind == "" || name == "" || hash == "" {
		d.back(w, r, "/ui/servers", "Not approved: the form lacks server, kind, name or hash; reload the page.")
		return
	}
	by := approverOf(r).ID
	p, err := d.pins.Approve(r.Context(), server, kind, name, hash, by)
	if err != nil {
		d.back(w, r, "/ui/servers", "Not approved: "+err.Error())
		return
	}
	d.log.Info("dashboard: pin approved", "server", server, "kind", kind, "name", name, "hash", p.ApprovedHash, "by", by)
	d.back(w, r, "/ui/servers", fmt.Sprintf("Approved %s %q on %s: pin %.12s.", p.Kind, p.Name, p.Server, p.ApprovedHash))
}

// ---- fleet

type fleetView struct {
	Hosts   []fleet.HostSummary
	Servers []fleet.ServerRecord
	Shadow  int
}

func (d *Dashboard) fleetPage(w http.ResponseWriter, r *http.Request) {
	hosts, err := d.fleet.Hosts(r.Context())
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	servers, err := d.fleet.Servers(r.Context(), fleet.ServerFilter{})
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	v := fleetView{Hosts: hosts, Servers: servers}
	for _, s := range servers {
		if s.Shadow {
			v.Shadow++
		}
	}
	d.render(w, r, http.StatusOK, "fleet", "Fleet", v)
}

// ---- policy

type policyView struct {
	Source, Text       string
	Rules              int
	Mode, Default, Ver string
	CompileError       string
	Warnings           []string
	Candidate, Since   string
	CandidateError     string
	CandidateWarnings  []string
	Replay             *audit.ReplayReport
}

func (d *Dashboard) activePolicy(v *policyView) {
	src, err := policy.SourceFromConfig(d.cfg)
	if err != nil {
		v.CompileError = err.Error()
		return
	}
	v.Source = src.Name
	switch {
	case src.File != "":
		if b, err := os.ReadFile(src.File); err == nil {
			v.Text = string(b)
		}
	case len(src.Body) > 0:
		v.Text = string(src.Body)
	default:
		v.Text = string(policy.DefaultPolicy())
	}
	p, err := policy.Load(src, policy.Options{})
	if err != nil {
		v.CompileError = err.Error()
		return
	}
	v.Rules, v.Mode, v.Default, v.Ver = p.Rules(), string(p.Mode), string(p.Default), p.Version
	v.Warnings = append(policy.Lint(p), policy.LintApproval(p, d.cfg.Path, d.cfg.Approval)...)
}

func (d *Dashboard) policyPage(w http.ResponseWriter, r *http.Request) {
	v := policyView{Since: "7d"}
	d.activePolicy(&v)
	d.render(w, r, http.StatusOK, "policy", "Policy", v)
}

// maxCandidateBytes caps a pasted candidate policy.
const maxCandidateBytes = 1 << 20

// maxReplayChanges caps the changes listed on the policy page (the counts cover everything).
const maxReplayChanges = 500

func (d *Dashboard) policyReplay(w http.ResponseWriter, r *http.Request) {
	v := policyView{Candidate: r.PostFormValue("candidate"), Since: strings.TrimSpace(r.PostFormValue("since"))}
	d.activePolicy(&v)
	code := http.StatusOK
	since, err := parseSince(v.Since, d.now())
	switch {
	case len(v.Candidate) > maxCandidateBytes:
		v.CandidateError, code = fmt.Sprintf("the candidate is larger than %d bytes", maxCandidateBytes), http.StatusBadRequest
	case strings.TrimSpace(v.Candidate) == "":
		v.CandidateError, code = "paste a candidate policy (YAML, the format of docs/policy.md) to replay", http.StatusBadRequest
	case err != nil:
		v.CandidateError, code = err.Error(), http.StatusBadRequest
	default:
		cand, err := policy.Compile("candidate", []byte(v.Candidate), policy.Options{})
		if err != nil {
			v.CandidateError, code = err.Error(), http.StatusBadRequest
			break
		}
		v.CandidateWarnings = policy.Lint(cand)
		if v.Replay, err = audit.Replay(r.Context(), d.audit, cand, since, maxReplayChanges); err != nil {
			v.CandidateError, code = err.Error(), http.StatusServiceUnavailable
		}
	}
	d.render(w, r, code, "policy", "Policy", v)
}
