package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// startApprovalGateway starts a gateway with the default policy, one "pol" stdio server and the given
// approval: section, and opens the approval store a second time, as the CLI (another process) would.
func startApprovalGateway(t *testing.T, approvalYAML string) (string, *approval.Store) {
	t.Helper()
	g := startStaged(t, "servers:\n"+stdioServerYAML("pol")+approvalYAML, nil)
	st, err := approval.OpenStore(t.Context(), g.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return g.URL, st
}

func serveGateway(t testing.TB, g *Gateway, closeStages func() error) string {
	t.Helper()
	ts := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx) // ends sessions and their streams first, so the server has no open requests left
		ts.Close()
		if err := closeStages(); err != nil {
			t.Errorf("closing stages: %v", err)
		}
	})
	return ts.URL
}

// pending waits until an approval for the query is pending in st (a parked call) and returns it.
func pending(t *testing.T, st *approval.Store, query string) *approval.Approval {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		list, err := st.List(t.Context(), approval.StatusPending)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range list {
			if strings.Contains(string(a.Call.Arguments), query) {
				return a
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no pending approval for %q", query)
	return nil
}

// asyncCall makes a call in the background; the channel yields its outcome.
func asyncCall(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() { ch <- call(t, cs, tool, args) }()
	return ch
}

var bob = approval.Approver{ID: "oidc:bob@issuer", User: "bob", Groups: []string{"dba"}}

// TestApprovalE2E: a DROP TABLE under the default policy is parked; a decision made through a second
// handle on the store (as the CLI would) releases it: approve forwards it and the agent gets the real
// result, deny returns the denial naming the approval and the reason; an args grant lets the identical
// call through without asking and still asks for other arguments.
func TestApprovalE2E(t *testing.T) {
	url, st := startApprovalGateway(t, "approval:\n  timeout: 1m\n")
	for _, c := range []struct{ endpoint, version, prefix, tag string }{
		{"/mcp/pol", legacy, "", "legacy"},
		{"/mcp/pol", "", "", "modern"},
		{"/mcp", legacy, "pol.", "aggregate"},
	} {
		t.Run(c.tag, func(t *testing.T) {
			cs := connect(t, url+c.endpoint, c.version, &recorder{})
			tag := c.tag
			call := func(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) outcome {
				t.Helper()
				return callOutcome(t, cs, &mcp.CallToolParams{Name: c.prefix + tool, Arguments: args})
			}
			asyncCall := func(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) <-chan outcome {
				ch := make(chan outcome, 1)
				go func() { ch <- call(t, cs, tool, args) }()
				return ch
			}

			q := "DROP TABLE approve_" + tag
			res := asyncCall(t, cs, "sql", map[string]any{"query": q})
			a := pending(t, st, q)
			if a.Call.Rule != "default-ask-destructive" || a.Call.Tool != "sql" || a.Call.Server != "pol" {
				t.Errorf("pending approval = %+v", a.Call)
			}
			if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: bob}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(outcome{Text: "ran: " + q}, <-res); diff != "" {
				t.Errorf("approved call (-want +got):\n%s", diff)
			}

			q = "DROP TABLE deny_" + tag
			res = asyncCall(t, cs, "sql", map[string]any{"query": q})
			a = pending(t, st, q)
			if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{By: bob, Reason: "not on a Friday"}); err != nil {
				t.Fatal(err)
			}
			got := <-res
			if got.Code != jsonrpc.CodePolicyDenied || !strings.Contains(got.Err, a.ID) || !strings.Contains(got.Err, "not on a Friday") {
				t.Errorf("denied call = %+v, want code %d naming %s and the reason", got, jsonrpc.CodePolicyDenied, a.ID)
			}

			q = "DROP TABLE grant_" + tag
			res = asyncCall(t, cs, "sql", map[string]any{"query": q})
			a = pending(t, st, q)
			if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: bob, Scope: approval.ScopeArgs, TTL: 10 * time.Minute}); err != nil {
				t.Fatal(err)
			}
			if got := <-res; got.Text != "ran: "+q {
				t.Fatalf("approved call = %+v", got)
			}
			for range 2 { // the grant: no new approval, straight through
				if got := call(t, cs, "sql", map[string]any{"query": q}); got.Text != "ran: "+q {
					t.Errorf("call under an args grant = %+v", got)
				}
			}
			list, _ := st.List(t.Context(), approval.StatusPending)
			if len(list) != 0 {
				t.Errorf("pending after granted calls: %+v", list)
			}
			other := q + " CASCADE"
			res = asyncCall(t, cs, "sql", map[string]any{"query": other})
			a = pending(t, st, other) // different arguments: asks again
			if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{By: bob}); err != nil {
				t.Fatal(err)
			}
			if got := <-res; got.Code != jsonrpc.CodePolicyDenied {
				t.Errorf("different arguments = %+v, want a new approval (denied)", got)
			}
			grants, err := st.Grants(t.Context(), false)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range grants {
				if g.ApprovalID != "" && g.Scope == approval.ScopeArgs && g.Uses != 3 {
					t.Errorf("grant %s uses = %d, want 3 (the approved call and two retries)", g.ID, g.Uses)
				}
			}
		})
	}
}

