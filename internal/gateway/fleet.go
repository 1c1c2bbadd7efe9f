package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/discovery/fleet"
	"github.com/mcpwarden/mcpwarden/internal/identity"
)

// FleetPath is where `serve` mounts the fleet inventory API (`mcpwarden discover --report URL` posts here).
const FleetPath = "/api/v1/fleet/"

// APIKeysPath is the API key file of cfg: auth.api_keys_file, or data_dir/apikeys.json.
func APIKeysPath(cfg *config.Config) string {
	if cfg.Auth != nil && cfg.Auth.APIKeysFile != "" {
		return cfg.Auth.APIKeysFile
	}
	return filepath.Join(cfg.DataDir, config.APIKeysFile)
}

// OpenFleetAPI opens the fleet inventory (data_dir/fleet.db) and returns its HTTP API. Reporters and readers
// authenticate with a gateway API key (`mcpwarden apikey create`) as `Authorization: Bearer KEY`; a
// gateway without keys answers 401 to everyone. The returned close function closes the store.
func OpenFleetAPI(ctx context.Context, cfg *config.Config) (http.Handler, func() error, error) {
	keys, err := identity.NewFileAPIKeyStore(APIKeysPath(cfg))
	if err != nil {
		return nil, nil, fmt.Errorf("fleet API: API keys: %w", err)
	}
	store, err := fleet.NewSQLiteStore(ctx, filepath.Join(cfg.DataDir, "fleet.db"))
	if err != nil {
		return nil, nil, fmt.Errorf("fleet API: %w", err)
	}
	return fleet.NewHandler(store, apiKeyAuthenticator{keys}), store.Close, nil
}

// apiKeyAuthenticator adapts the gateway's API keys to the fleet handler.
type apiKeyAuthenticator struct{ keys identity.APIKeyStore }

func (a apiKeyAuthenticator) Authenticate(r *http.Request) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", errors.New("missing API key: send Authorization: Bearer KEY (create one with mcpwarden apikey create)")
	}
	p, err := a.keys.Authenticate(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		return "", err
	}
	return p.Subject, nil
}

var _ fleet.Authenticator = apiKeyAuthenticator{}
