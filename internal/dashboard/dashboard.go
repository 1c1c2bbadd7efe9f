// Package dashboard is mcpwarden's web dashboard, served by `mcpwarden serve` at /ui/: an overview of the
// traffic, the audit trail (live list, record detail with chain status, export), the approval queue and
// grants, configured servers with their tool pins and quarantined items, the fleet inventory, and the
// active policy with lint and replay of a candidate.
//
// Contract:
//   - Everything is embedded in the binary (templates and static files in web/, an embed.FS); pages are
//     server-rendered html/template with charts as inline SVG; the browser fetches nothing from anywhere
//     else, and the only script is web/static/app.js (no inline script: the Content-Security-Policy forbids it).
//   - The dashboard opens its own handles on the gateway's stores from the config, exactly as the CLI does
//     (approval.OpenStore, audit.OpenStore, pin.Open, the fleet database): a decision made here releases a
//     parked call in any gateway process sharing the store, and a pin approved here is honoured on the
//     gateway's next list.
//   - Every page but /ui/login needs a session: the admin token of dashboard.admin_token (or the one
//     generated into data_dir/dashboard-token), or with dashboard.oidc an OpenID Connect login at
//     auth.issuer (code flow with PKCE and nonce, limited to allowed groups or users), exchanged for a
//     `__Host-` cookie (Secure, HttpOnly, SameSite=Strict, Path=/). Failed logins are rate-limited per
//     client address.
//   - Every state change is a POST carrying the session's CSRF token (form field "csrf" or header
//     X-CSRF-Token, compared in constant time) in a same-origin request (Sec-Fetch-Site and Origin, when
//     sent); anything else is refused with 403.
//   - Every response carries a strict Content-Security-Policy (frame-ancestors 'none'), X-Frame-Options
//     DENY, X-Content-Type-Options nosniff and Referrer-Policy no-referrer.
//   - Decisions (approve, deny, revoke, pin approval) are recorded with the dashboard login's principal
//     as approver, and the reason given.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/discovery/fleet"
	"github.com/mcpwarden/mcpwarden/internal/inspect/pin"
)

// Path is where `serve` mounts the dashboard.
const Path = "/ui/"

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// Options configure a Dashboard beyond the config.
type Options struct {
	// Logger receives the dashboard's log (never a token); nil discards.
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Dashboard is the dashboard's HTTP handler with its store handles. Close it when the server stops.
type Dashboard struct {
	cfg       *config.Config
	log       *slog.Logger
	now       func() time.Time
	token     []byte
	approvals *approval.Store
	audit     *audit.SQLSink
	signer    *audit.Signer
	pins      *pin.Store
	fleet     *fleet.SQLiteStore
	sessions  *sessions
	limiter   *limiter
	oidc      *oidcLogin // nil without dashboard.oidc
	pages     map[string]*template.Template
	handler   http.Handler
}

// Enabled reports whether cfg turns the dashboard on.
func Enabled(cfg *config.Config) bool { return cfg.DashboardURL() != "" }

// Open loads the admin token (generating one into data_dir when the config has none), opens the stores of
// cfg and returns the dashboard. cfg.Dashboard must be set.
func Open(ctx context.Context, cfg *config.Config, opts Options) (_ *Dashboard, err error) {
	if cfg.Dashboard == nil {
		return nil, errors.New("dashboard: the config has no dashboard: section")
	}
	d := &Dashboard{cfg: cfg, log: opts.Logger, now: opts.Now}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.token, err = adminToken(cfg, d.log); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	if d.approvals, err = approval.OpenStore(ctx, cfg, nil); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	if d.audit, err = audit.OpenStore(ctx, cfg); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	if cfg.Audit.SigningKey != "" {
		// Verification needs the public half only; a missing key just leaves checkpoints unverifiable.
		if s, err := audit.LoadSigner(cfg.Audit.SigningKey); err == nil {
			d.signer = s
		}
	}
	if d.pins, err = pin.Open(ctx, cfg); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	// The fleet inventory is SQLite in data_dir even when the other stores are in PostgreSQL.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("dashboard: create data_dir for the fleet inventory: %w", err)
	}
	if d.fleet, err = fleet.NewSQLiteStore(ctx, filepath.Join(cfg.DataDir, "fleet.db")); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	d.sessions = newSessions(cfg.Dashboard.SessionTTL.D(), d.now)
	d.limiter = newLimiter(5, time.Minute, d.now)
	if cfg.Dashboard.OIDC != nil {
		if d.oidc, err = newOIDCLogin(cfg, d.now); err != nil {
			return nil, err
		}
	}
	if d.pages, err = parsePages(); err != nil {
		return nil, err
	}
	d.handler = d.routes()
	return d, nil
}

// Close closes the store handles.
func (d *Dashboard) Close() error {
	var errs []error
	if d.approvals != nil {
		errs = append(errs, d.approvals.Close())
	}
	if d.audit != nil {
		errs = append(errs, d.audit.DB().Close())
	}
	if d.pins != nil {
		errs = append(errs, d.pins.Close())
	}
	if d.fleet != nil {
		errs = append(errs, d.fleet.Close())
	}
	return errors.Join(errs...)
}

// ServeHTTP serves the dashboard; mount it at Path.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.handler.ServeHTTP(w, r) }

func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web/static")
	files := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	mux.HandleFunc("GET /ui/static/{file}", func(w http.ResponseWriter, r *http.Request) { files.ServeHTTP(w, r) }) // files, no listing
	mux.HandleFunc("GET /ui/login", d.loginPage)
	mux.HandleFunc("POST /ui/login", d.login)
	if d.oidc != nil {
		mux.HandleFunc("GET /ui/oidc/start", d.oidcStart)
		mux.HandleFunc("GET /ui/oidc/callback", d.oidcCallback)
	}

	auth := http.NewServeMux()
	auth.HandleFunc("POST /ui/logout", d.logout)
	auth.HandleFunc("GET /ui/{$}", d.overview)
	auth.HandleFunc("GET /ui/audit", d.auditList)
	auth.HandleFunc("GET /ui/audit/export", d.auditExport)
	auth.HandleFunc("GET /ui/audit/{id}", d.auditRecord)
	auth.HandleFunc("GET /ui/approvals", d.approvalsPage)
	auth.HandleFunc("GET /ui/approvals/{id}", d.approvalPage)
	auth.HandleFunc("POST /ui/approvals/{id}/approve", d.decide(true))
	auth.HandleFunc("POST /ui/approvals/{id}/deny", d.decide(false))
	auth.HandleFunc("POST /ui/grants/{id}/revoke", d.revoke)
	auth.HandleFunc("GET /ui/servers", d.serversPage)
	auth.HandleFunc("POST /ui/pins/approve", d.approvePin)
	auth.HandleFunc("GET /ui/fleet", d.fleetPage)
	auth.HandleFunc("GET /ui/policy", d.policyPage)
	auth.HandleFunc("POST /ui/policy/replay", d.policyReplay)
	// JSON for the page script (audit polling) and for tools: the audit API and the approvals API.
	auth.Handle("/ui/api/audit/", http.StripPrefix("/ui/api/audit", audit.HTTPHandler(d.audit, d.signer)))
	auth.Handle("/ui/api/", http.StripPrefix("/ui/api", approval.NewHTTPHandler(d.approvals)))
	mux.Handle("/ui/", d.requireSession(auth))
	return securityHeaders(mux)
}
