package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/inspect/injection"
	"github.com/mcpwarden/mcpwarden/internal/inspect/pii"
	"github.com/mcpwarden/mcpwarden/internal/inspect/secrets"
)

// Action says what to do with what a detector found.
type Action string

// Actions. Not every action applies to every detector: Taint is for injections only.
const (
	// Allow lets the data through; the finding is still recorded (audit, session findings).
	Allow Action = "allow"
	// Redact replaces the matched text in the message ([REDACTED:kind]).
	Redact Action = "redact"
	// Block refuses the message with an error naming what was found (never the value).
	Block Action = "block"
	// Taint lets a result through and marks the session tainted (injections).
	Taint Action = "taint"
	// Ask holds a result until a human releases it (secrets and PII in results; the gateway's approvals).
	Ask Action = "ask"
)

// Rules says what a Guard does for one server's tool. The zero value records findings and changes nothing.
type Rules struct {
	// Secrets and PII apply to results (what reaches the model, and then the client).
	Secrets, PII Action
	// PIIMin is the lowest PII confidence acted on (lower ones are recorded only).
	PIIMin pii.Confidence
	// Injection applies to results, resource contents and prompts: Taint, Block or Allow.
	Injection Action
	// Arguments applies to secrets and PII in a call's arguments (what reaches the upstream): Allow
	// (record, and let policy decide on the findings), Redact or Block.
	Arguments Action
}

// Finding is one detector finding, safe to log and audit (it never holds the matched value).
type Finding struct {
	// Detector is "secrets", "pii" or "injection".
	Detector string `json:"detector"`
	// Rule is the detector's rule id (gitleaks rule, PII kind, MW-PI rule).
	Rule string `json:"rule"`
	// Severity is "low", "medium", "high" or "critical".
	Severity string `json:"severity"`
	// Path is the JSON path of the string that held it.
	Path string `json:"path,omitempty"`
	// Message says what was found, with a masked preview.
	Message string `json:"message"`
}

// Verdict is what a Guard decided about one payload.
type Verdict struct {
	// Findings are the detectors' findings, in detector then path order.
	Findings []Finding
	// Names are the findings as policy sees them: "secret", "secret:<rule>", "pii", "pii:<kind>",
	// "injection", "injection:<level>" (sorted, unique).
	Names []string
	// Payload is the payload to forward: the input itself unless something was redacted.
	Payload json.RawMessage
	// Redacted counts the redactions made (0 in monitor mode, where they are only recorded).
	Redacted int
	// Block, when not empty, says why the payload must be refused (in monitor mode: would be refused).
	Block string
	// Ask, when not empty (and Block is empty), says why the payload must wait for a human's release.
	Ask string
	// Taint is set when the payload carried a prompt injection at or above injection.LevelBlock.
	Taint bool
	// Injection is the injection detector's report (results only).
	Injection injection.Report
}

// Guard runs the data detectors over payloads.
type Guard struct {
	// Classifier is an optional external injection classifier; ClassifierTimeout bounds one call (default
	// 2 s) and ClassifierFailOpen lets a payload through unjudged when it fails (default: treat the
	// payload as an injection — fail closed).
	Classifier         injection.Classifier
	ClassifierTimeout  time.Duration
	ClassifierFailOpen bool
	// Monitor records findings and what would have been done, and changes and refuses nothing.
	Monitor bool
}

// refused blocks v when the secret detector's rule set did not compile: a scan would find nothing, and
// nothing may pass unscanned (fail closed, also in monitor mode).
func refused(v *Verdict) bool {
	if err := secrets.Init(); err != nil {
		v.Block = "the secret detector could not start (" + err.Error() + "), so nothing it would scan is let through"
		return true
	}
	return false
}

// Arguments inspects a call's arguments.
func (g *Guard) Arguments(raw json.RawMessage, r Rules) Verdict {
	v := Verdict{Payload: raw}
	if len(raw) == 0 {
		return v
	}
	if refused(&v) {
		return v
	}
	sf := secrets.ScanJSON(raw)
	pf := pii.ScanJSON(raw)
	v.addSecrets(sf)
	v.addPII(pf, r.PIIMin)
	acted := len(sf) > 0 || countAtLeast(pf, r.PIIMin) > 0
	switch {
	case !acted:
	case r.Arguments == Block:
		v.Block = "the arguments carry " + v.summary()
	case r.Arguments == Redact && !g.Monitor:
		out := raw
		if len(sf) > 0 {
			out, _ = secrets.RedactJSON(out, sf)
		}
		if keep := atLeast(pii.ScanJSON(out), r.PIIMin); len(keep) > 0 {
			out, _ = pii.RedactJSON(out, keep)
		}
		v.Payload, v.Redacted = out, len(sf)+countAtLeast(pf, r.PIIMin)
	}
	v.finish()
	return v
}

