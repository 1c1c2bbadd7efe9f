package fleet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/discovery"
)

// Authenticator decides who sent a request. It returns an error when the request is not authenticated.
type Authenticator interface {
	Authenticate(r *http.Request) (principal string, err error)
}

// APIKeys authenticates `Authorization: Bearer KEY` against a fixed set of keys (stored as SHA-256).
type APIKeys struct {
	keys map[[32]byte]string
}

// NewAPIKeys maps principals to their API keys.
func NewAPIKeys(byPrincipal map[string]string) *APIKeys {
	a := &APIKeys{keys: map[[32]byte]string{}}
	for p, k := range byPrincipal {
		a.keys[sha256.Sum256([]byte(k))] = p
	}
	return a
}

// Authenticate implements Authenticator.
func (a *APIKeys) Authenticate(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return "", errors.New("missing API key: send Authorization: Bearer KEY")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	for k, p := range a.keys {
		if subtle.ConstantTimeCompare(k[:], sum[:]) == 1 {
			return p, nil
		}
	}
	return "", errors.New("unknown API key")
}

type handler struct {
	store FleetStore
	auth  Authenticator
	now   func() time.Time
}

// NewHandler serves the fleet API (see the package comment) from store, authenticating with auth. A nil
// auth refuses every request.
func NewHandler(store FleetStore, auth Authenticator) http.Handler {
	h := &handler{store: store, auth: auth, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+ReportsPath, h.postReport)
	mux.HandleFunc("GET /api/v1/fleet/hosts", h.getHosts)
	mux.HandleFunc("GET /api/v1/fleet/servers", h.getServers)
	return h.authenticate(mux)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

type principalKey struct{}

func (h *handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.auth == nil {
			writeError(w, http.StatusUnauthorized, "fleet API has no authenticator configured")
			return
		}
		p, err := h.auth.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcpwarden-fleet"`)
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func (h *handler) postReport(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxReportBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("report is larger than %d bytes", MaxReportBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "read report: "+err.Error())
		return
	}
	var inv discovery.Inventory
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&inv); err != nil {
		writeError(w, http.StatusBadRequest, "report is not valid inventory JSON: "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "report has data after the JSON object")
		return
	}
	switch {
	case inv.ReportID == "" || len(inv.ReportID) > 128:
		writeError(w, http.StatusBadRequest, "report_id is missing or longer than 128 characters")
		return
	case inv.Host.Hostname == "":
		writeError(w, http.StatusBadRequest, "host.hostname is missing")
		return
	case inv.SchemaVersion < 1 || inv.SchemaVersion > discovery.SchemaVersion:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("schema_version %d is not supported (want 1..%d): upgrade the gateway", inv.SchemaVersion, discovery.SchemaVersion))
		return
	}
	principal, _ := r.Context().Value(principalKey{}).(string)
	res, err := h.store.SaveReport(r.Context(), StoredReport{ReportID: inv.ReportID, Host: inv.Host.Hostname,
		User: inv.Host.User, OS: inv.Host.OS, Principal: principal, ReceivedAt: h.now().UTC(), Inventory: inv})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "store report: "+err.Error())
		return
	}
	code := http.StatusCreated
	if res.Duplicate {
		code = http.StatusOK
	}
	writeJSON(w, code, res)
}

func (h *handler) getHosts(w http.ResponseWriter, r *http.Request) {
	hosts, err := h.store.Hosts(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "list hosts: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"hosts": hosts})
}

func (h *handler) getServers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ServerFilter{Host: q.Get("host")}
	switch q.Get("shadow") {
	case "", "0", "false":
	case "1", "true":
		f.ShadowOnly = true
	default:
		writeError(w, http.StatusBadRequest, "shadow must be 1 or 0")
		return
	}
	servers, err := h.store.Servers(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "list servers: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"servers": servers})
}

// ReportURL turns a --report argument into the reports endpoint: a bare gateway URL gets ReportsPath.
// Plain http is refused for non-loopback hosts, since the API key would travel in clear text.
func ReportURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--report %q: want an http(s) URL such as https://gateway.example.com", raw)
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		ip := net.ParseIP(host)
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			return "", fmt.Errorf("--report %q: refusing to send the API key over plain http to a remote host; use https", raw)
		}
	}
	if p := strings.TrimRight(u.Path, "/"); p == "" {
		u.Path = ReportsPath
	}
	return u.String(), nil
}

// Send posts an inventory to a reports endpoint with the API key and returns the gateway's answer.
func Send(ctx context.Context, hc *http.Client, endpoint, apiKey string, inv *discovery.Inventory) (*SaveResult, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	body, err := json.Marshal(inv)
	if err != nil {
		return nil, err
	}
	if len(body) > MaxReportBytes {
		return nil, fmt.Errorf("inventory is %d bytes, over the %d-byte report limit", len(body), MaxReportBytes)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send report to %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(rb, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(rb))
		}
		return nil, fmt.Errorf("gateway %s answered %s: %s", endpoint, resp.Status, e.Error)
	}
	var res SaveResult
	if err := json.Unmarshal(rb, &res); err != nil {
		return nil, fmt.Errorf("gateway %s: unreadable answer: %w", endpoint, err)
	}
	return &res, nil
}
