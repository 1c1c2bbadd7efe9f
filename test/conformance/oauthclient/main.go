// Command oauthclient is the client under test for the conformance suite's client-mode auth/* scenarios
// with mcpwarden as the OAuth client: it starts an in-process gateway whose only server is the scenario
// server (servers[].oauth, dynamic registration unless MCP_CONFORMANCE_CONTEXT names a pre-registered
// client), connects to the gateway with a go-sdk MCP client, and when the gateway answers with a consent
// link, plays the user's browser headlessly: opens the link, allows on the consent page (CSRF token and
// cookie included) and follows the redirects through the scenario's authorization server (which approves
// at once) back to the gateway's callback. It then lists the tools and calls test-tool, as the suite's
// reference clients do.
//
// Usage (the conformance CLI appends the server URL): oauthclient SERVER_URL
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/gateway"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: oauthclient SERVER_URL")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "oauthclient:", err)
		os.Exit(1)
	}
}

func run(serverURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "mcpwarden-oauthclient-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// Like the suite's reference clients: a client id metadata document URL where supported, else dynamic
	// registration, or the pre-registered client the scenario names.
	oauth := "{client_metadata_url: https://conformance-test.local/client-metadata.json}"
	var cc map[string]any
	_ = json.Unmarshal([]byte(os.Getenv("MCP_CONFORMANCE_CONTEXT")), &cc)
	if id, ok := cc["client_id"].(string); ok {
		secret, _ := cc["client_secret"].(string)
		b, _ := json.Marshal(map[string]string{"client_id": id, "client_secret": secret})
		oauth = string(b)
	}
	yml := fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nservers:\n  - name: s\n    url: %s\n    oauth: %s\n", dir, serverURL, oauth)
	path := filepath.Join(dir, "mcpwarden.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ha, err := gateway.BuildHTTPAuth(ctx, cfg, log)
	if err != nil {
		return err
	}
	g, err := gateway.New(cfg, gateway.Options{Logger: log, UpstreamHeaders: ha.UpstreamHeaders, UpstreamTransport: ha.UpstreamTransport})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	ha.UpstreamOAuth.SetBaseURL(base)
	if err := g.Start(ctx); err != nil {
		return err
	}
	srv := &http.Server{Handler: ha.Wrap(g.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		g.Close(context.Background())
	}()

	// Each step that the gateway answers with a consent link (first use, or a server asking for more
	// scope) is authorized and retried; the authorizations are bounded, as a user would give up.
	authorizations := 0
	withConsent := func(what string, step func() error) error {
		for {
			err := step()
			if err == nil {
				return nil
			}
			link := consentLink.FindString(err.Error())
			if link == "" || authorizations == maxAuthorizations {
				return fmt.Errorf("%s: %w", what, err)
			}
			authorizations++
			fmt.Fprintf(os.Stderr, "oauthclient: %s: the gateway asks for consent; authorizing headlessly\n", what)
			if err := authorize(ctx, base, link); err != nil {
				return err
			}
		}
	}
	var cs *mcp.ClientSession
	if err := withConsent("connect", func() (err error) { cs, err = connect(ctx, base+"/mcp/s"); return err }); err != nil {
		return err
	}
	defer cs.Close()
	if err := withConsent("tools/list", func() error { _, err := cs.ListTools(ctx, nil); return err }); err != nil {
		return err
	}
	return withConsent("tools/call test-tool", func() error {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test-tool", Arguments: map[string]any{}})
		if err == nil && res.IsError {
			err = fmt.Errorf("answered an error: %v", res.Content)
		}
		return err
	})
}

// maxAuthorizations bounds the consents one run gives (auth/scope-retry-limit checks that a client stops).
const maxAuthorizations = 3

var consentLink = regexp.MustCompile(`http://[^\s"']+/oauth/upstream/s/start\?ticket=[A-Za-z0-9_.-]+`)

func connect(ctx context.Context, endpoint string) (*mcp.ClientSession, error) {
	c := mcp.NewClient(&mcp.Implementation{Name: "mcpwarden-oauthclient", Version: "1"}, nil)
	return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, nil)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// authorize plays the user's browser: consent page, allow, redirects to the authorization server and back.
func authorize(ctx context.Context, base, link string) error {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		fmt.Fprintf(os.Stderr, "oauthclient: browser follows a redirect to %s%s\n", req.URL.Host, req.URL.Path)
		if os.Getenv("OAUTHCLIENT_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "  query: %s\n", req.URL.RawQuery)
		}
		return nil
	}}
	page, status, err := fetch(ctx, browser, http.MethodGet, link, nil)
	if err != nil {
		return err
	}
	m := csrfField.FindStringSubmatch(page)
	if status != http.StatusOK || m == nil {
		return fmt.Errorf("consent page: HTTP %d: %s", status, text(page))
	}
	page, status, err = fetch(ctx, browser, http.MethodPost, base+"/oauth/upstream/s/start",
		url.Values{"csrf": {m[1]}, "decision": {"allow"}})
	if err != nil {
		return err
	}
	if status != http.StatusOK || !strings.Contains(page, "Connected") {
		return fmt.Errorf("authorization did not complete: HTTP %d: %s", status, text(page))
	}
	return nil
}

func fetch(ctx context.Context, c *http.Client, method, u string, form url.Values) (string, int, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return "", 0, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), resp.StatusCode, nil
}

var tags = regexp.MustCompile(`<[^>]*>`)

func text(page string) string {
	return strings.Join(strings.Fields(tags.ReplaceAllString(page, " ")), " ")
}
