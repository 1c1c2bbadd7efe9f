package injection

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Classifier is an external prompt-injection model, consulted in addition to Scan where a deployment
// has one. Implementations do I/O; the gateway calls them with a deadline.
type Classifier interface {
	Classify(ctx context.Context, text string) (Verdict, error)
}

// Verdict is a classifier's opinion of one text.
type Verdict struct {
	// Score is 0–100: how likely the text is an injection.
	Score int `json:"score"`
	// Label is the classifier's own label ("injection", "benign", …), or "error" when it failed.
	Label string `json:"label,omitempty"`
	// Failed is true when the classifier did not answer and Score comes from the fail mode.
	Failed bool `json:"failed,omitempty"`
}

// FailMode says what a failed classification means.
type FailMode string

const (
	// FailClosed treats a failure (timeout, error status, bad answer) as an injection: score 100.
	FailClosed FailMode = "closed"
	// FailOpen treats a failure as benign: score 0. The heuristic report still stands.
	FailOpen FailMode = "open"
)

// HTTPClassifierConfig configures HTTPClassifier.
type HTTPClassifierConfig struct {
	// URL receives a POST with the JSON body {"text": "…"} and answers with a JSON object holding
	// "score" (a probability 0–1 or a percentage 0–100), or "injection" (boolean), or "label"
	// ("injection", "jailbreak", "malicious" or "unsafe" count as injections). Required; http or https.
	URL string `json:"url" yaml:"url"`
	// Timeout bounds one classification, connection included. Default 2s.
	Timeout time.Duration `json:"timeout" yaml:"timeout"`
	// FailMode is "closed" (default: a failure counts as an injection) or "open".
	FailMode FailMode `json:"fail_mode" yaml:"fail_mode"`
	// Headers are added to every request (e.g. an Authorization header for the model service).
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	// MaxTextBytes truncates the text sent (on a rune boundary). Default 64 KiB.
	MaxTextBytes int `json:"max_text_bytes,omitempty" yaml:"max_text_bytes,omitempty"`
	// Client sends the requests; nil means a client that does not follow redirects.
	Client *http.Client `json:"-" yaml:"-"`
}

// CheckAndSetDefaults validates the configuration and fills in defaults.
func (c *HTTPClassifierConfig) CheckAndSetDefaults() error {
	u, err := url.Parse(c.URL)
	if c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("injection classifier: url %q is not an http(s) URL: set it to the classifier's endpoint, e.g. http://127.0.0.1:8000/classify", c.URL)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("injection classifier: timeout %s is negative: use a positive duration such as 2s", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	switch c.FailMode {
	case "":
		c.FailMode = FailClosed
	case FailClosed, FailOpen:
	default:
		return fmt.Errorf("injection classifier: fail_mode %q is unknown: use closed or open", c.FailMode)
	}
	if c.MaxTextBytes < 0 {
		return fmt.Errorf("injection classifier: max_text_bytes %d is negative: use 0 for the default (64 KiB)", c.MaxTextBytes)
	}
	if c.MaxTextBytes == 0 {
		c.MaxTextBytes = 64 << 10
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return nil
}

// HTTPClassifier calls a classifier service over HTTP.
type HTTPClassifier struct {
	cfg HTTPClassifierConfig
}

// NewHTTPClassifier validates cfg and returns a classifier client.
func NewHTTPClassifier(cfg HTTPClassifierConfig) (*HTTPClassifier, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	return &HTTPClassifier{cfg: cfg}, nil
}

// maxAnswerBytes bounds the classifier's answer.
const maxAnswerBytes = 1 << 20

// Classify sends text to the service. On failure it returns the fail-mode verdict (Failed set) and the
// error, so a caller may use the verdict directly and log the error.
func (c *HTTPClassifier) Classify(ctx context.Context, text string) (Verdict, error) {
	v, err := c.classify(ctx, text)
	if err == nil {
		return v, nil
	}
	failed := Verdict{Label: "error", Failed: true}
	if c.cfg.FailMode == FailClosed {
		failed.Score = 100
	}
	return failed, fmt.Errorf("injection classifier %s (failing %s): %w", c.cfg.URL, c.cfg.FailMode, err)
}

func (c *HTTPClassifier) classify(ctx context.Context, text string) (Verdict, error) {
	if len(text) > c.cfg.MaxTextBytes {
		n := c.cfg.MaxTextBytes
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n]
	}
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return Verdict{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return Verdict{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Verdict{}, fmt.Errorf("no answer within %s: raise timeout or check the service", c.cfg.Timeout)
		}
		return Verdict{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return Verdict{}, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Verdict{}, fmt.Errorf("status %s: %s", resp.Status, clip(strings.TrimSpace(string(raw)), 200))
	}
	if len(raw) > maxAnswerBytes {
		return Verdict{}, fmt.Errorf("answer larger than %d bytes", maxAnswerBytes)
	}
	return parseVerdict(raw)
}

// parseVerdict reads {"score": 0.93} / {"score": 93} / {"injection": true} / {"label": "injection"}.
func parseVerdict(raw []byte) (Verdict, error) {
	var a struct {
		Score     *float64 `json:"score"`
		Injection *bool    `json:"injection"`
		Label     string   `json:"label"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return Verdict{}, fmt.Errorf("answer is not the expected JSON object: %w", err)
	}
	v := Verdict{Label: a.Label}
	switch {
	case a.Score != nil:
		s := *a.Score
		if s < 0 || s > 100 || s != s {
			return Verdict{}, fmt.Errorf("score %v is outside 0–1 or 0–100", s)
		}
		if s <= 1 {
			s *= 100
		}
		v.Score = int(s + 0.5)
	case a.Injection != nil:
		if *a.Injection {
			v.Score = 100
		}
	case a.Label != "":
		switch strings.ToLower(a.Label) {
		case "injection", "prompt_injection", "prompt-injection", "jailbreak", "malicious", "unsafe":
			v.Score = 100
		}
	default:
		return Verdict{}, errors.New(`answer has none of "score", "injection" or "label"`)
	}
	return v, nil
}

// WithClassifier folds a classifier verdict into a heuristic report: it adds a MW-PI090 finding and
// the report's score becomes the higher of the two.
func (r Report) WithClassifier(v Verdict) Report {
	msg := fmt.Sprintf("external classifier scored %d (%s)", v.Score, v.Label)
	if v.Failed {
		msg = fmt.Sprintf("external classifier unavailable; fail mode gives %d", v.Score)
	}
	out := r
	out.Findings = append(append([]Finding(nil), r.Findings...), Finding{RuleID: RuleClassifier, Category: catClassify, Weight: v.Score, Message: msg, Evidence: v.Label})
	out.Score = max(r.Score, min(100, max(0, v.Score)))
	out.Level = LevelOf(out.Score)
	return out
}

var _ Classifier = (*HTTPClassifier)(nil)