// TestApprovalTimeoutE2E: nobody decides in time: the agent gets an error that names the approval and says
// how to retry; after approval the identical retry passes through the grant, once.
func TestApprovalTimeoutE2E(t *testing.T) {
	url, st := startApprovalGateway(t, "approval:\n  timeout: 300ms\n")
	cs := connect(t, url+"/mcp/pol", legacy, &recorder{})
	q := "DROP TABLE slow"
	got := call(t, cs, "sql", map[string]any{"query": q})
	list, err := st.List(t.Context(), approval.StatusPending)
	if err != nil || len(list) != 1 {
		t.Fatalf("pending = %v, %v; want one", list, err)
	}
	a := list[0]
	if got.Code != jsonrpc.CodeApprovalRequired || !strings.Contains(got.Err, a.ID) ||
		!strings.Contains(got.Err, "mcpwarden approvals approve "+a.ID) || !strings.Contains(got.Err, "identical call again") {
		t.Fatalf("timed-out call = %+v, want %d naming %s and how to retry", got, jsonrpc.CodeApprovalRequired, a.ID)
	}
	if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: bob}); err != nil {
		t.Fatal(err)
	}
	if got := call(t, cs, "sql", map[string]any{"query": q}); got.Text != "ran: "+q {
		t.Errorf("retry after approval = %+v", got)
	}
	if got := call(t, cs, "sql", map[string]any{"query": q}); got.Code != jsonrpc.CodeApprovalRequired {
		t.Errorf("second retry = %+v, want a new approval (the once grant is used up)", got)
	}
}

// TestApprovalFourEyesE2E: the webhook is told of the parked call; under a four-eyes rule the caller cannot
// approve its own call; another approver from the required group can.
func TestApprovalFourEyesE2E(t *testing.T) {
	hooked := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(approval.SignatureHeader) != approval.Sign("hush", r.Header.Get(approval.TimestampHeader), body) {
			t.Errorf("webhook signature does not verify")
		}
		hooked <- string(body)
	}))
	t.Cleanup(hook.Close)
	url, st := startApprovalGateway(t, "approval:\n  webhook: {url: "+hook.URL+", secret: hush}\n  rules:\n    - rule: default-ask-destructive\n      four_eyes: true\n      approvers: [dba]\n")
	cs := connect(t, url+"/mcp/pol", legacy, &recorder{})
	q := "DROP TABLE audited"
	res := asyncCall(t, cs, "sql", map[string]any{"query": q})
	a := pending(t, st, q)
	if body := <-hooked; !strings.Contains(body, a.ID) {
		t.Errorf("webhook body %s does not name %s", body, a.ID)
	}
	me := identity.Local()
	self := approval.Approver{ID: me.ID(), User: me.Subject, Groups: []string{"dba"}}
	var refused *approval.RefusedError
	if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: self}); !errors.As(err, &refused) || !strings.Contains(err.Error(), "four eyes") {
		t.Errorf("self-approval: err = %v, want a four-eyes refusal", err)
	}
	outsider := approval.Approver{ID: "oidc:eve@issuer", User: "eve", Groups: []string{"dev"}}
	if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: outsider}); !errors.As(err, &refused) {
		t.Errorf("approval by a non-member: err = %v, want a refusal", err)
	}
	if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: bob}); err != nil {
		t.Fatal(err)
	}
	if got := <-res; got.Text != "ran: "+q {
		t.Errorf("call approved by another approver = %+v", got)
	}
}

