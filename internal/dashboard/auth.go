package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/identity"
)

// Cookie names. The __Host- prefix makes the browser insist on Secure, Path=/ and no Domain.
const (
	sessionCookie = "__Host-mcpwarden-session"
	loginCookie   = "__Host-mcpwarden-login"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// MethodDashboard is the AuthMethod of a principal logged in with the admin token.
const MethodDashboard = "dashboard"

// adminPrincipal is who an admin-token login is: decisions record "dashboard:admin".
var adminPrincipal = &identity.Principal{Subject: "admin", Name: "dashboard admin", AuthMethod: MethodDashboard}

// adminToken returns dashboard.admin_token, or the token in data_dir/dashboard-token, generating that file
// (mode 0600) the first time. The token is never logged, only where it is.
func adminToken(cfg *config.Config, log *slog.Logger) ([]byte, error) {
	if t := cfg.Dashboard.AdminToken; t != "" {
		return []byte(t), nil
	}
	path := filepath.Join(cfg.DataDir, config.DashboardTokenFile)
	if b, err := os.ReadFile(path); err == nil {
		t := strings.TrimSpace(string(b))
		if len(t) < config.MinDashboardTokenLen {
			return nil, fmt.Errorf("dashboard: the admin token in %s is shorter than %d characters: delete the file to have a new one generated", path, config.MinDashboardTokenLen)
		}
		log.Info("dashboard: admin token read from file (not logged)", "file", path)
		return []byte(t), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("dashboard: read the admin token: %w (check the permissions of %s)", err, path)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("dashboard: create data_dir for the admin token: %w", err)
	}
	t := randomToken(24)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dashboard: create the admin token file: %w (or set dashboard.admin_token)", err)
	}
	if _, err := f.WriteString(t + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("dashboard: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("dashboard: write %s: %w", path, err)
	}
	log.Warn("dashboard: generated an admin token; log in with the token in this file (it is not logged)", "file", path)
	return []byte(t), nil
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// session is one login.
type session struct {
	principal *identity.Principal
	csrf      string
	expires   time.Time
	flash     string
}

// sessions keeps logins in memory, keyed by the SHA-256 of the cookie value: a restart logs everyone out.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, ttl: ttl, now: now}
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// create starts a session and returns its cookie value.
func (s *sessions) create(p *identity.Principal) string {
	id := randomToken(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.m { // drop expired ones while we are here
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[sessionKey(id)] = &session{principal: p, csrf: randomToken(32), expires: now.Add(s.ttl)}
	return id
}

// get returns a copy of the live session of id, or nil.
func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[sessionKey(id)]
	if v == nil || s.now().After(v.expires) {
		return nil
	}
	c := *v
	return &c
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sessionKey(id))
}

// setFlash stores a one-time message shown on the next page; takeFlash returns and clears it.
func (s *sessions) setFlash(id, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.m[sessionKey(id)]; v != nil {
		v.flash = msg
	}
}

func (s *sessions) takeFlash(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[sessionKey(id)]
	if v == nil {
		return ""
	}
	f := v.flash
	v.flash = ""
	return f
}

// limiter refuses a client address after max failed logins within window.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	fails  map[string][]time.Time
}

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, now: now, fails: map[string][]time.Time{}}
}

func (l *limiter) recent(key string) []time.Time {
	cut := l.now().Add(-l.window)
	ts := l.fails[key]
	i := 0
	for i < len(ts) && ts[i].Before(cut) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, key)
	} else {
		l.fails[key] = ts
	}
	return ts
}

// allowed reports whether key may try again.
func (l *limiter) allowed(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key)) < l.max
}

func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[key] = append(l.recent(key), l.now())
}

func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// securityHeaders sets the headers every dashboard response carries.
func securityHeaders(next http.Handler) http.Handler {
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses a cross-site request. Sec-Fetch-Site, which browsers send, must say same-origin; an
// Origin header must name this host. Under Referrer-Policy: no-referrer a browser sends "Origin: null" with
// form posts, so a null Origin counts only with Sec-Fetch-Site: same-origin. A request with neither header
// is not from a browser's cross-site form, and still needs the CSRF token.
func sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if site != "" && site != "same-origin" {
		return false
	}
	switch o := r.Header.Get("Origin"); o {
	case "":
		return true
	case "null":
		return site == "same-origin"
	default:
		u, err := url.Parse(o)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
	}
}

