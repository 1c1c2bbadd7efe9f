package identity

import (
	"slices"
	"strings"
)

// ClaimMapping names the token claims a Principal is built from. A name may be a dotted path into nested
// objects (realm_access.roles for Keycloak); a claim whose own name contains dots (Auth0's namespaced
// "https://example.com/groups") is matched as written first.
type ClaimMapping struct {
	// Subject is the stable user id. Default "sub".
	Subject string
	// Email. Default "email".
	Email string
	// Name. Default "name".
	Name string
	// Groups are read from every listed claim and merged (a string or a list of strings each). Default
	// ["groups", "roles"].
	Groups []string
}

// WithDefaults returns m with empty fields set to their defaults.
func (m ClaimMapping) WithDefaults() ClaimMapping {
	if m.Subject == "" {
		m.Subject = "sub"
	}
	if m.Email == "" {
		m.Email = "email"
	}
	if m.Name == "" {
		m.Name = "name"
	}
	if m.Groups == nil {
		m.Groups = []string{"groups", "roles"}
	}
	return m
}

// principalFromClaims builds a principal from verified claims; method and issuer are set by the caller.
func (m ClaimMapping) principalFromClaims(claims map[string]any) *Principal {
	m = m.WithDefaults()
	p := &Principal{
		Subject: claimString(claims, m.Subject),
		Email:   claimString(claims, m.Email),
		Name:    claimString(claims, m.Name),
		Scopes:  tokenScopes(claims),
		Claims:  extraClaims(claims),
	}
	for _, g := range m.Groups {
		for _, v := range claimStrings(claims, g) {
			if !slices.Contains(p.Groups, v) {
				p.Groups = append(p.Groups, v)
			}
		}
	}
	return p
}

// lookupClaim finds name in claims: as written, else as a dotted path.
func lookupClaim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return nil, false
	}
	var cur any = claims
	for _, part := range parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func claimString(claims map[string]any, name string) string {
	v, _ := lookupClaim(claims, name)
	s, _ := v.(string)
	return s
}

// claimStrings reads a claim that is a string or a list of strings (other list items are skipped).
func claimStrings(claims map[string]any, name string) []string {
	v, _ := lookupClaim(claims, name)
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			if s, ok := item.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// tokenScopes reads the granted scopes: "scope" (RFC 8693/9068, space-separated) or "scp" (Okta, Entra ID:
// a list or a space-separated string).
func tokenScopes(claims map[string]any) []string {
	var out []string
	for _, name := range []string{"scope", "scp"} {
		for _, s := range claimStrings(claims, name) {
			for _, f := range strings.Fields(s) {
				if !slices.Contains(out, f) {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// registeredClaims are not copied into Principal.Claims: they are checked, not matched on.
var registeredClaims = map[string]bool{"exp": true, "nbf": true, "iat": true, "jti": true}

func extraClaims(claims map[string]any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		if !registeredClaims[k] {
			out[k] = v
		}
	}
	return out
}
