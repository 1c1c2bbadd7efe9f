package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// TokenValidator checks an access token for the given accepted audiences. JWTValidator and Introspector
// implement it.
type TokenValidator interface {
	Validate(ctx context.Context, token string, audiences []string) (*Principal, error)
}

// APIKeyAuthenticator checks a gateway API key (APIKeyStore implements it).
type APIKeyAuthenticator interface {
	Authenticate(ctx context.Context, key string) (*Principal, error)
}

// AuthOptions configures an Authenticator: the gateway as an OAuth 2.1 resource server.
type AuthOptions struct {
	// Resource is the gateway's public base URI, e.g. https://mcp.example.com (no trailing slash). An
	// endpoint's resource URI is Resource + its path (https://mcp.example.com/mcp/github). Required with
	// JWT or Introspection; with API keys alone it may be empty (no metadata is published then).
	Resource string
	// Audiences, when set, are the "aud" values tokens may carry (any one suffices). Default: the base
	// resource URI or the URI of the endpoint being called.
	Audiences []string
	// RequiredScopes must all be granted to an OAuth token; one missing gives 403 insufficient_scope
	// (step-up). API keys are not scoped.
	RequiredScopes []string
	// AuthorizationServers are published in the protected resource metadata (the issuer).
	AuthorizationServers []string
	// JWT validates JWT access tokens; nil when only opaque tokens or API keys are used.
	JWT TokenValidator
	// Introspection validates opaque tokens (and JWTs when JWT is nil); nil disables it.
	Introspection TokenValidator
	// APIKeys checks mcpw_ keys; nil refuses them.
	APIKeys APIKeyAuthenticator
	// Endpoints are the server names served at /mcp/{name}, for the per-path metadata documents.
	Endpoints []string
	// Logger receives refusals (never a token). Default slog.Default().
	Logger *slog.Logger
}

// Authenticator authenticates HTTP requests to the MCP endpoints and publishes RFC 9728 metadata.
type Authenticator struct {
	opts AuthOptions
}

// NewAuthenticator checks opts and returns an Authenticator.
func NewAuthenticator(opts AuthOptions) (*Authenticator, error) {
	opts.Resource = strings.TrimSuffix(opts.Resource, "/")
	if opts.Resource != "" || opts.JWT != nil || opts.Introspection != nil {
		if err := CheckResource(opts.Resource); err != nil {
			return nil, err
		}
	}
	if opts.JWT == nil && opts.Introspection == nil && opts.APIKeys == nil {
		return nil, errors.New("authentication needs at least one way to check credentials: an issuer (JWT), introspection or API keys")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Authenticator{opts: opts}, nil
}

// CheckResource accepts an absolute https URI (http on loopback hosts) with no query or fragment.
func CheckResource(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("resource %q must be the gateway's public base URL, e.g. https://mcp.example.com", raw)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("resource %q must use https (http only for loopback hosts): tokens must not cross the network in clear", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("resource %q must be scheme://host[:port] only, with no path, query or user info (endpoints are its /mcp paths)", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// endpointPath normalises the path of an MCP endpoint request (/mcp/ → /mcp).
func endpointPath(p string) string {
	if p == "/mcp/" {
		return "/mcp"
	}
	return p
}

// ResourceURI is the resource identifier of the endpoint at path.
func (a *Authenticator) ResourceURI(path string) string { return a.opts.Resource + endpointPath(path) }

// MetadataURL is where the protected resource metadata of the endpoint at path is published.
func (a *Authenticator) MetadataURL(path string) string {
	return a.opts.Resource + "/.well-known/oauth-protected-resource" + endpointPath(path)
}

func (a *Authenticator) audiences(path string) []string {
	if len(a.opts.Audiences) > 0 {
		return a.opts.Audiences
	}
	return []string{a.opts.Resource, a.opts.Resource + "/", a.ResourceURI(path)}
}

// Middleware authenticates every request: a valid bearer token (JWT, opaque, or mcpw_ API key) puts its
// Principal in the request context (WithPrincipal) and the request goes on without its Authorization
// header; anything else gets 401 (or 403 insufficient_scope) with a WWW-Authenticate challenge pointing at
// the metadata.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("access_token") {
			a.challenge(w, r, http.StatusBadRequest, "invalid_request", "tokens are accepted only in the Authorization header, never in the URL")
			return
		}
		vals := r.Header.Values("Authorization")
		if len(vals) == 0 {
			a.challenge(w, r, http.StatusUnauthorized, "", "authentication required: send Authorization: Bearer TOKEN")
			return
		}
		if len(vals) > 1 {
			a.challenge(w, r, http.StatusBadRequest, "invalid_request", "more than one Authorization header")
			return
		}
		scheme, token, ok := strings.Cut(vals[0], " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			a.challenge(w, r, http.StatusUnauthorized, "invalid_request", "the Authorization header must be Bearer TOKEN")
			return
		}
		p, err := a.authenticate(r.Context(), token, r.URL.Path)
		var te *TokenError
		switch {
		case errors.As(err, &te):
			a.opts.Logger.Info("request refused: invalid credentials", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", te.Reason)
			a.challenge(w, r, http.StatusUnauthorized, "invalid_token", te.Reason)
			return
		case err != nil:
			a.opts.Logger.Error("cannot check credentials", "path", r.URL.Path, "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "temporarily_unavailable",
				"error_description": "the gateway cannot check credentials right now (authorization server unreachable); retry later"})
			return
		}
		if p.AuthMethod == MethodOIDC {
			if missing := missingScopes(p.Scopes, a.opts.RequiredScopes); len(missing) > 0 {
				a.opts.Logger.Info("request refused: insufficient scope", "path", r.URL.Path, "principal", p.ID(), "missing", missing)
				a.challenge(w, r, http.StatusForbidden, "insufficient_scope",
					"the token lacks scope "+strings.Join(missing, " "))
				return
			}
		}
		ctx := WithPrincipal(r.Context(), p)
		if p.AuthMethod == MethodOIDC {
			ctx = withInboundToken(ctx, token) // for RFC 8693 token exchange only; never forwarded
		}
		r2 := r.WithContext(ctx)
		r2.Header = r.Header.Clone()
		r2.Header.Del("Authorization") // never forwarded: the spec forbids token passthrough
		next.ServeHTTP(w, r2)
	})
}