// TestApprovalInBandE2E: a go-sdk client that implements elicitation approves its own call where the rule
// permits self-approval, and is never asked where the rule requires another approver.
func TestApprovalInBandE2E(t *testing.T) {
	var asked atomic.Int32
	client := mcp.NewClient(&mcp.Implementation{Name: "approver-client", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			asked.Add(1)
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": true}}, nil
		},
	})
	connectWith := func(url string) *mcp.ClientSession {
		cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url + "/mcp/pol"}, &mcp.ClientSessionOptions{ProtocolVersion: legacy})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		return cs
	}

	url, st := startApprovalGateway(t, "approval:\n  rules:\n    - rule: default-ask-destructive\n      self_approve: true\n")
	q := "DROP TABLE mine"
	if got := call(t, connectWith(url), "sql", map[string]any{"query": q}); got.Text != "ran: "+q {
		t.Errorf("self-approved call = %+v", got)
	}
	list, _ := st.List(t.Context(), approval.StatusApproved)
	if len(list) != 1 || list[0].DecidedBy != identity.Local().ID() {
		t.Errorf("approved = %+v, want one decided by the caller", list)
	}
	if asked.Load() != 1 {
		t.Errorf("elicitations = %d, want 1", asked.Load())
	}

	// The aggregate endpoint asks the same way.
	agg, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: legacy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agg.Close() })
	if got := call(t, agg, "pol.sql", map[string]any{"query": "DROP TABLE ours"}); got.Text != "ran: DROP TABLE ours" || asked.Load() != 2 {
		t.Errorf("self-approved call on /mcp = %+v after %d questions", got, asked.Load())
	}

	url, _ = startApprovalGateway(t, "approval:\n  timeout: 300ms\n  rules:\n    - rule: default-ask-destructive\n      four_eyes: true\n")
	if got := call(t, connectWith(url), "sql", map[string]any{"query": q}); got.Code != jsonrpc.CodeApprovalRequired {
		t.Errorf("four-eyes call = %+v, want it to wait for another approver and time out", got)
	}
	if asked.Load() != 2 {
		t.Errorf("elicitations = %d, want still 2: a four-eyes rule never asks the caller", asked.Load())
	}
}

// TestApprovalKeepAliveE2E: a parked request that carried a progressToken receives progress notifications
// while it waits (2025 era, and 2026-07-28 on the request's own stream), and the approved call then returns
// its real result.
func TestApprovalKeepAliveE2E(t *testing.T) {
	dir := t.TempDir()
	yml := "listen: 127.0.0.1:0\ndata_dir: " + dir + "\nservers:\n" + stdioServerYAML("pol") + "approval: {}\n"
	path := filepath.Join(dir, "mcpwarden.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	stages, closeStages, err := BuildStages(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	st, err := approval.OpenStore(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	bc := approval.BrokerConfigFrom(cfg.Approval, st)
	bc.Poll, bc.KeepAlive = 10*time.Millisecond, 10*time.Millisecond // keep-alive every tick of the test
	broker, err := approval.NewBroker(bc)
	if err != nil {
		t.Fatal(err)
	}
	if stages.Approval, err = NewApprovalStage(ApprovalStageConfig{Broker: broker, Logger: log}); err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Logger: log, Stages: stages})
	if err != nil {
		t.Fatal(err)
	}
	url := serveGateway(t, g, closeStages)
	for _, version := range []string{legacy, "2026-07-28"} {
		t.Run(version, func(t *testing.T) { keepAliveCase(t, url, st, version) })
	}
}

