package identity

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// MetadataPath is the RFC 9728 well-known path; an endpoint's own document is at MetadataPath + its path.
const MetadataPath = "/.well-known/oauth-protected-resource"

// ProtectedResourceMetadata is the RFC 9728 document.
type ProtectedResourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Metadata returns the document for the endpoint at path ("" for the gateway as a whole), and false when
// no such endpoint exists.
func (a *Authenticator) Metadata(path string) (ProtectedResourceMetadata, bool) {
	if a.opts.Resource == "" {
		return ProtectedResourceMetadata{}, false
	}
	path = endpointPath(path)
	switch {
	case path == "" || path == "/":
		path = ""
	case path == "/mcp":
	default:
		name, ok := strings.CutPrefix(path, "/mcp/")
		if !ok || !slices.Contains(a.opts.Endpoints, name) {
			return ProtectedResourceMetadata{}, false
		}
	}
	md := ProtectedResourceMetadata{
		Resource:               a.opts.Resource + path,
		AuthorizationServers:   a.opts.AuthorizationServers,
		ScopesSupported:        a.opts.RequiredScopes,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "mcpwarden",
	}
	if name, ok := strings.CutPrefix(path, "/mcp/"); ok {
		md.ResourceName = "mcpwarden: " + name
	}
	return md, true
}

// MetadataHandler serves GET MetadataPath and MetadataPath + /mcp[/{name}].
func (a *Authenticator) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, MetadataPath)
		if !ok {
			http.NotFound(w, r)
			return
		}
		md, ok := a.Metadata(rest)
		if !ok {
			http.Error(w, "no protected resource at "+rest+" (endpoints are /mcp and /mcp/{server})", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Access-Control-Allow-Origin", "*") // public document; browser-based clients read it
		_ = json.NewEncoder(w).Encode(md)
	})
}

// Wrap serves the metadata documents and passes every other request to h.
func (a *Authenticator) Wrap(h http.Handler) http.Handler {
	md := a.MetadataHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == MetadataPath || strings.HasPrefix(r.URL.Path, MetadataPath+"/") {
			md.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
