package approval

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/identity"
)

// NewHTTPHandler returns the JSON API of approvals for the dashboard. Every request needs an authenticated
// principal in its context (identity.WithPrincipal, set by the gateway's authenticating front); without one
// it answers 401. Decisions are made as that principal (its groups count for approver groups). Mount it
// under a prefix with http.StripPrefix. Routes:
//
//	GET  /approvals[?status=pending|approved|denied|all]   list (default pending)
//	GET  /approvals/{id}                                   one approval
//	POST /approvals/{id}/approve  {"scope":"args","ttl":"10m","reason":"..."}
//	POST /approvals/{id}/deny     {"reason":"..."}
//	GET  /grants[?all=true]                                grants (default active only)
//	POST /grants/{id}/revoke
//
// Errors are {"error": "..."} with 400 (bad input), 401, 403 (refused decision), 404 or 500.
func NewHTTPHandler(st *Store) http.Handler {
	h := &httpAPI{st: st}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /approvals", h.list)
	mux.HandleFunc("GET /approvals/{id}", h.show)
	mux.HandleFunc("POST /approvals/{id}/approve", h.decide(true))
	mux.HandleFunc("POST /approvals/{id}/deny", h.decide(false))
	mux.HandleFunc("GET /grants", h.grants)
	mux.HandleFunc("POST /grants/{id}/revoke", h.revoke)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := identity.FromContext(r.Context()); !ok {
			writeErr(w, http.StatusUnauthorized, errors.New("authentication required: the approvals API decides as the signed-in principal"))
			return
		}
		if r.Method == http.MethodPost {
			// A JSON content type keeps cross-site form posts out (they cannot send it without a preflight).
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				writeErr(w, http.StatusUnsupportedMediaType, errors.New("send Content-Type: application/json"))
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

type httpAPI struct{ st *Store }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func storeErr(w http.ResponseWriter, err error) {
	var re *RefusedError
	switch {
	case errors.Is(err, ErrNotFound):
		writeErr(w, http.StatusNotFound, err)
	case errors.As(err, &re):
		writeErr(w, http.StatusForbidden, err)
	default:
		writeErr(w, http.StatusInternalServerError, err)
	}
}

func approverOf(r *http.Request) Approver {
	p, _ := identity.FromContext(r.Context())
	return Approver{ID: p.ID(), User: p.Subject, Groups: p.Groups}
}

func (h *httpAPI) list(w http.ResponseWriter, r *http.Request) {
	status := Status(r.URL.Query().Get("status"))
	switch status {
	case "":
		status = StatusPending
	case "all":
		status = ""
	case StatusPending, StatusApproved, StatusDenied:
	default:
		writeErr(w, http.StatusBadRequest, fmt.Errorf("unknown status %q: use pending, approved, denied or all", status))
		return
	}
	list, err := h.st.List(r.Context(), status)
	if err != nil {
		storeErr(w, err)
		return
	}
	if list == nil {
		list = []*Approval{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *httpAPI) show(w http.ResponseWriter, r *http.Request) {
	a, err := h.st.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		storeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (h *httpAPI) decide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Scope  string `json:"scope"`
			TTL    string `json:"ttl"`
			Reason string `json:"reason"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("bad request body: %w (send {\"scope\":\"once\",\"ttl\":\"10m\",\"reason\":\"...\"})", err))
			return
		}
		d := Decision{Approve: approve, By: approverOf(r), Reason: body.Reason}
		if approve {
			sc, err := ParseScope(body.Scope)
			if err != nil {
				writeErr(w, http.StatusBadRequest, err)
				return
			}
			d.Scope = sc
			if body.TTL != "" {
				ttl, err := time.ParseDuration(body.TTL)
				if err != nil || ttl <= 0 {
					writeErr(w, http.StatusBadRequest, fmt.Errorf("ttl %q is not a positive duration (write e.g. 10m or 8h)", body.TTL))
					return
				}
				d.TTL = ttl
			}
		}
		a, g, err := h.st.Decide(r.Context(), r.PathValue("id"), d)
		if err != nil {
			storeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"approval": a, "grant": g})
	}
}

func (h *httpAPI) grants(w http.ResponseWriter, r *http.Request) {
	gs, err := h.st.Grants(r.Context(), r.URL.Query().Get("all") == "true")
	if err != nil {
		storeErr(w, err)
		return
	}
	if gs == nil {
		gs = []*Grant{}
	}
	writeJSON(w, http.StatusOK, gs)
}

func (h *httpAPI) revoke(w http.ResponseWriter, r *http.Request) {
	if err := h.st.Revoke(r.Context(), r.PathValue("id"), approverOf(r).ID); err != nil {
		storeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"revoked": r.PathValue("id")})
}
