// Package external consults an external decision point — OPA's REST data API or a webhook — for calls the
// policy's rules have decided, as part of stage ④. The combined decision is the stricter of the two
// (deny > ask > allow), so an external point can tighten the policy but never loosen a local deny. A
// decision point that fails, answers garbage or exceeds its timeout yields the configured on_error effect
// (deny by default: fail closed).
package external

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// Client consults one decision point. It is safe for concurrent use.
type Client struct {
	cfg  policy.External
	http *http.Client
}

// New returns a Client for cfg; hc nil means a client with cfg.Timeout.
func New(cfg policy.External, hc *http.Client) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.OnError == "" {
		cfg.OnError = policy.Deny
	}
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	return &Client{cfg: cfg, http: hc}
}

// Request is what the decision point receives as input.
type Request struct {
	Principal   map[string]any  `json:"principal"`
	Client      map[string]any  `json:"client"`
	Session     string          `json:"session,omitempty"`
	Server      string          `json:"server"`
	Method      string          `json:"method"`
	Name        string          `json:"name"`
	Arguments   json.RawMessage `json:"arguments,omitempty"`
	Destructive bool            `json:"destructive"`
	Reasons     []string        `json:"reasons,omitempty"`
	// Local is the decision of the policy's rules.
	Local map[string]any `json:"local"`
}

// answer is the decision point's verdict: OPA's result may be a bool (allow) or this object.
type answer struct {
	Effect  policy.Effect `json:"effect"`
	Message string        `json:"message"`
	Rule    string        `json:"rule"`
}

// Decide consults the decision point about in and returns local combined with its answer. On failure the
// on_error effect takes part instead, and the error is recorded in the decision.
func (c *Client) Decide(ctx context.Context, in *policy.Input, local policy.Decision) policy.Decision {
	ans, err := c.ask(ctx, in, local)
	if err != nil {
		ans = answer{Effect: c.cfg.OnError, Message: "the external policy decision point is unavailable, so the call was refused"}
		local.Errors = append(local.Errors, "external decision point: "+err.Error())
	}
	if rank(ans.Effect) <= rank(local.Effect) {
		if err != nil && ans.Effect != policy.Allow {
			local.Reason += "; external decision point failed (" + err.Error() + ")"
		}
		return local
	}
	d := local
	d.Effect = ans.Effect
	d.RuleID = "external"
	if ans.Rule != "" {
		d.RuleID = "external:" + ans.Rule
	}
	d.Reason = "external decision point (" + c.cfg.Kind + ") decided " + string(ans.Effect)
	if err != nil {
		d.Reason = "external decision point failed (" + err.Error() + "); on_error is " + string(ans.Effect)
	}
	d.Message = ans.Message
	if d.Message == "" {
		d.Message = "denied by the external policy decision point"
		if d.Effect == policy.Ask {
			d.Message = "the external policy decision point asks for a human approval"
		}
	}
	d.Hidden = false
	return d
}

func rank(e policy.Effect) int {
	switch e {
	case policy.Deny:
		return 2
	case policy.Ask:
		return 1
	}
	return 0
}

func (c *Client) ask(ctx context.Context, in *policy.Input, local policy.Decision) (answer, error) {
	req := Request{
		Principal: map[string]any{"user": in.Principal.User, "groups": orEmpty(in.Principal.Groups), "auth": in.Principal.Auth,
			"id": in.Principal.ID, "claims": in.Principal.Claims},
		Client:  map[string]any{"name": in.ClientName, "version": in.ClientVersion},
		Session: in.SessionID, Server: in.Server, Method: in.Method, Name: in.Name, Arguments: in.Arguments,
		Destructive: local.Destructive, Reasons: local.DestructiveReasons,
		Local: map[string]any{"effect": local.Effect, "rule": local.RuleID, "reason": local.Reason},
	}
	body, err := json.Marshal(map[string]any{"input": req})
	if err != nil {
		return answer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	for k, v := range c.cfg.Headers {
		hreq.Header.Set(k, v)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return answer{}, fmt.Errorf("no answer within %s", c.cfg.Timeout)
		}
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return answer{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b[:min(len(b), 200)])))
	}
	return parseAnswer(c.cfg.Kind, b)
}

func parseAnswer(kind string, b []byte) (answer, error) {
	raw := json.RawMessage(b)
	if kind == "opa" {
		var env struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return answer{}, fmt.Errorf("OPA answer is not JSON: %v", err)
		}
		if len(env.Result) == 0 {
			return answer{}, errors.New("OPA answered without a result (the rule is undefined for this input)")
		}
		raw = env.Result
		var allow bool
		if json.Unmarshal(raw, &allow) == nil {
			if allow {
				return answer{Effect: policy.Allow}, nil
			}
			return answer{Effect: policy.Deny}, nil
		}
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return answer{}, fmt.Errorf("answer is not {\"effect\": …}: %v", err)
	}
	switch a.Effect {
	case policy.Allow, policy.Deny, policy.Ask:
		return a, nil
	}
	return answer{}, fmt.Errorf("answer has effect %q; want allow, deny or ask", a.Effect)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