// keepAliveCase parks one call that carries a progressToken and waits for two keep-alive progress
// notifications before approving it.
func keepAliveCase(t *testing.T, url string, st *approval.Store, version string) {
	rec := &recorder{}
	cs := connect(t, url+"/mcp/pol", version, rec)
	q := "DROP TABLE kept_alive_" + strings.ReplaceAll(version, "-", "_")
	res := make(chan outcome, 1)
	go func() {
		res <- callOutcome(t, cs, &mcp.CallToolParams{Name: "sql", Arguments: map[string]any{"query": q}, Meta: mcp.Meta{"progressToken": "tok-1"}})
	}()
	a := pending(t, st, q)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rec.mu.Lock()
		n := len(rec.progress)
		rec.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress notifications while parked = %d, want at least 2", n)
		}
	}
	if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: bob}); err != nil {
		t.Fatal(err)
	}
	if got := <-res; got.Text != "ran: "+q {
		t.Errorf("call after keep-alive = %+v", got)
	}
}

// TestApprovalInBandWithdrawnE2E: when the approval is decided out of band while the client's in-band
// question is open, the gateway withdraws the question (notifications/cancelled) and the call goes on.
func TestApprovalInBandWithdrawnE2E(t *testing.T) {
	asked, withdrawn := make(chan struct{}, 1), make(chan struct{}, 1)
	client := mcp.NewClient(&mcp.Implementation{Name: "slow-approver", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			asked <- struct{}{}
			<-ctx.Done() // a human who never answers
			withdrawn <- struct{}{}
			return nil, ctx.Err()
		},
	})
	url, st := startApprovalGateway(t, "approval:\n  rules:\n    - rule: default-ask-destructive\n      self_approve: true\n")
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url + "/mcp/pol"}, &mcp.ClientSessionOptions{ProtocolVersion: legacy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	q := "DROP TABLE theirs"
	res := asyncCall(t, cs, "sql", map[string]any{"query": q})
	<-asked
	a := pending(t, st, q)
	if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: bob}); err != nil {
		t.Fatal(err)
	}
	if got := <-res; got.Text != "ran: "+q {
		t.Errorf("call approved out of band = %+v", got)
	}
	select {
	case <-withdrawn:
	case <-time.After(20 * time.Second):
		t.Error("the open elicitation was not withdrawn after the out-of-band decision")
	}
}

// TestApprovalPostgresE2E: with the PostgreSQL store a parked call is released by a decision made through
// another connection (LISTEN/NOTIFY, with polling as the fallback).
func TestApprovalPostgresE2E(t *testing.T) {
	url, st := startApprovalGateway(t, "audit:\n  store: postgres\n  postgres_dsn: "+testenv.PostgresDSN(t)+"\napproval: {}\n")
	cs := connect(t, url+"/mcp/pol", legacy, &recorder{})
	q := "DROP TABLE pg"
	res := asyncCall(t, cs, "sql", map[string]any{"query": q})
	a := pending(t, st, q)
	if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: bob}); err != nil {
		t.Fatal(err)
	}
	if got := <-res; got.Text != "ran: "+q {
		t.Errorf("approved call = %+v", got)
	}
}