// Result inspects a result (a tool result, resource contents, a prompt). ctx bounds the classifier call.
func (g *Guard) Result(ctx context.Context, raw json.RawMessage, r Rules) Verdict {
	v := Verdict{Payload: raw}
	if len(raw) == 0 {
		return v
	}
	if refused(&v) {
		return v
	}
	sf := secrets.ScanJSON(raw)
	v.addSecrets(sf)
	out := raw
	var blocks, asks []string
	if len(sf) > 0 {
		switch r.Secrets {
		case Ask:
			asks = append(asks, fmt.Sprintf("%d secret(s)", len(sf)))
		case Block:
			blocks = append(blocks, fmt.Sprintf("%d secret(s)", len(sf)))
		case Redact:
			if !g.Monitor {
				out, _ = secrets.RedactJSON(out, sf)
				v.Redacted += len(sf)
			}
		}
	}
	pf := pii.ScanJSON(out)
	v.addPII(pf, r.PIIMin)
	if keep := atLeast(pf, r.PIIMin); len(keep) > 0 {
		switch r.PII {
		case Ask:
			asks = append(asks, fmt.Sprintf("%d item(s) of personal data", len(keep)))
		case Block:
			blocks = append(blocks, fmt.Sprintf("%d item(s) of personal data", len(keep)))
		case Redact:
			if !g.Monitor {
				out, _ = pii.RedactJSON(out, keep)
				v.Redacted += len(keep)
			}
		}
	}
	// Injections, whatever the action: the finding is recorded and named for policy (Allow records only).
	rep := injection.ScanJSON(raw)
	if g.Classifier != nil && rep.Level < injection.LevelBlock {
		rep = g.classify(ctx, raw, rep)
	}
	v.Injection = rep
	if rep.Level >= injection.Medium {
		sev := rep.Level.String()
		msg := "possible prompt injection (score " + fmt.Sprint(rep.Score) + "): " + rep.Summary()
		v.Findings = append(v.Findings, Finding{Detector: "injection", Rule: firstRule(rep), Severity: sev, Message: msg})
		v.Names = append(v.Names, "injection:"+sev)
	}
	if rep.Level >= injection.LevelBlock {
		v.Names = append(v.Names, "injection")
		switch r.Injection {
		case Block:
			blocks = append(blocks, "a prompt injection ("+rep.Summary()+")")
		case Taint:
			v.Taint = true
		}
	}
	if len(blocks) > 0 {
		v.Block = "the result carries " + strings.Join(blocks, " and ")
	} else if len(asks) > 0 {
		v.Ask = "the result carries " + strings.Join(asks, " and ")
	}
	v.Payload = out
	v.finish()
	return v
}

// classify asks the external classifier; a failure counts as an injection unless ClassifierFailOpen.
func (g *Guard) classify(ctx context.Context, raw json.RawMessage, rep injection.Report) injection.Report {
	timeout := g.ClassifierTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	verdict, err := g.Classifier.Classify(cctx, string(raw))
	if err != nil {
		if g.ClassifierFailOpen {
			return rep
		}
		rep.Findings = append(rep.Findings, injection.Finding{RuleID: "classifier-unavailable", Category: "classifier",
			Message: "the injection classifier failed (" + err.Error() + "); treated as an injection (fail closed)"})
		if rep.Level < injection.LevelBlock {
			rep.Level = injection.LevelBlock
		}
		return rep
	}
	return rep.WithClassifier(verdict)
}

func firstRule(rep injection.Report) string {
	if len(rep.Findings) > 0 {
		return rep.Findings[0].RuleID
	}
	return ""
}

func (v *Verdict) addSecrets(fs []secrets.Finding) {
	for _, f := range fs {
		v.Findings = append(v.Findings, Finding{Detector: "secrets", Rule: f.RuleID, Severity: "high", Path: f.Path,
			Message: f.Description + " (" + f.Preview + ")"})
		v.Names = append(v.Names, "secret", "secret:"+f.RuleID)
	}
}

func (v *Verdict) addPII(fs []pii.Finding, min pii.Confidence) {
	for _, f := range fs {
		sev := "low"
		if f.Confidence >= min {
			sev = "medium"
		}
		v.Findings = append(v.Findings, Finding{Detector: "pii", Rule: f.RuleID, Severity: sev, Path: f.Path,
			Message: f.Description + " (" + f.Preview + ", " + f.Confidence.String() + " confidence)"})
		if f.Confidence >= min {
			v.Names = append(v.Names, "pii", "pii:"+f.RuleID)
		}
	}
}

// summary names what the findings are, for messages ("2 secret(s) (aws-access-token) and 1 item(s) of
// personal data (card)").
func (v *Verdict) summary() string {
	rules := map[string][]string{}
	for _, f := range v.Findings {
		if !contains(rules[f.Detector], f.Rule) {
			rules[f.Detector] = append(rules[f.Detector], f.Rule)
		}
	}
	var parts []string
	if r := rules["secrets"]; len(r) > 0 {
		parts = append(parts, "secrets ("+strings.Join(r, ", ")+")")
	}
	if r := rules["pii"]; len(r) > 0 {
		parts = append(parts, "personal data ("+strings.Join(r, ", ")+")")
	}
	return strings.Join(parts, " and ")
}

func (v *Verdict) finish() {
	sort.Strings(v.Names)
	v.Names = compact(v.Names)
}

func compact(xs []string) []string {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func atLeast(fs []pii.Finding, min pii.Confidence) []pii.Finding {
	var out []pii.Finding
	for _, f := range fs {
		if f.Confidence >= min {
			out = append(out, f)
		}
	}
	return out
}

func countAtLeast(fs []pii.Finding, min pii.Confidence) int { return len(atLeast(fs, min)) }

// RedactText returns text with the secrets and the personal data at or above min replaced by their
// placeholders ([REDACTED:kind]), and whether anything was replaced. The audit trail stores payloads
// through it.
func RedactText(text string, min pii.Confidence) (string, bool) {
	out, changed := text, false
	if sf := secrets.Scan(out); len(sf) > 0 {
		out, changed = secrets.Redact(out, sf), true
	}
	if pf := atLeast(pii.Scan(out), min); len(pf) > 0 {
		out, changed = pii.Redact(out, pf), true
	}
	return out, changed
}
