package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/identity/identitytest"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

type sqlIn struct {
	Query string `json:"query"`
}

// dashboardUpstream is a Streamable HTTP MCP server with a sql tool (the default policy asks before DROP
// TABLE) and a lookup tool whose description the test can change (which quarantines it).
func dashboardUpstream(t *testing.T) (url string, setLookup func(desc string)) {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "dash-upstream", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "sql", Description: "Run a SQL statement."},
		func(ctx context.Context, req *mcp.CallToolRequest, in sqlIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ran: " + in.Query}}}, nil, nil
		})
	setLookup = func(desc string) {
		mcp.AddTool(s, &mcp.Tool{Name: "lookup", Description: desc},
			func(ctx context.Context, req *mcp.CallToolRequest, in lookupIn) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "found " + in.Query}}}, nil, nil
			})
	}
	setLookup("Look something up.")
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(hs.Close)
	return hs.URL, setLookup
}

// browser starts headless Chromium (fresh profile) and returns a chromedp context for one tab.
func browser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	exe := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium %s: %v", exe, err)
	}
	return bctx
}

// screenshot saves the full page as test-artifacts/dashboard/NAME.png at the repository root.
func screenshot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		dir := filepath.Join("..", "..", "test-artifacts", "dashboard")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// TestDashboardInBrowser drives the dashboard of a real `mcpwarden serve` (the built binary, default policy,
// approvals on) with headless Chromium, while a go-sdk client calls a real upstream through the gateway:
// log in, watch a call appear live in the audit list and open its record, approve a parked DROP TABLE and
// see the agent's call complete, revoke the grant that approval created, approve a quarantined tool's
// changed definition, replay a candidate policy. Every page is saved as a screenshot in
// test-artifacts/dashboard/.
func TestDashboardInBrowser(t *testing.T) {
	bin := binary(t)
	upstream, setLookup := dashboardUpstream(t)
	const token = "browser-test-token-0123456789"
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	base := "http://" + addr
	cfgPath := writeConfig(t, "listen: "+addr+"\ndata_dir: "+t.TempDir()+"\n"+
		"servers:\n  - name: db\n    url: "+upstream+"\n"+
		"approval:\n  timeout: 45s\n"+
		"dashboard:\n  admin_token: "+token+"\n")
	gw := testenv.StartProcess(t, []string{bin, "serve", "--config", cfgPath}, nil)
	gw.WaitForPort(t, addr)

	cs := connectClient(t, base+"/mcp/db")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := cs.ListTools(ctx, nil); err != nil { // pins lookup and sql (trust on first use)
		t.Fatal(err)
	}
	callText := func(name string, args map[string]any) (string, error) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			return "", err
		}
		if res.IsError || len(res.Content) == 0 {
			return "", fmt.Errorf("tool error %+v", res.Content)
		}
		return res.Content[0].(*mcp.TextContent).Text, nil
	}
	if got, err := callText("lookup", map[string]any{"query": "first-call"}); err != nil || got != "found first-call" {
		t.Fatalf("lookup through the gateway = %q, %v", got, err)
	}

	b := browser(t, ctx)
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, step := range steps {
			sctx, cancel := context.WithTimeout(b, 20*time.Second)
			err := chromedp.Do(sctx, step)
			cancel()
			if err == nil {
				continue
			}
			what = fmt.Sprintf("%s (step %d)", what, i+1)
			// Show where the browser got stuck: its URL and text, and a screenshot.
			sctx, cancel = context.WithTimeout(b, 5*time.Second)
			defer cancel()
			page, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
			_ = chromedp.Do(sctx, screenshot("failed"))
			t.Fatalf("%s: %v\nthe browser shows:\n%s\ngateway output:\n%s", what, err, page, gw.Output())
		}
	}
	textOf := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	var text string

	// Log in: the overview redirects to the login form.
	run("log in",
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		screenshot("login"),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#kpi-pending")),
	)
	text = textOf("form.logout .who")
	if !strings.Contains(text, "dashboard:admin") {
		t.Errorf("after login the header says %q, want the principal dashboard:admin", text)
	}

	// Audit: a call made while the page is open appears by itself; its record shows arguments, decision,
	// result link and chain status.
	run("open the audit list", chromedp.Navigate(base+"/ui/audit"), chromedp.WaitVisible(chromedp.CSS("#audit-rows")))
	if got, err := callText("lookup", map[string]any{"query": "live-call"}); err != nil || got != "found live-call" {
		t.Fatalf("lookup through the gateway = %q, %v", got, err)
	}
	run("see the live call",
		chromedp.WaitVisible(chromedp.Search(`//tbody[@id="audit-rows"]/tr[contains(@class,"fresh")][td[6][.="lookup"]][td[3][contains(.,"request")]]`)),
		screenshot("audit"),
		chromedp.Click(chromedp.Search(`//tbody[@id="audit-rows"]/tr[contains(@class,"fresh")][td[6][.="lookup"]][td[3][contains(.,"request")]]/td[1]/a`)),
		chromedp.WaitVisible(chromedp.CSS("#arguments")),
	)
	text = textOf("#arguments")
	if !strings.Contains(text, "live-call") {
		t.Errorf("record detail arguments = %q, want the call's query", text)
	}
	run("record detail", screenshot("record"))
	text = textOf("#chain-status")
	if !strings.Contains(text, "Hash: ✓ intact") || !strings.Contains(text, "Link to previous record: ✓ intact") || !strings.Contains(text, "Response: record") {
		t.Errorf("chain status = %q, want hash and link intact and the response linked", text)
	}

	// Approvals: the default policy parks DROP TABLE; approving it in the browser releases the agent's call.
	type result struct {
		text string
		err  error
	}
	parked := make(chan result, 1)
	go func() {
		s, err := callText("sql", map[string]any{"query": "DROP TABLE users"})
		parked <- result{s, err}
	}()
	run("open the approvals page", chromedp.Navigate(base+"/ui/approvals"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("article.approval").length`))
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the parked DROP TABLE never appeared on the approvals page\n%s", gw.Output())
		}
		select {
		case r := <-parked:
			t.Fatalf("the DROP TABLE call ended before anyone decided: %+v", r)
		case <-time.After(200 * time.Millisecond):
		}
		run("reload", chromedp.Reload())
	}
	run("approve the parked call",
		screenshot("approvals-pending"),
	)
	text = textOf("article.approval")
	if !strings.Contains(text, "DROP TABLE users") || !strings.Contains(text, "default-ask-destructive") {
		t.Errorf("pending approval card = %q, want the arguments and the asking rule", text)
	}
	run("approve",
		chromedp.SetValue(chromedp.CSS("article.approval select[name=scope]"), "args"),
		chromedp.SendKeys(chromedp.CSS("article.approval .approve-form input[name=reason]"), "migration ticket 42"),
		chromedp.Click(chromedp.CSS("article.approval .approve-form button")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="flash"][contains(., "Approved")]`)),
	)
	select {
	case r := <-parked:
		if r.err != nil || r.text != "ran: DROP TABLE users" {
			t.Errorf("the agent's approved call = %+v, want the upstream's result", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the agent's call did not complete after the approval\n%s", gw.Output())
	}
	// The decision is recorded with the dashboard principal and the reason.
	out, errOut, code := cli(t, "approvals", "list", "--all", "--config", cfgPath, "--json")
	if code != 0 || !strings.Contains(out, `"decided_by": "dashboard:admin"`) || !strings.Contains(out, `"reason": "migration ticket 42"`) {
		t.Errorf("approvals list --all: exit %d, want the decision by dashboard:admin with its reason\n%s%s", code, out, errOut)
	}
	// The call's record shows the decision and the approval on its response.
	run("open the DROP TABLE record",
		chromedp.Navigate(base+"/ui/audit?tool=sql&method=tools/call"),
		chromedp.Click(chromedp.Search(`//tbody[@id="audit-rows"]/tr[td[3][contains(.,"request")]]/td[1]/a`)),
		chromedp.WaitVisible(chromedp.CSS("#response-decision")),
	)
	if got := textOf("#response-decision") + " " + textOf("#response-approval"); !strings.Contains(got, "ask") ||
		!strings.Contains(got, "default-ask-destructive") || !strings.Contains(got, "dashboard:admin") {
		t.Errorf("DROP TABLE record: response decision and approval = %q, want ask by default-ask-destructive, approved by dashboard:admin", got)
	}
	run("revoke the grant",
		chromedp.Navigate(base+"/ui/approvals"),
		chromedp.WaitVisible(chromedp.CSS("#grants tbody form button")),
		screenshot("approvals-grant"),
		chromedp.Click(chromedp.CSS("#grants tbody form button")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="flash"][contains(., "Revoked grant")]`)),
	)
	text = textOf("#grants tbody")
	if !strings.Contains(text, "No active grants") {
		t.Errorf("grants after revoking = %q, want none", text)
	}
	out, _, _ = cli(t, "approvals", "grants", "--all", "--config", cfgPath, "--json")
	if !strings.Contains(out, `"revoked_by": "dashboard:admin"`) {
		t.Errorf("approvals grants --all: the grant is not revoked by dashboard:admin\n%s", out)
	}

	// Servers & tools: a changed description is quarantined; approving its diff lists the tool again.
	setLookup("Look something up in the archive, including deleted rows.")
	lr, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range lr.Tools {
		if tl.Name == "lookup" {
			t.Fatalf("the changed lookup tool is listed (%q); want it quarantined", tl.Description)
		}
	}
	run("approve the quarantined tool",
		chromedp.Navigate(base+"/ui/servers"),
		chromedp.WaitVisible(chromedp.CSS("article.quarantined")),
		screenshot("servers-quarantine"),
	)
	text = textOf("article.quarantined pre.diff")
	if !strings.Contains(text, "- ") || !strings.Contains(text, "deleted rows") {
		t.Errorf("quarantine diff = %q, want the old line removed and the new description added", text)
	}
	run("approve the diff",
		chromedp.Click(chromedp.CSS("article.quarantined form button")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="flash"][contains(., "Approved tool")]`)),
		chromedp.WaitVisible(chromedp.CSS("#no-quarantine")),
		screenshot("servers"),
	)
	lr, err = cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tl := range lr.Tools {
		found = found || (tl.Name == "lookup" && strings.Contains(tl.Description, "deleted rows"))
	}
	if !found {
		t.Errorf("after approving the pin, tools/list = %+v, want lookup with its new description", lr.Tools)
	}

	// Policy: replaying a candidate that denies lookup reports the recorded lookups as newly denied.
	run("replay a candidate policy",
		chromedp.Navigate(base+"/ui/policy"),
		chromedp.WaitVisible(chromedp.CSS("#lint-result")),
		chromedp.SendKeys(chromedp.CSS("#candidate"), "default: allow\nrules:\n  - id: no-lookup\n    tools: [lookup]\n    effect: deny\n"),
		chromedp.Click(chromedp.CSS("form.replay button")),
		chromedp.WaitVisible(chromedp.CSS("#replay-result")),
		screenshot("policy"),
	)
	text = textOf("#replay-result")
	// The two lookups become denials; the DROP TABLE, asked then, is allowed by the candidate.
	if !strings.Contains(text, "no-lookup") || !strings.Contains(text, "2 newly denied, 0 newly asked, 1 newly allowed") {
		t.Errorf("replay result = %q, want 2 lookups newly denied by no-lookup and the DROP TABLE newly allowed", text)
	}

	run("fleet and overview",
		chromedp.Navigate(base+"/ui/fleet"),
		chromedp.WaitVisible(chromedp.CSS("main h1")),
		screenshot("fleet"),
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("svg.chart")),
		screenshot("overview"),
	)
	text = textOf("main")
	if !strings.Contains(text, "db.lookup") || !strings.Contains(text, "rug pull") && !strings.Contains(text, "tool calls in the last hour") {
		t.Errorf("overview = %q, want the top tools", text)
	}
}

