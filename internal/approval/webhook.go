package approval

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	// URL receives a POST per pending approval (required).
	URL string
	// Secret, when set, signs each body (see Sign).
	Secret string
	// Client sends the requests; nil means one with a 10s timeout.
	Client *http.Client
	// Attempts is how many times a delivery is tried (default 5); Backoff the first wait between tries,
	// doubled each time (default 1s).
	Attempts int
	Backoff  time.Duration
	// Logger receives delivery failures; nil discards.
	Logger *slog.Logger
	// DashboardURL, when set, is the dashboard's base URL (ending in "/"): messages then link to the
	// approval's page there (which needs a dashboard login) instead of naming the CLI command.
	DashboardURL string
}

// Webhook notifies an HTTP endpoint of pending approvals with a Slack-compatible JSON body ({"text": …},
// plus a "mcpwarden" object for machines). Arguments are never sent (they may hold secrets): the message
// says how to look at them. Deliveries run in the background, are retried with exponential backoff on
// network errors and non-2xx answers, and end when Close is called.
type Webhook struct {
	cfg    WebhookConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewWebhook returns a Webhook; call Close to stop pending deliveries.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.URL == "" {
		return nil, errors.New("approval webhook: no URL")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Webhook{cfg: cfg}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w, nil
}

// SignatureHeader and TimestampHeader carry the body's signature and the time it was signed.
const (
	SignatureHeader = "X-Mcpwarden-Signature"
	TimestampHeader = "X-Mcpwarden-Timestamp"
)

// Sign returns the signature header value of body sent at timestamp (Unix seconds, as sent in
// TimestampHeader): "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)). A receiver recomputes it,
// compares in constant time, and rejects old timestamps to stop replays.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Notify sends the pending approval a in the background.
func (w *Webhook) Notify(a *Approval) {
	how := fmt.Sprintf("`mcpwarden approvals show %s`, then approve or deny it.", a.ID)
	machine := map[string]any{
		"event": "approval.pending", "id": a.ID, "server": a.Call.Server, "tool": a.Call.Tool, "user": a.Call.User,
		"principal": a.Call.Principal, "rule": a.Call.Rule, "reason": a.Call.Reason, "created": a.Created,
		"expires": a.Expires, "four_eyes": a.Require.FourEyes, "approvers": a.Require.Approvers,
	}
	if w.cfg.DashboardURL != "" {
		link := w.cfg.DashboardURL + "approvals/" + a.ID
		how = fmt.Sprintf("approve or deny it at <%s|the dashboard>.", link)
		machine["url"] = link
	}
	w.send(fmt.Sprintf("mcpwarden: %s wants to call %s on %s (%s). Approval %s waits until %s: %s",
		a.Call.User, a.Call.Tool, a.Call.Server, a.Call.Message, a.ID, a.Created.Add(a.Require.Timeout).Format(time.RFC3339), how),
		machine, "approval", a.ID)
}

// NotifyQuarantine posts that a server's tool, prompt or server identity was quarantined (a changed or
// poisoned definition — a possible rug pull), in the same Slack-compatible, signed, retried form. The
// definitions themselves are not sent: the operator reviews them with `mcpwarden pins diff`.
func (w *Webhook) NotifyQuarantine(server, kind, name, reason string) {
	how := fmt.Sprintf("review it with `mcpwarden pins diff --server %s --item %s`, accept it with `mcpwarden pins approve`.", server, name)
	machine := map[string]any{"event": "pin.quarantined", "server": server, "kind": kind, "item": name, "reason": reason}
	if w.cfg.DashboardURL != "" {
		link := w.cfg.DashboardURL + "servers#quarantine"
		how = fmt.Sprintf("review and approve it at <%s|the dashboard>.", link)
		machine["url"] = link
	}
	w.send(fmt.Sprintf("mcpwarden: %s %q of server %s was quarantined (%s); calls to it are refused until it is approved: %s",
		kind, name, server, reason, how), machine, "item", server+"/"+name)
}

// send posts {"text": text, "mcpwarden": machine} in the background (signed, retried); a delivery that
// fails for good is logged with the attribute about.
func (w *Webhook) send(text string, machine map[string]any, aboutKey, about string) {
	body, err := json.Marshal(map[string]any{"text": text, "mcpwarden": machine})
	if err != nil {
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := w.deliver(body); err != nil {
			w.cfg.Logger.Warn("webhook: notification not delivered", "event", machine["event"], aboutKey, about, "err", err)
		}
	}()
}

func (w *Webhook) deliver(body []byte) error {
	wait := w.cfg.Backoff
	var last error
	for attempt := 1; attempt <= w.cfg.Attempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(wait)
			select {
			case <-w.ctx.Done():
				t.Stop()
				return fmt.Errorf("stopped after %d attempts: %w", attempt-1, last)
			case <-t.C:
			}
			wait *= 2
		}
		if last = w.post(body); last == nil {
			return nil
		}
	}
	return fmt.Errorf("%d attempts failed, the last: %w", w.cfg.Attempts, last)
}

func (w *Webhook) post(body []byte) error {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if w.cfg.Secret != "" {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, Sign(w.cfg.Secret, ts, body))
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return nil
}

// Close stops retrying and waits for deliveries in flight to end.
func (w *Webhook) Close() error {
	w.cancel()
	w.wg.Wait()
	return nil
}
