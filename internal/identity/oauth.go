package identity

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TokenError is a token the gateway refuses (RFC 6750 invalid_token): the client should get a new one.
// Reason is safe to show to the client and to log; it never contains the token.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return "invalid token: " + e.Reason }

// maxReason bounds a refusal reason: it may quote attacker-chosen claim values, and it is sent back in a
// response header and logged.
const maxReason = 300

func invalid(format string, args ...any) error {
	r := strings.ToValidUTF8(fmt.Sprintf(format, args...), "?")
	if len(r) > maxReason {
		r = strings.ToValidUTF8(r[:maxReason], "") + "…"
	}
	return &TokenError{Reason: r}
}

// DefaultAlgorithms are the JWS algorithms accepted when none are configured: asymmetric only.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// asymmetric lists every algorithm that may be configured. HS* is absent on purpose: a shared-secret
// algorithm verified with a public key is the classic key-confusion attack, and "none" is never a signature.
var asymmetric = map[string]jose.SignatureAlgorithm{
	"RS256": jose.RS256, "RS384": jose.RS384, "RS512": jose.RS512,
	"PS256": jose.PS256, "PS384": jose.PS384, "PS512": jose.PS512,
	"ES256": jose.ES256, "ES384": jose.ES384, "ES512": jose.ES512,
	"EdDSA": jose.EdDSA,
}

// CheckAlgorithms reports the first configured algorithm that is not an accepted asymmetric JWS algorithm.
func CheckAlgorithms(algs []string) error {
	for _, a := range algs {
		if _, ok := asymmetric[a]; !ok {
			return fmt.Errorf("algorithm %q is not accepted: use asymmetric JWS algorithms (%s); none and HS* are never accepted", a, strings.Join(DefaultAlgorithms, ", "))
		}
	}
	return nil
}

// JWTOptions configures a JWTValidator.
type JWTOptions struct {
	// Issuer is the exact "iss" value tokens must carry. Required.
	Issuer string
	// Keys is the issuer's key set. Required.
	Keys *JWKS
	// Algorithms allowed in the token header. Default DefaultAlgorithms.
	Algorithms []string
	// ClockSkew is the leeway for exp, nbf and iat. Default 60s.
	ClockSkew time.Duration
	// Claims maps claims to the Principal.
	Claims ClaimMapping
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// JWTValidator validates JWT access tokens: signature by a key of the issuer's JWKS, an allowed algorithm,
// issuer, audience, and exp/nbf/iat.
type JWTValidator struct {
	opts JWTOptions
	algs []jose.SignatureAlgorithm
}

// NewJWTValidator checks opts and returns a validator.
func NewJWTValidator(opts JWTOptions) (*JWTValidator, error) {
	if opts.Issuer == "" {
		return nil, errors.New("JWT validation needs the issuer (auth.issuer)")
	}
	if opts.Keys == nil {
		return nil, errors.New("JWT validation needs a key set")
	}
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = DefaultAlgorithms
	}
	if err := CheckAlgorithms(opts.Algorithms); err != nil {
		return nil, err
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = 60 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Claims = opts.Claims.WithDefaults()
	v := &JWTValidator{opts: opts}
	for _, a := range opts.Algorithms {
		v.algs = append(v.algs, asymmetric[a])
	}
	return v, nil
}

// Validate checks token and returns its principal. audiences are the values of which "aud" must contain at
// least one. A refused token is a *TokenError; a failure to fetch keys wraps ErrUnavailable.
func (v *JWTValidator) Validate(ctx context.Context, token string, audiences []string) (*Principal, error) {
	tok, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		if alg, ok := peekAlg(token); ok && !slices.Contains(v.opts.Algorithms, alg) {
			return nil, invalid("signing algorithm %q is not accepted", alg)
		}
		return nil, invalid("not a signed JWT")
	}
	if len(tok.Headers) != 1 {
		return nil, invalid("exactly one signature is required")
	}
	h := tok.Headers[0]
	keys, err := v.opts.Keys.Key(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, invalid("signed with an unknown key (kid %q)", h.KeyID)
	}
	var std jwt.Claims
	var raw map[string]any
	verified := false
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue // the key is bound to another algorithm
		}
		if err := tok.Claims(k.Key, &std, &raw); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, invalid("signature verification failed")
	}
	if std.Expiry == nil {
		return nil, invalid("the token has no exp claim")
	}
	exp := jwt.Expected{Issuer: v.opts.Issuer, AnyAudience: audiences, Time: v.opts.Now()}
	if err := std.ValidateWithLeeway(exp, v.opts.ClockSkew); err != nil {
		switch {
		case errors.Is(err, jwt.ErrInvalidIssuer):
			return nil, invalid("issuer %q is not the configured issuer", std.Issuer)
		case errors.Is(err, jwt.ErrInvalidAudience):
			return nil, invalid("audience %q does not include this resource (%s)", []string(std.Audience), strings.Join(audiences, ", "))
		case errors.Is(err, jwt.ErrExpired):
			return nil, invalid("the token expired at %s", std.Expiry.Time().UTC().Format(time.RFC3339))
		case errors.Is(err, jwt.ErrNotValidYet):
			return nil, invalid("the token is not valid yet (nbf)")
		case errors.Is(err, jwt.ErrIssuedInTheFuture):
			return nil, invalid("the token was issued in the future (iat)")
		}
		return nil, invalid("%v", err)
	}
	p := v.opts.Claims.principalFromClaims(raw)
	if p.Subject == "" {
		return nil, invalid("the token has no %q claim to identify its subject", v.opts.Claims.Subject)
	}
	p.AuthMethod = MethodOIDC
	p.Issuer = std.Issuer
	return p, nil
}