// TestDashboardOIDCInBrowser: with dashboard.oidc, Chromium logs in through the gateway's OpenID Connect
// issuer. The dashboard is opened as http://localhost:PORT and the issuer runs on 127.0.0.1, so the
// issuer's redirect back is a cross-site navigation, as with a real identity provider: the session cookie
// (SameSite=Strict) must still arrive on the first dashboard page.
func TestDashboardOIDCInBrowser(t *testing.T) {
	bin := binary(t)
	upstream, _ := dashboardUpstream(t)
	is := identitytest.NewIssuer(t)
	is.LogIn(map[string]any{"sub": "alice", "email": "alice@example.com", "groups": []string{"mcp-admins"}})
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dash := fmt.Sprintf("http://localhost:%d/ui/", port)
	cfgPath := writeConfig(t, "listen: "+addr+"\ndata_dir: "+t.TempDir()+"\n"+
		"servers:\n  - name: db\n    url: "+upstream+"\n"+
		"auth:\n  issuer: "+is.URL+"\n  resource: http://"+addr+"\n"+
		"dashboard:\n  url: "+dash+"\n  oidc:\n    client_id: "+is.ClientID+"\n    client_secret: "+is.ClientSecret+
		"\n    allowed_groups: [mcp-admins]\n")
	gw := testenv.StartProcess(t, []string{bin, "serve", "--config", cfgPath}, nil)
	gw.WaitForPort(t, addr)

	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	b := browser(t, ctx)
	err := chromedp.Do(b,
		chromedp.Navigate(dash),
		chromedp.WaitVisible(chromedp.CSS("#sso")),
		chromedp.Click(chromedp.CSS("#sso")),
		chromedp.WaitVisible(chromedp.CSS("#kpi-pending")),
	)
	if err != nil {
		page, _ := chromedp.Run(b, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("OIDC login in the browser: %v\nthe browser shows:\n%s\ngateway output:\n%s", err, page, gw.Output())
	}
	who, err := chromedp.Run(b, chromedp.Text(chromedp.CSS("form.logout .who")))
	if err != nil || !strings.Contains(who, "oidc:alice@"+is.URL) {
		t.Errorf("after the OIDC login the header says %q (%v), want oidc:alice@%s", who, err, is.URL)
	}
}