func (a *Authenticator) authenticate(ctx context.Context, token, path string) (*Principal, error) {
	if strings.HasPrefix(token, APIKeyPrefix) {
		if a.opts.APIKeys == nil {
			return nil, invalid("API keys are not enabled on this gateway")
		}
		return a.opts.APIKeys.Authenticate(ctx, token)
	}
	auds := a.audiences(path)
	if strings.Count(token, ".") == 2 && a.opts.JWT != nil {
		return a.opts.JWT.Validate(ctx, token, auds)
	}
	if a.opts.Introspection != nil {
		return a.opts.Introspection.Validate(ctx, token, auds)
	}
	if a.opts.JWT != nil {
		return nil, invalid("not a JWT")
	}
	return nil, invalid("only API keys are accepted by this gateway")
}

func missingScopes(granted, required []string) []string {
	var out []string
	for _, s := range required {
		if !slices.Contains(granted, s) {
			out = append(out, s)
		}
	}
	return out
}

// challenge writes an RFC 6750 error with the MCP-required resource_metadata parameter.
func (a *Authenticator) challenge(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	var params []string
	if a.opts.Resource != "" {
		params = append(params, `resource_metadata="`+quoteParam(a.MetadataURL(r.URL.Path))+`"`)
	}
	if code != "" {
		params = append(params, `error="`+code+`"`, `error_description="`+quoteParam(desc)+`"`)
	}
	if len(a.opts.RequiredScopes) > 0 {
		params = append(params, `scope="`+quoteParam(strings.Join(a.opts.RequiredScopes, " "))+`"`)
	}
	challenge := "Bearer"
	if len(params) > 0 {
		challenge += " " + strings.Join(params, ", ")
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body := map[string]string{"error": code, "error_description": desc}
	if code == "" {
		body["error"] = "unauthorized"
	}
	_ = json.NewEncoder(w).Encode(body)
}

// quoteParam makes s safe inside a quoted auth-param: RFC 6750 allows %x20-21 / %x23-5B / %x5D-7E.
func quoteParam(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}

// SessionOwner names who makes request r for session binding: the principal's ID, or "" without one.
func SessionOwner(r *http.Request) string {
	p, _ := FromContext(r.Context())
	return p.ID()
}
