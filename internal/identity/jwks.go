package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// maxDocBytes bounds a JWKS, discovery or introspection document read from the network.
const maxDocBytes = 1 << 20

// ErrUnavailable marks failures to reach the authorization server (discovery, JWKS, introspection): the
// token could not be checked, which is the gateway's problem, not the client's.
var ErrUnavailable = errors.New("authorization server unavailable")

// JWKSOptions configures a JWKS cache.
type JWKSOptions struct {
	// URL is the JWKS endpoint. When empty, Issuer's discovery document (OpenID Connect, then RFC 8414)
	// names it.
	URL string
	// Issuer is used for discovery when URL is empty.
	Issuer string
	// Client fetches documents. Nil: a client with a 10s timeout that refuses redirects.
	Client *http.Client
	// MaxAge is how long a fetched key set is used before it is fetched again. Default 1h.
	MaxAge time.Duration
	// MinRefetch is the least time between two fetches caused by an unknown key id, so a flood of tokens
	// with made-up kids cannot turn the gateway into a load generator against the IdP. Default 30s.
	MinRefetch time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Static, when set, is the key set, used as it is and never fetched (keys pinned in configuration,
	// tests).
	Static *jose.JSONWebKeySet
}

// JWKS is a cached JSON Web Key Set. A token signed with a kid the cache does not know triggers one
// refetch, at most once per MinRefetch (key rotation at the IdP).
type JWKS struct {
	opts JWKSOptions

	mu        sync.Mutex
	keys      *jose.JSONWebKeySet
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last fetch attempt caused by an unknown kid
	url       string    // resolved JWKS URL
	fetches   int
	// failedAt and failErr remember the last failed fetch, so an unreachable IdP is not asked again on
	// every request.
	failedAt time.Time
	failErr  error
}

// failureBackoff is how long a failed fetch is remembered before the next request tries again.
func (j *JWKS) failureBackoff() time.Duration { return min(j.opts.MinRefetch, 5*time.Second) }

// NewJWKS returns a cache; it does no I/O until the first Key call.
func NewJWKS(opts JWKSOptions) *JWKS {
	if opts.Client == nil {
		opts.Client = defaultClient()
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = time.Hour
	}
	if opts.MinRefetch <= 0 {
		opts.MinRefetch = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &JWKS{opts: opts, url: opts.URL, keys: opts.Static}
}

func defaultClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("redirects are not followed for authorization-server documents")
		},
	}
}

// Fetches returns how many times the key set was fetched (for tests and metrics).
func (j *JWKS) Fetches() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fetches
}

// Key returns the verification keys for kid ("" when the token names none: every key). A kid the cached
// set lacks causes a refetch unless one happened within MinRefetch. It returns nil keys, and no error, when
// the kid is unknown after that.
func (j *JWKS) Key(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.opts.Static != nil {
		return j.lookupLocked(kid), nil
	}
	now := j.opts.Now()
	if j.keys == nil && j.failErr != nil && now.Sub(j.failedAt) < j.failureBackoff() {
		return nil, j.failErr
	}
	if j.keys == nil || now.Sub(j.fetchedAt) > j.opts.MaxAge {
		if err := j.fetchLocked(ctx); err != nil {
			if j.keys == nil {
				return nil, err
			}
			// Keep serving the stale set when a periodic refresh fails; the IdP may be briefly down.
		}
		j.triedAt = now
	}
	if ks := j.lookupLocked(kid); len(ks) > 0 {
		return ks, nil
	}
	if now.Sub(j.triedAt) < j.opts.MinRefetch {
		return nil, nil
	}
	j.triedAt = now
	if err := j.fetchLocked(ctx); err != nil {
		return nil, err
	}
	return j.lookupLocked(kid), nil
}

func (j *JWKS) lookupLocked(kid string) []jose.JSONWebKey {
	if j.keys == nil {
		return nil
	}
	var out []jose.JSONWebKey
	for _, k := range j.keys.Keys {
		if k.IsPublic() && (kid == "" || k.KeyID == kid) && (k.Use == "" || k.Use == "sig") {
			out = append(out, k)
		}
	}
	return out
}

func (j *JWKS) fetchLocked(ctx context.Context) error {
	if j.url == "" {
		u, err := discoverJWKS(ctx, j.opts.Client, j.opts.Issuer)
		if err != nil {
			j.failedAt, j.failErr = j.opts.Now(), err
			return err
		}
		j.url = u
	}
	var set jose.JSONWebKeySet
	if err := getJSON(ctx, j.opts.Client, j.url, &set); err != nil {
		j.failedAt, j.failErr = j.opts.Now(), fmt.Errorf("%w: JWKS %s: %v", ErrUnavailable, j.url, err)
		return j.failErr
	}
	j.fetches++
	j.keys = &set
	j.fetchedAt = j.opts.Now()
	j.failErr = nil
	return nil
}

// discoverJWKS reads jwks_uri from the issuer's OpenID Connect discovery document, or else from its RFC 8414
// authorization server metadata.
func discoverJWKS(ctx context.Context, c *http.Client, issuer string) (string, error) {
	if issuer == "" {
		return "", fmt.Errorf("%w: neither a JWKS URL nor an issuer to discover it from is configured", ErrUnavailable)
	}
	base := strings.TrimSuffix(issuer, "/")
	candidates := []string{base + "/.well-known/openid-configuration"}
	if u, err := url.Parse(base); err == nil {
		// RFC 8414: the well-known segment goes between host and path.
		candidates = append(candidates, u.Scheme+"://"+u.Host+"/.well-known/oauth-authorization-server"+u.Path)
	}
	var errs []string
	for _, doc := range candidates {
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := getJSON(ctx, c, doc, &meta); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if strings.TrimSuffix(meta.Issuer, "/") != base {
			errs = append(errs, fmt.Sprintf("%s names issuer %q, not %q", doc, meta.Issuer, issuer))
			continue
		}
		if err := CheckFetchURL(meta.JWKSURI); err != nil {
			errs = append(errs, fmt.Sprintf("%s: jwks_uri: %v", doc, err))
			continue
		}
		return meta.JWKSURI, nil
	}
	return "", fmt.Errorf("%w: discovery for issuer %s failed (%s); set auth.jwks_url", ErrUnavailable, issuer, strings.Join(errs, "; "))
}

// CheckFetchURL accepts an https URL, or an http URL on a loopback host (a local IdP, tests).
func CheckFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q uses http: tokens and keys must be fetched over https (http is accepted only for loopback hosts)", u.Redacted())
	default:
		return fmt.Errorf("%q must be an https URL", u.Redacted())
	}
}

func getJSON(ctx context.Context, c *http.Client, u string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocBytes))
		return fmt.Errorf("GET %s: status %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %v", u, err)
	}
	if len(body) > maxDocBytes {
		return fmt.Errorf("GET %s: document larger than %d bytes", u, maxDocBytes)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("GET %s: not valid JSON: %v", u, err)
	}
	return nil
}