func tokenEqual(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

type ctxSession struct{}

// requireSession lets through requests of a logged-in session; state changes also need its CSRF token
// and a same-origin request. Pages redirect to the login, the API answers 401.
func (d *Dashboard) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if c, err := r.Cookie(sessionCookie); err == nil {
			id = c.Value
		}
		s := d.sessions.get(id)
		if s == nil {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/ui/api/") {
				http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in to the dashboard: log in at /ui/login", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) {
				http.Error(w, "cross-origin request refused: state changes must come from the dashboard's own pages", http.StatusForbidden)
				return
			}
			got := r.Header.Get(csrfHeader)
			if got == "" {
				got = r.PostFormValue(csrfField)
			}
			if !tokenEqual(got, s.csrf) {
				http.Error(w, "missing or wrong CSRF token: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		ctx := identity.WithPrincipal(r.Context(), s.principal)
		ctx = contextWithSession(ctx, id, s)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
}

type loginView struct {
	CSRF, Next, Error string
	// SSO is the issuer of the OIDC login, when configured.
	SSO string
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	t := randomToken(24)
	setCookie(w, loginCookie, t, 600)
	d.render(w, r, http.StatusOK, "login", "Log in", loginView{CSRF: t, Next: safeNext(r.URL.Query().Get("next")), SSO: d.ssoName()})
}

// safeNext keeps a post-login redirect inside the dashboard: a path (no scheme, host or user) that stays
// under /ui/ once its dot segments are resolved, without control characters or backslashes. Browsers drop
// tabs and newlines from a URL before reading it, and http.Redirect cleans the path, so "/ui/../\t/evil.example"
// would become the scheme-relative "//evil.example" in the browser.
func safeNext(n string) string {
	const home = "/ui/"
	if strings.IndexFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) >= 0 {
		return home
	}
	u, err := url.Parse(n)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(n, home) {
		return home
	}
	if p := path.Clean(u.Path); p != "/ui" && !strings.HasPrefix(p, home) {
		return home
	}
	return n
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	key := clientKey(r)
	if !d.limiter.allowed(key) {
		d.log.Warn("dashboard: login refused: too many failed attempts", "remote", key)
		w.Header().Set("Retry-After", "60")
		http.Error(w, "too many failed logins from your address: wait a minute and try again", http.StatusTooManyRequests)
		return
	}
	c, err := r.Cookie(loginCookie)
	if !sameOrigin(r) || err != nil || !tokenEqual(r.PostFormValue(csrfField), c.Value) {
		http.Error(w, "login form expired or cross-origin: reload /ui/login and try again", http.StatusForbidden)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	tok := r.PostFormValue("token")
	if subtle.ConstantTimeCompare([]byte(tok), d.token) != 1 {
		d.limiter.fail(key)
		d.log.Warn("dashboard: failed login", "remote", key)
		t := randomToken(24)
		setCookie(w, loginCookie, t, 600)
		d.render(w, r, http.StatusUnauthorized, "login", "Log in", loginView{CSRF: t, Next: next, Error: "Wrong token.", SSO: d.ssoName()})
		return
	}
	id := d.sessions.create(adminPrincipal)
	setCookie(w, sessionCookie, id, int(d.cfg.Dashboard.SessionTTL.D()/time.Second))
	setCookie(w, loginCookie, "", -1)
	d.log.Info("dashboard: login", "principal", adminPrincipal.ID(), "remote", key)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) ssoName() string {
	if d.oidc == nil {
		return ""
	}
	return d.oidc.issuer
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	id, _ := sessionOf(r)
	d.sessions.delete(id)
	setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// approverOf is the logged-in principal as an approver.
func approverOf(r *http.Request) approval.Approver {
	p, _ := identity.FromContext(r.Context())
	return approval.Approver{ID: p.ID(), User: p.Subject, Groups: p.Groups}
}
