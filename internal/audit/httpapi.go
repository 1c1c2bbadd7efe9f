package audit

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// HTTPHandler serves the audit trail as JSON for the dashboard:
//
//	GET /records?since=&until=&user=&server=&tool=&method=&decision=&session=&after_id=&limit=   []Entry, oldest first
//	GET /records/{id}                                                                              Entry + chain_status
//	GET /verify                                                                                    Report
//
// since and until are RFC 3339 times; limit defaults to 100 (at most 10000). Mount it under a prefix with
// http.StripPrefix, behind the dashboard's authentication: records are sensitive. signer may be nil, in
// which case /verify reports every checkpoint as unverifiable.
func HTTPHandler(sink *SQLSink, signer *Signer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /records", func(w http.ResponseWriter, r *http.Request) {
		f, err := filterFromQuery(r)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		out := []Entry{}
		if err := sink.Scan(r.Context(), f, func(sr *StoredRecord) error {
			out = append(out, EntryOf(sr))
			return nil
		}); err != nil {
			httpError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("GET /records/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			httpError(w, http.StatusBadRequest, "the record id must be a positive number")
			return
		}
		sr, err := sink.Get(r.Context(), id)
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if sr == nil {
			httpError(w, http.StatusNotFound, "no audit record with this id")
			return
		}
		st, err := Status(r.Context(), sink, sr)
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, struct {
			Entry
			ChainStatus RecordStatus `json:"chain_status"`
		}{EntryOf(sr), st})
	})
	mux.HandleFunc("GET /verify", func(w http.ResponseWriter, r *http.Request) {
		rep, err := Verify(r.Context(), sink, signer)
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, rep)
	})
	return mux
}

func filterFromQuery(r *http.Request) (Filter, error) {
	q := r.URL.Query()
	f := Filter{User: q.Get("user"), Server: q.Get("server"), Tool: q.Get("tool"), Method: q.Get("method"),
		Decision: q.Get("decision"), Session: q.Get("session"), Limit: 100}
	for _, p := range []struct {
		key string
		dst *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.key); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, errBadQuery(p.key + " must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
			}
			*p.dst = t
		}
	}
	for _, p := range []struct {
		key string
		set func(int64)
		max int64
	}{{"limit", func(n int64) { f.Limit = int(n) }, 10000}, {"after_id", func(n int64) { f.AfterID = n }, 1 << 62}} {
		if v := q.Get(p.key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || n > p.max {
				return f, errBadQuery(p.key + " must be a number from 0 to " + strconv.FormatInt(p.max, 10))
			}
			p.set(n)
		}
	}
	return f, nil
}

type errBadQuery string

func (e errBadQuery) Error() string { return string(e) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