// TestApprovalInBandMRTRE2E: a 2026-07-28 client has no server→client requests; the parked call comes back
// as an input_required result whose elicitation asks the caller, and the client's retry carries the
// answer. Approved → the call runs; declined → denied; a four-eyes rule never asks the caller; a retry
// whose requestState belongs to another call is refused.
func TestApprovalInBandMRTRE2E(t *testing.T) {
	const modern = "2026-07-28"
	var asked atomic.Int32
	answer := "approve"
	client := mcp.NewClient(&mcp.Implementation{Name: "approver-client", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			asked.Add(1)
			if !strings.Contains(req.Params.Message, "approve sql on pol") {
				t.Errorf("question = %q", req.Params.Message)
			}
			if answer == "decline" {
				return &mcp.ElicitResult{Action: "decline"}, nil
			}
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": true}}, nil
		},
	})
	connectWith := func(c *mcp.Client, url string) *mcp.ClientSession {
		cs, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url + "/mcp/pol"}, &mcp.ClientSessionOptions{ProtocolVersion: modern})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		return cs
	}

	url, st := startApprovalGateway(t, "approval:\n  rules:\n    - rule: default-ask-destructive\n      self_approve: true\n")
	cs := connectWith(client, url)
	q := "DROP TABLE mine"
	if got := call(t, cs, "sql", map[string]any{"query": q}); got.Text != "ran: "+q {
		t.Fatalf("self-approved 2026 call = %+v", got)
	}
	list, _ := st.List(t.Context(), approval.StatusApproved)
	if len(list) != 1 || list[0].DecidedBy != identity.Local().ID() || asked.Load() != 1 {
		t.Fatalf("approved = %+v after %d questions, want one decided in-band by the caller", list, asked.Load())
	}

	answer = "decline"
	if got := call(t, cs, "sql", map[string]any{"query": "DROP TABLE yours"}); got.Code != jsonrpc.CodePolicyDenied || !strings.Contains(got.Err, "declined in-band") {
		t.Errorf("declined 2026 call = %+v", got)
	}

	// A retry that carries another call's state: refused, never forwarded.
	raw := mcp.NewClient(&mcp.Implementation{Name: "raw", Version: "1"}, &mcp.ClientOptions{MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) { return nil, nil }})
	rcs := connectWith(raw, url)
	res, err := rcs.CallTool(t.Context(), &mcp.CallToolParams{Name: "sql", Arguments: map[string]any{"query": "DROP TABLE other"}})
	if err != nil || res.RequestState == "" || len(res.InputRequests) != 1 {
		t.Fatalf("first round = %+v, %v; want an input_required result", res, err)
	}
	_, err = rcs.CallTool(t.Context(), &mcp.CallToolParams{Name: "sql", Arguments: map[string]any{"query": "DROP TABLE everything"},
		RequestState: res.RequestState, InputResponses: mcp.InputResponseMap{"mcpwarden-approval": &mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": true}}}})
	if err == nil || !strings.Contains(err.Error(), "does not belong to this call") {
		t.Errorf("retry with another call's state: %v", err)
	}

	asked.Store(0)
	url, _ = startApprovalGateway(t, "approval:\n  timeout: 300ms\n  rules:\n    - rule: default-ask-destructive\n      four_eyes: true\n")
	if got := call(t, connectWith(client, url), "sql", map[string]any{"query": q}); got.Code != jsonrpc.CodeApprovalRequired || asked.Load() != 0 {
		t.Errorf("four-eyes 2026 call = %+v after %d questions; want a timeout without asking the caller", got, asked.Load())
	}
	// Self-approval limited to approver groups the caller is not in: never asked, and its answer, forced
	// into a retry, is not recorded.
	url, st = startApprovalGateway(t, "approval:\n  timeout: 300ms\n  rules:\n    - rule: default-ask-destructive\n      self_approve: true\n      approvers: [mcpwarden-test-no-such-group]\n")
	if got := call(t, connectWith(client, url), "sql", map[string]any{"query": q}); got.Code != jsonrpc.CodeApprovalRequired || asked.Load() != 0 {
		t.Errorf("self-approval outside the approver groups: %+v after %d questions; want a timeout without asking the caller", got, asked.Load())
	}
	a := pending(t, st, q)
	rcs = connectWith(raw, url)
	_, err = rcs.CallTool(t.Context(), &mcp.CallToolParams{Name: "sql", Arguments: map[string]any{"query": q}, RequestState: "mcpwarden-approval:" + a.ID,
		InputResponses: mcp.InputResponseMap{"mcpwarden-approval": &mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": true}}}})
	if cur, _ := st.Get(t.Context(), a.ID); err == nil || cur.Status != approval.StatusPending {
		t.Errorf("forced in-band answer outside the approver groups: err %v, approval %s; want it refused and still pending", err, cur.Status)
	}
}

// TestApprovalReplayE2E: an approval releases one call. A client that sends the gateway's own requestState
// ("mcpwarden-approval:ID") again after the call it was approved for ran — with a once grant used up, or
// a grant revoked — is not forwarded: the retry goes the way of any call (grants, else a new approval).
func TestApprovalReplayE2E(t *testing.T) {
	url, st := startApprovalGateway(t, "approval:\n  timeout: 300ms\n")
	raw := mcp.NewClient(&mcp.Implementation{Name: "raw", Version: "1"}, &mcp.ClientOptions{MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true}})
	cs, err := raw.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url + "/mcp/pol"}, &mcp.ClientSessionOptions{ProtocolVersion: "2026-07-28"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	for _, c := range []struct {
		scope  approval.Scope
		revoke bool
	}{{approval.ScopeOnce, false}, {approval.ScopeUser, true}} {
		q := "DROP TABLE replay_" + string(c.scope)
		withState := func(state string) outcome {
			return callOutcome(t, cs, &mcp.CallToolParams{Name: "sql", Arguments: map[string]any{"query": q}, RequestState: state})
		}
		if got := withState(""); got.Code != jsonrpc.CodeApprovalRequired {
			t.Fatalf("%s: first call = %+v, want a timeout waiting for approval", c.scope, got)
		}
		a := pending(t, st, q)
		dec, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: bob, Scope: c.scope})
		if err != nil {
			t.Fatal(err)
		}
		state := "mcpwarden-approval:" + a.ID
		if got := withState(state); got.Text != "ran: "+q {
			t.Fatalf("%s: retry after approval = %+v, want it forwarded", c.scope, got)
		}
		if c.revoke {
			if err := st.Revoke(t.Context(), dec.GrantID, "carol"); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 2 {
			if got := withState(state); got.Code != jsonrpc.CodeApprovalRequired || got.Text != "" {
				t.Errorf("%s: replay %d of approval %s = %+v, want it asked anew, never forwarded", c.scope, i, a.ID, got)
			}
		}
		if again := pending(t, st, q); again.ID == a.ID {
			t.Errorf("%s: the replay was not parked as a new approval", c.scope)
		}
	}
}

// TestApprovalStateBoundToExactArgumentsE2E: a retry that carries an approval's requestState must be the very
// call the approval shows, argument for argument as the server reads them: numbers equal only as float64
// (9007199254740992 and 9007199254740993, 1 and 1.0) are different arguments, and such a retry is refused
// rather than waiting on the approval and running with arguments nobody saw.
func TestApprovalStateBoundToExactArgumentsE2E(t *testing.T) {
	url, st := startApprovalGateway(t, "approval:\n  timeout: 300ms\n")
	raw := mcp.NewClient(&mcp.Implementation{Name: "raw", Version: "1"}, &mcp.ClientOptions{MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true}})
	cs, err := raw.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url + "/mcp/pol"}, &mcp.ClientSessionOptions{ProtocolVersion: "2026-07-28"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	for _, c := range []struct{ shown, sent json.RawMessage }{
		{json.RawMessage(`9007199254740992`), json.RawMessage(`9007199254740993`)},
		{json.RawMessage(`1`), json.RawMessage(`1.0`)},
	} {
		q := "DROP TABLE rows_" + string(c.shown)
		if got := callOutcome(t, cs, &mcp.CallToolParams{Name: "sql", Arguments: map[string]any{"query": q, "row": c.shown}}); got.Code != jsonrpc.CodeApprovalRequired {
			t.Fatalf("first call = %+v, want a timeout waiting for approval", got)
		}
		a := pending(t, st, q)
		res := make(chan outcome, 1)
		go func() {
			res <- callOutcome(t, cs, &mcp.CallToolParams{Name: "sql", Arguments: map[string]any{"query": q, "row": c.sent}, RequestState: "mcpwarden-approval:" + a.ID})
		}()
		time.Sleep(100 * time.Millisecond)
		if _, _, err := st.Decide(t.Context(), a.ID, approval.Decision{Approve: true, By: bob}); err != nil {
			t.Fatal(err)
		}
		if got := <-res; got.Code != jsonrpc.CodeInvalidParams || !strings.Contains(got.Err, "does not belong to this call") {
			t.Errorf("retry with row %s on the approval of row %s = %+v, want it refused", c.sent, c.shown, got)
		}
	}
}