// peekAlg reads the alg of a compact JWS header without trusting it, to say why a token was refused.
func peekAlg(token string) (string, bool) {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	dec, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(dec, &h) != nil || h.Alg == "" {
		return "", false
	}
	if len(h.Alg) > 32 {
		h.Alg = h.Alg[:32]
	}
	return h.Alg, true
}

// IntrospectionOptions configures RFC 7662 token introspection, for opaque (non-JWT) access tokens.
type IntrospectionOptions struct {
	// URL is the introspection endpoint (https, or http on a loopback host).
	URL string
	// ClientID and ClientSecret authenticate the gateway to the endpoint (HTTP Basic).
	ClientID, ClientSecret string
	// Issuer, when set, must equal the response's "iss" when it has one.
	Issuer string
	// CacheTTL is how long an active result is reused (never past the token's exp). Default 60s.
	// Inactive results are not cached, so a revocation is seen on the next request.
	CacheTTL time.Duration
	// Claims maps the response's claims to the Principal.
	Claims ClaimMapping
	// Client sends the requests. Default: 10s timeout, no redirects.
	Client *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Introspector validates opaque tokens with the authorization server's introspection endpoint.
type Introspector struct {
	opts IntrospectionOptions

	mu    sync.Mutex
	cache map[[32]byte]introspected
	calls int
}

type introspected struct {
	claims map[string]any
	until  time.Time
}

// maxIntrospectionCache bounds the cache; when full it is emptied (cheap, and safe: entries are only
// an optimisation).
const maxIntrospectionCache = 10000

// NewIntrospector checks opts and returns an introspector.
func NewIntrospector(opts IntrospectionOptions) (*Introspector, error) {
	if err := CheckFetchURL(opts.URL); err != nil {
		return nil, fmt.Errorf("introspection url: %w", err)
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 60 * time.Second
	}
	if opts.Client == nil {
		opts.Client = defaultClient()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Claims = opts.Claims.WithDefaults()
	return &Introspector{opts: opts, cache: map[[32]byte]introspected{}}, nil
}

// Calls returns how many introspection requests were sent (for tests and metrics).
func (in *Introspector) Calls() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls
}

// Validate introspects token and returns its principal; audiences as for JWTValidator.Validate (checked
// when the response carries "aud").
func (in *Introspector) Validate(ctx context.Context, token string, audiences []string) (*Principal, error) {
	key := sha256.Sum256([]byte(token))
	now := in.opts.Now()
	in.mu.Lock()
	c, ok := in.cache[key]
	in.mu.Unlock()
	if !ok || !now.Before(c.until) {
		claims, err := in.introspect(ctx, token)
		if err != nil {
			return nil, err
		}
		until := now.Add(in.opts.CacheTTL)
		if exp, ok := claims["exp"].(float64); ok && time.Unix(int64(exp), 0).Before(until) {
			until = time.Unix(int64(exp), 0)
		}
		c = introspected{claims: claims, until: until}
		in.mu.Lock()
		if len(in.cache) >= maxIntrospectionCache {
			clear(in.cache)
		}
		in.cache[key] = c
		in.mu.Unlock()
	}
	claims := c.claims
	if exp, ok := claims["exp"].(float64); ok && now.After(time.Unix(int64(exp), 0)) {
		return nil, invalid("the token expired")
	}
	iss, _ := claims["iss"].(string)
	if in.opts.Issuer != "" && iss != "" && iss != in.opts.Issuer {
		return nil, invalid("issuer %q is not the configured issuer", iss)
	}
	if aud := claimStrings(claims, "aud"); len(aud) > 0 && !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(audiences, a) }) {
		return nil, invalid("audience %q does not include this resource (%s)", aud, strings.Join(audiences, ", "))
	}
	p := in.opts.Claims.principalFromClaims(claims)
	if p.Subject == "" {
		p.Subject = claimString(claims, "username")
	}
	if p.Subject == "" {
		return nil, invalid("the introspection response has no %q claim to identify the subject", in.opts.Claims.Subject)
	}
	p.AuthMethod = MethodOIDC
	p.Issuer = iss
	if p.Issuer == "" {
		p.Issuer = in.opts.Issuer
	}
	return p, nil
}

func (in *Introspector) introspect(ctx context.Context, token string) (map[string]any, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.opts.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: introspection: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.opts.ClientID != "" {
		req.SetBasicAuth(url.QueryEscape(in.opts.ClientID), url.QueryEscape(in.opts.ClientSecret))
	}
	in.mu.Lock()
	in.calls++
	in.mu.Unlock()
	resp, err := in.opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection %s: %v", ErrUnavailable, in.opts.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: introspection %s: %v", ErrUnavailable, in.opts.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: introspection %s: status %s (check auth.introspection client_id/client_secret)", ErrUnavailable, in.opts.URL, resp.Status)
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		return nil, fmt.Errorf("%w: introspection %s: response is not a JSON object", ErrUnavailable, in.opts.URL)
	}
	if active, _ := claims["active"].(bool); !active {
		return nil, invalid("the token is not active")
	}
	return claims, nil
}
