package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/inspect/pin"
	"github.com/mcpwarden/mcpwarden/internal/inspect/poison"
	"github.com/mcpwarden/mcpwarden/internal/inspect/sanitize"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/policy"
	"github.com/mcpwarden/mcpwarden/internal/upstream"
)

// InspectStageConfig configures the inspect stage adapter (⑦).
type InspectStageConfig struct {
	// Pins is the pin store (required): pins, and quarantined items of every mode, live there.
	Pins *pin.Store
	// Mode is the pinning mode (tofu, strict or off). Default tofu.
	Mode pin.Mode
	// QuarantineAt is the lowest poisoning-scan severity that quarantines an item; ScanQuarantine false
	// never quarantines on findings (they are still recorded).
	QuarantineAt   poison.Severity
	ScanQuarantine bool
	// SanitizeDescriptions strips escapes and invisible characters from list results; SanitizeResults from
	// tool and prompt results.
	SanitizeDescriptions, SanitizeResults bool
	// RecordFindings hands findings to the audit stage (Exchange.Note; set when audit is on).
	RecordFindings bool
	// Identities holds the launch description of each configured server (server name → JSON object: command
	// line, package and program hash, or transport and URL; see serverLaunch). With the serverInfo the server
	// reports in initialize or server/discover it makes the server's identity pin (kind server); a server
	// without one has no identity pin.
	Identities map[string]json.RawMessage
	// ConfigHint names the config file in the commands that log lines suggest ("" for FILE).
	ConfigHint string
	// OnQuarantine, when set, is told of each newly quarantined definition (once per definition), e.g. to
	// post it to the approval webhook. Nil: the log line and the audit finding only.
	OnQuarantine func(server, kind, name, reason string)
	// Logger receives quarantine events; nil discards.
	Logger *slog.Logger
}

// inspectStage checks everything a server shows a model against its pins and the poisoning scanner as it
// passes back through the chain: quarantined items are removed from lists, calls to them are refused, and
// what remains is sanitised.
type inspectStage struct {
	cfg    InspectStageConfig
	log    *slog.Logger
	seq    atomic.Int64
	scans  sync.Map // scan cache key → scanResult
	warned sync.Map // server/kind/name/hash → struct{} (log each quarantine once per definition)
	listed sync.Map // server/kind → struct{}: a list of this kind was inspected
	tools  sync.Map // server/name → []string: policy findings from the scan of the tool's latest definition

	mu    sync.RWMutex
	names map[string][]string // server → tool names, for cross-server shadowing
}

type scanResult struct {
	sev      poison.Severity
	findings []poison.Finding
}

// NewInspectStage returns the inspect stage as a Middleware.
func NewInspectStage(cfg InspectStageConfig) (Middleware, error) {
	s, err := newInspectStage(cfg)
	if err != nil {
		return nil, err
	}
	return s.middleware, nil
}

func newInspectStage(cfg InspectStageConfig) (*inspectStage, error) {
	if cfg.Pins == nil {
		return nil, fmt.Errorf("inspect stage: no pin store")
	}
	if cfg.Mode == "" {
		cfg.Mode = pin.TOFU
	}
	if cfg.ConfigHint == "" {
		cfg.ConfigHint = "FILE"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &inspectStage{cfg: cfg, log: log, names: map[string][]string{}}, nil
}

// listKinds maps list methods to the result key and the pinned kind ("" for resources: scanned only).
var listKinds = map[string]struct{ key, kind string }{
	"tools/list":               {"tools", pin.KindTool},
	"prompts/list":             {"prompts", pin.KindPrompt},
	"resources/templates/list": {"resourceTemplates", pin.KindResourceTemplate},
	"resources/list":           {"resources", ""},
}

func (s *inspectStage) middleware(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
		msg := x.Msg
		if x.Direction == ServerToClient && msg.Kind == jsonrpc.KindNotification {
			// The server says a list changed: until it is listed again through this gateway, a call first
			// re-lists (guardCall), so a call made without re-listing still meets the new definition's pin.
			switch msg.Method {
			case "notifications/tools/list_changed":
				s.listed.Delete(x.Server + "\x00" + pin.KindTool)
			case "notifications/prompts/list_changed":
				s.listed.Delete(x.Server + "\x00" + pin.KindPrompt)
			}
		}
		if x.Direction != ClientToServer || msg.Kind != jsonrpc.KindRequest {
			return next(ctx, x)
		}
		switch msg.Method {
		case "initialize", "server/discover", "ping":
		default:
			if refusal := s.guardServer(ctx, x); refusal != nil {
				return refusal, nil
			}
		}
		switch msg.Method {
		case "tools/call", "prompts/get":
			if refusal := s.guardCall(ctx, x, next); refusal != nil {
				return refusal, nil
			}
			reply, err := next(ctx, x)
			if err != nil || reply == nil || reply.Kind != jsonrpc.KindResult || !s.cfg.SanitizeResults {
				return reply, err
			}
			return s.sanitized(x, reply), nil
		case "initialize", "server/discover":
			reply, err := next(ctx, x)
			if err != nil || reply == nil || reply.Kind != jsonrpc.KindResult {
				return reply, err
			}
			out, _ := s.inspectHello(ctx, x, reply, true)
			return out, nil
		}
		if _, ok := listKinds[msg.Method]; ok {
			reply, err := next(ctx, x)
			if err != nil || reply == nil || reply.Kind != jsonrpc.KindResult {
				return reply, err
			}
			out, _ := s.inspectList(ctx, x, reply, true)
			return out, nil
		}
		return next(ctx, x)
	}
}

// storeDown is the fail-closed answer when the pin store cannot be read or written.
func (s *inspectStage) storeDown(x *Exchange, err error) *jsonrpc.Message {
	s.log.Error("inspect: pin store unavailable; refusing (fail closed)", "server", x.Server, "method", x.Msg.Method, "err", err)
	// The client learns what failed, not the database's address or user (the log has the details).
	return errorReply(x.Msg, jsonrpc.CodePolicyDenied, "mcpwarden refused this request because its tool pin store cannot be used, "+
		"so it cannot tell whether the server's tools changed since they were approved; nothing was forwarded. The gateway's log "+
		"has the cause; an operator should check data_dir (or audit.postgres_dsn). The gateway retries on the next request")
}

// pin reads a pin's state (State: no stored definitions) once per exchange (Exchange.readPin): policy's findings and the call
// guards ask for the same pins a few microseconds apart. Errors are not kept.
func (s *inspectStage) pin(ctx context.Context, x *Exchange, server, kind, name string) (*pin.Pin, error) {
	if p, ok := x.readPin(server, kind, name); ok {
		return p, nil
	}
	p, err := s.cfg.Pins.State(ctx, server, kind, name)
	if err == nil {
		x.keepPin(server, kind, name, p)
	}
	return p, err
}

// guardCall refuses a call to a quarantined tool or prompt; nil lets it through.
func (s *inspectStage) guardCall(ctx context.Context, x *Exchange, next Handler) *jsonrpc.Message {
	kind, list := pin.KindTool, "tools/list"
	if x.Msg.Method == "prompts/get" {
		kind, list = pin.KindPrompt, "prompts/list"
	}
	p, err := s.pin(ctx, x, x.Server, kind, x.Msg.Name)
	if err != nil {
		return s.storeDown(x, err)
	}
	if _, seen := s.listed.Load(x.Server + "\x00" + kind); !seen {
		// Never listed through this gateway, or the server announced a change since (list_changed): list
		// now so that the current definition is pinned and scanned before the call runs. A storm of
		// list_changed costs at most one list per call.
		if reply := s.fetch(ctx, x, list, next); reply != nil {
			return reply
		}
		if p, err = s.cfg.Pins.Get(ctx, x.Server, kind, x.Msg.Name); err != nil {
			return s.storeDown(x, err)
		}
	}
	if p == nil {
		// Unknown name: a server that resolves names loosely (case, separators) could still run a
		// quarantined item under a variant spelling; refuse those too.
		pins, err := s.cfg.Pins.List(ctx, x.Server)
		if err != nil {
			return s.storeDown(x, err)
		}
		want := policy.Canonical(x.Msg.Name)
		for i := range pins {
			if pins[i].Kind == kind && pins[i].Quarantined() && policy.Canonical(pins[i].Name) == want {
				p = &pins[i]
				break
			}
		}
	}
	if p == nil || !p.Quarantined() {
		return nil
	}
	what := "tool"
	if kind == pin.KindPrompt {
		what = "prompt"
	}
	// The client-facing text names no file path of the gateway host; the log line does.
	text := fmt.Sprintf("mcpwarden quarantined %s %q of server %q: %s. Nothing was forwarded. An operator can review it with "+
		"`mcpwarden pins diff --config FILE --server %s --item %s` and accept it with `mcpwarden pins approve --config FILE --server %s --item %s`",
		what, x.Msg.Name, x.Server, p.PendingReason, x.Server, x.Msg.Name, x.Server, x.Msg.Name)
	data := map[string]any{"quarantined": true, "server": x.Server, "kind": kind, "item": x.Msg.Name, "reason": p.PendingReason,
		"pending_hash": p.PendingHash, "approved_hash": p.ApprovedHash}
	s.note(x, audit.Finding{Detector: "pin", Severity: "high", Message: "call refused: " + what + " quarantined: " + p.PendingReason, Path: kind + "s[" + x.Msg.Name + "]"})
	return jsonrpc.MustDecode(jsonrpc.NewErrorResponse(x.Msg.ID, jsonrpc.CodePolicyDenied, text, data))
}

// fetch pages through a list method on behalf of a call, inspecting (and so pinning) every page. It
// returns a refusal only when the pin store failed; a server that cannot list leaves the item unknown.
func (s *inspectStage) fetch(ctx context.Context, x *Exchange, method string, next Handler) *jsonrpc.Message {
	var meta map[string]json.RawMessage
	if len(x.Msg.Meta) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(x.Msg.Meta, &m) == nil {
			for k, v := range m {
				if strings.HasPrefix(k, "io.modelcontextprotocol/") {
					if meta == nil {
						meta = map[string]json.RawMessage{}
					}
					meta[k] = v
				}
			}
		}
	}
	cursor := ""
	for range 20 {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		if meta != nil {
			params["_meta"] = meta
		}
		b, err := jsonrpc.NewRequest(jsonrpc.StringID("mcpwarden-inspect-"+strconv.FormatInt(s.seq.Add(1), 10)), method, params)
		if err != nil {
			return nil
		}
		req := jsonrpc.MustDecode(b)
		lx := &Exchange{Session: x.Session, Server: x.Server, Direction: ClientToServer, Msg: req, Original: req, Principal: x.Principal}
		reply, err := next(ctx, lx)
		if err != nil || reply == nil || reply.Kind != jsonrpc.KindResult {
			s.log.Warn("inspect: could not list the server's items before a call", "server", x.Server, "method", method)
			return nil
		}
		if _, ok := s.inspectList(ctx, lx, reply, false); !ok {
			return s.storeDown(x, fmt.Errorf("pin check failed"))
		}
		var r struct {
			NextCursor string `json:"nextCursor"`
		}
		if json.Unmarshal(reply.Result, &r) != nil || r.NextCursor == "" || r.NextCursor == cursor {
			return nil
		}
		cursor = r.NextCursor
	}
	return nil
}

// inspectList pins, scans, filters and sanitises one list result. ok is false when the pin store failed
// (the returned message is then the refusal).
func (s *inspectStage) inspectList(ctx context.Context, x *Exchange, reply *jsonrpc.Message, record bool) (*jsonrpc.Message, bool) {
	lk := listKinds[x.Msg.Method]
	var r map[string]json.RawMessage
	if json.Unmarshal(reply.Result, &r) != nil {
		return reply, true
	}
	var items []json.RawMessage
	if json.Unmarshal(r[lk.key], &items) != nil {
		return reply, true
	}
	if lk.kind == pin.KindTool {
		s.rememberNames(x.Server, items)
	}
	others := s.otherServers(x.Server)
	othersKey := namesKey(others)
	type entry struct {
		raw  json.RawMessage
		obs  pin.Observation
		keep bool
	}
	entries := make([]entry, 0, len(items))
	var findings []audit.Finding
	for _, raw := range items {
		var (
			it   pin.Item
			name string
			err  error
		)
		if lk.kind != "" {
			it, err = pin.ItemFromList(lk.kind, raw)
			name = it.Name
		} else {
			var res struct {
				Name string `json:"name"`
				URI  string `json:"uri"`
			}
			err = json.Unmarshal(raw, &res)
			name = res.URI
			sum := sha256.Sum256(raw)
			it = pin.Item{Kind: "resource", Name: res.URI, Hash: hex.EncodeToString(sum[:])}
		}
		if err != nil {
			s.log.Warn("inspect: dropped a list item that cannot be pinned", "server", x.Server, "method", x.Msg.Method, "err", err)
			continue
		}
		sr := s.scan(x.Server, lk.key, raw, it.Hash, others, othersKey)
		if lk.kind == pin.KindTool {
			s.tools.Store(x.Server+"\x00"+it.Name, scanPolicyFindings(sr))
		}
		e := entry{raw: raw, obs: pin.Observation{Item: it}, keep: true}
		for _, f := range sr.findings {
			if f.Severity >= poison.Medium {
				findings = append(findings, audit.Finding{Detector: "poison:" + f.RuleID, Severity: f.Severity.String(), Message: f.Message, Path: f.Location})
			}
		}
		if s.cfg.ScanQuarantine && sr.sev >= s.cfg.QuarantineAt && len(sr.findings) > 0 {
			top := sr.findings[0]
			for _, f := range sr.findings {
				if f.Severity > top.Severity {
					top = f
				}
			}
			e.obs.Poisoned = fmt.Sprintf("%s finding %s (%s)", top.Severity, top.RuleID, top.Message)
			if lk.kind == "" {
				e.keep = false
				s.warnOnce(x.Server, "resource", name, it.Hash, "poisoning scan: "+e.obs.Poisoned)
			}
		}
		entries = append(entries, e)
	}
	if lk.kind != "" {
		obs, of := oneObservationPerName(entries, func(e entry) pin.Observation { return e.obs })
		verdicts, err := s.cfg.Pins.Check(ctx, x.Server, s.cfg.Mode, obs)
		if err != nil {
			return s.storeDown(x, err), false
		}
		for i := range entries {
			if verdicts[of[i]].Quarantined {
				entries[i].keep = false
			}
		}
		for _, v := range verdicts {
			if v.Quarantined {
				s.warnOnce(x.Server, lk.kind, v.Item.Name, v.Item.Hash, v.Reason)
				findings = append(findings, audit.Finding{Detector: "pin", Severity: "high", Message: "quarantined: " + v.Reason,
					Path: lk.key + "[" + v.Item.Name + "]"})
			}
		}
		s.listed.Store(x.Server+"\x00"+lk.kind, struct{}{})
	}
	if record {
		s.note(x, findings...)
	}
	kept := make([]json.RawMessage, 0, len(entries))
	for _, e := range entries {
		if e.keep {
			kept = append(kept, e.raw)
		}
	}
	out := reply
	if len(kept) != len(items) {
		r[lk.key], _ = json.Marshal(kept)
		if b, err := jsonrpc.NewResult(reply.ID, r); err == nil {
			out = jsonrpc.MustDecode(b)
		}
	}
	if s.cfg.SanitizeDescriptions && record {
		out = s.sanitized(x, out) // (a list fetched for a call is not shown to anyone)
	}
	return out, true
}

// oneObservationPerName merges the observations of list entries that share a name, so that the pin store
// sees each name once: a list showing one name twice with different definitions (which one a client keeps
// is the client's choice, and which one runs is the server's) is one ambiguous observation whose definition
// is the sorted array of all of them, flagged as a conflict, so it is quarantined until a person approves
// exactly that set. Identical repeats are one observation. of[i] is the observation of entries[i].
func oneObservationPerName[E any](entries []E, obsOf func(E) pin.Observation) (obs []pin.Observation, of []int) {
	of = make([]int, len(entries))
	byName := map[string]int{}
	defs := map[int][]string{} // observation index → distinct definitions, when more than one
	for i, e := range entries {
		o := obsOf(e)
		j, seen := byName[o.Name]
		if !seen {
			byName[o.Name] = len(obs)
			of[i] = len(obs)
			obs = append(obs, o)
			continue
		}
		of[i] = j
		if d := string(o.Definition); d != string(obs[j].Definition) && !slices.Contains(defs[j], d) {
			if defs[j] == nil {
				defs[j] = []string{string(obs[j].Definition)}
			}
			defs[j] = append(defs[j], d)
			if o.Poisoned != "" && obs[j].Poisoned == "" {
				obs[j].Poisoned = o.Poisoned
			}
		}
	}
	for j, ds := range defs {
		sort.Strings(ds)
		merged := []byte("[" + strings.Join(ds, ",") + "]")
		sum := sha256.Sum256(merged)
		obs[j].Definition, obs[j].Hash = merged, hex.EncodeToString(sum[:])
		obs[j].Conflict = fmt.Sprintf("listed %d times in one list with different definitions", len(ds))
	}
	return obs, of
}

// inspectHello inspects what a server says about itself: the initialize result (2025 era) or the
// server/discover result (2026-07-28, stateless). Its serverInfo, with the server's launch description, is
// checked against the server identity pin; its instructions are pinned and scanned. Quarantined
// instructions, and the instructions of a server whose identity is quarantined, are removed from the result
// the client sees (the rest of it stays, so that the client can connect and learn why its calls are refused).
//
// identity is the reason the server's identity is quarantined ("" when it is not).
func (s *inspectStage) inspectHello(ctx context.Context, x *Exchange, reply *jsonrpc.Message, record bool) (out *jsonrpc.Message, identity string) {
	var r map[string]json.RawMessage
	if json.Unmarshal(reply.Result, &r) != nil {
		return reply, ""
	}
	var findings []audit.Finding
	strip := false
	if launch, ok := s.cfg.Identities[x.Server]; ok && reportedServerInfo(r) != nil {
		var info pin.ServerInfo
		_ = json.Unmarshal(reportedServerInfo(r), &info) // malformed: pinned as empty, a change like any other
		it, err := pin.ServerItem(launch, info)
		if err != nil {
			return s.storeDown(x, err), ""
		}
		v, err := s.cfg.Pins.Check(ctx, x.Server, s.cfg.Mode, []pin.Observation{{Item: it}})
		if err != nil {
			return s.storeDown(x, err), ""
		}
		if v[0].Quarantined {
			strip, identity = true, v[0].Reason
			s.warnOnce(x.Server, pin.KindServer, pin.ServerIdentity, it.Hash, v[0].Reason)
			findings = append(findings, audit.Finding{Detector: "pin", Severity: "high", Message: "server identity quarantined: " + v[0].Reason, Path: "serverInfo"})
		}
	}
	// A key that differs only in case from "instructions" is what a client decoding with encoding/json
	// (case-insensitive, the last variant wins) shows its model, while the scan below reads the exact key:
	// such instructions are withheld, every variant of them.
	var variants []string
	for k := range r {
		if k != "instructions" && strings.EqualFold(k, "instructions") {
			variants = append(variants, k)
		}
	}
	if len(variants) > 0 {
		strip = true
		sort.Strings(variants)
		findings = append(findings, audit.Finding{Detector: "poison:ambiguous-keys", Severity: "high", Path: "instructions",
			Message: fmt.Sprintf("instructions withheld: the result has keys that differ only in case from \"instructions\" (%s), which clients read differently",
				strings.Join(variants, ", "))})
		s.log.Warn("inspect: server instructions withheld: keys that differ only in case from \"instructions\"", "server", x.Server, "keys", variants)
	}
	var instr string
	if json.Unmarshal(r["instructions"], &instr) == nil && instr != "" {
		it := pin.InstructionsItem(instr)
		rep := poison.Scan(poison.Surface{Server: x.Server, Instructions: instr}, poison.Context{})
		obs := pin.Observation{Item: it}
		for _, f := range rep.Findings {
			if f.Severity >= poison.Medium {
				findings = append(findings, audit.Finding{Detector: "poison:" + f.RuleID, Severity: f.Severity.String(), Message: f.Message, Path: f.Location})
			}
		}
		if s.cfg.ScanQuarantine && rep.Verdict >= s.cfg.QuarantineAt && len(rep.Findings) > 0 {
			obs.Poisoned = fmt.Sprintf("%s finding in the server instructions", rep.Verdict)
		}
		v, err := s.cfg.Pins.Check(ctx, x.Server, s.cfg.Mode, []pin.Observation{obs})
		if err != nil {
			return s.storeDown(x, err), ""
		}
		if v[0].Quarantined {
			strip = true
			s.warnOnce(x.Server, pin.KindInstructions, pin.KindInstructions, it.Hash, v[0].Reason)
			findings = append(findings, audit.Finding{Detector: "pin", Severity: "high", Message: "instructions withheld: " + v[0].Reason, Path: "instructions"})
		}
	}
	out = reply
	if _, has := r["instructions"]; (has || len(variants) > 0) && strip {
		delete(r, "instructions")
		for _, k := range variants {
			delete(r, k)
		}
		if b, err := jsonrpc.NewResult(reply.ID, r); err == nil {
			out = jsonrpc.MustDecode(b)
		}
	}
	if record {
		s.note(x, findings...)
		if s.cfg.SanitizeDescriptions {
			out = s.sanitized(x, out)
		}
	}
	return out, identity
}

// UpstreamHello inspects an initialize result the gateway obtained by itself (Stages.UpstreamHello): the
// server identity and instructions are checked like a client's initialize. It returns the result to keep
// (instructions removed when quarantined), or an error when the server's identity is quarantined or the pin
// store failed: the upstream is then not used (a restart, or the aggregate endpoint's connection, fails).
// Findings are logged, not recorded (no client exchange carries them).
func (s *inspectStage) UpstreamHello(ctx context.Context, server string, init *jsonrpc.Message, result json.RawMessage) (json.RawMessage, error) {
	if init == nil {
		return result, nil
	}
	reply := jsonrpc.MustDecode(mustResult(init.ID, result))
	x := &Exchange{Server: server, Direction: ClientToServer, Msg: init, Original: init}
	out, identity := s.inspectHello(ctx, x, reply, false)
	switch {
	case out.Kind != jsonrpc.KindResult:
		return nil, fmt.Errorf("mcpwarden cannot check server %q against its pins: the pin store cannot be used (see the gateway's log)", server)
	case identity != "":
		return nil, fmt.Errorf("mcpwarden quarantined server %q: its identity (command line or URL, and the name and version it reports) %s; "+
			"an operator can compare the old and new identity with `mcpwarden pins diff --config FILE --server %s --kind server` and accept it with "+
			"`mcpwarden pins approve --config FILE --server %s --kind server --item identity`", server, identityReason(identity), server, server)
	}
	if clean, changed := sanitize.JSON(out.Result); changed && s.cfg.SanitizeDescriptions {
		return clean, nil
	}
	return out.Result, nil
}

func mustResult(id jsonrpc.ID, result json.RawMessage) []byte {
	b, err := jsonrpc.NewResult(id, result)
	if err != nil {
		b, _ = jsonrpc.NewResult(id, map[string]any{})
	}
	return b
}

// reportedServerInfo is the serverInfo of an initialize or server/discover result: the result's serverInfo,
// or (2026-07-28) its _meta "io.modelcontextprotocol/serverInfo"; nil when the result has none (the identity
// is then not checked: a server that says nothing about itself has nothing to compare).
func reportedServerInfo(r map[string]json.RawMessage) json.RawMessage {
	if v, ok := r["serverInfo"]; ok && string(v) != "null" {
		return v
	}
	var meta map[string]json.RawMessage
	if json.Unmarshal(r["_meta"], &meta) == nil {
		if v, ok := meta["io.modelcontextprotocol/serverInfo"]; ok && string(v) != "null" {
			return v
		}
	}
	return nil
}

// guardServer refuses every request but initialize, server/discover and ping to a server whose identity is
// quarantined (its command line, URL or reported serverInfo changed since it was approved); nil lets it
// through.
func (s *inspectStage) guardServer(ctx context.Context, x *Exchange) *jsonrpc.Message {
	if _, ok := s.cfg.Identities[x.Server]; !ok {
		return nil
	}
	p, err := s.pin(ctx, x, x.Server, pin.KindServer, pin.ServerIdentity)
	if err != nil {
		return s.storeDown(x, err)
	}
	if p == nil || !p.Quarantined() {
		return nil
	}
	text := fmt.Sprintf("mcpwarden quarantined server %q: its identity (command line or URL, and the name and version it reports) %s. "+
		"Nothing was forwarded. An operator can compare the old and new identity with `mcpwarden pins diff --config FILE --server %s --kind server` "+
		"and accept it with `mcpwarden pins approve --config FILE --server %s --kind server --item identity`",
		x.Server, identityReason(p.PendingReason), x.Server, x.Server)
	data := map[string]any{"quarantined": true, "server": x.Server, "kind": pin.KindServer, "item": pin.ServerIdentity,
		"reason": p.PendingReason, "pending_hash": p.PendingHash, "approved_hash": p.ApprovedHash}
	s.note(x, audit.Finding{Detector: "pin", Severity: "high", Message: "request refused: server identity quarantined: " + p.PendingReason, Path: "serverInfo"})
	return jsonrpc.MustDecode(jsonrpc.NewErrorResponse(x.Msg.ID, jsonrpc.CodePolicyDenied, text, data))
}

// identityReason phrases a pin's pending reason for a server identity.
func identityReason(reason string) string {
	switch {
	case reason == "" || strings.HasPrefix(reason, "new item"):
		return "has not been approved (pinning mode strict)"
	case strings.HasPrefix(reason, "definition changed"):
		return "changed since it was approved"
	}
	return "is quarantined: " + reason
}

// checkLaunches compares the launch description of every server that has an identity pin with the one the
// config gives now, when the gateway starts: a server whose command line, package, program hash or URL was
// edited gets its identity quarantined before it is started or reached (with the serverInfo last seen, until
// it reports one).
func (s *inspectStage) checkLaunches(ctx context.Context) error {
	names := make([]string, 0, len(s.cfg.Identities))
	for name := range s.cfg.Identities {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p, err := s.cfg.Pins.Get(ctx, name, pin.KindServer, pin.ServerIdentity)
		if err != nil {
			return err
		}
		if p == nil {
			continue // never seen: pinned when it first reports its serverInfo
		}
		def, hash := p.ApprovedDef, p.ApprovedHash
		if p.PendingHash != "" {
			def, hash = p.PendingDef, p.PendingHash
		}
		_, info, err := pin.ParseServerItem(def)
		if err != nil {
			return fmt.Errorf("server %q: %w", name, err)
		}
		it, err := pin.ServerItem(s.cfg.Identities[name], info)
		if err != nil {
			return fmt.Errorf("server %q: %w", name, err)
		}
		if it.Hash == hash {
			continue
		}
		v, err := s.cfg.Pins.Check(ctx, name, s.cfg.Mode, []pin.Observation{{Item: it}})
		if err != nil {
			return err
		}
		if v[0].Quarantined {
			s.warnOnce(name, pin.KindServer, pin.ServerIdentity, it.Hash, v[0].Reason+" (the config's command line or URL differs from the approved one)")
		}
	}
	return nil
}

// serverLaunch is the launch description of a configured server, the config half of its identity pin: for
// stdio, the command line, the package a package runner runs and the program's pin.sha256; for remote
// servers, the transport and the URL (without user and password; the query only as a hash, since it may
// carry a token).
func serverLaunch(sc config.Server) json.RawMessage {
	m := map[string]any{}
	switch sc.Transport {
	case "", "stdio":
		m["transport"] = "stdio"
		m["command"] = sc.Command
		if pkg := config.CommandPackage(sc.Command); pkg != "" {
			m["package"] = pkg
		}
		if sc.Pin != nil && sc.Pin.SHA256 != "" {
			m["sha256"] = sc.Pin.SHA256
		}
	default:
		m["transport"] = sc.Transport
		u, err := url.Parse(sc.URL)
		if err != nil {
			m["url"] = sc.URL
			break
		}
		u.User = nil
		if u.RawQuery != "" {
			sum := sha256.Sum256([]byte(u.RawQuery))
			m["query_sha256"] = hex.EncodeToString(sum[:])
			u.RawQuery = ""
		}
		u.Fragment = ""
		m["url"] = u.String()
	}
	b, _ := json.Marshal(m)
	return b
}

// Policy finding names the inspect stage reports about the tool a tools/call targets (policy rules match them
// with findings:). They come from what inspect recorded earlier: the pin store (shared by replicas) and the
// scans of the lists this gateway inspected.
const (
	// FindingPinChanged and FindingRugPull: the tool's definition changed since it was approved and the
	// change awaits `mcpwarden pins approve` (the call is also refused by inspect: the tool is quarantined).
	FindingPinChanged = "pin_changed"
	FindingRugPull    = "rug_pull"
	// FindingQuarantined: the tool is quarantined, for any reason.
	FindingQuarantined = "quarantined"
	// FindingPoisonedTool: the scan of the tool's current definition found something of severity high or
	// more (policyFindingAt), or quarantined it; each such finding also adds "poison:<rule-id>".
	FindingPoisonedTool = "poisoned_tool"
	// FindingToolShadowing: the tool's description redefines or its name collides with another server's tool
	// (rules MW-TP050, MW-TP051) at policyFindingAt or more.
	FindingToolShadowing = "tool_shadowing"
	// FindingServerChanged: the server's identity pin is quarantined (its command line, URL or reported
	// serverInfo changed, or strict mode awaits its approval); inspect refuses the call anyway.
	FindingServerChanged = "server_changed"
	// FindingPinStoreDown: the pin store could not be read (inspect refuses the call anyway: fail closed).
	FindingPinStoreDown = "pin_store_unavailable"
)

// policyFindingAt is the lowest scan severity that becomes a policy finding. Medium findings (a tool named
// like another server's, an imperative sentence) are common in honest tools and only go to the audit trail:
// the shipped policy denies every call with a poison* finding.
const policyFindingAt = poison.High

// scanPolicyFindings turns a tool's scan into the policy findings it implies.
func scanPolicyFindings(sr scanResult) []string {
	var out []string
	if sr.sev >= policyFindingAt && len(sr.findings) > 0 {
		out = append(out, FindingPoisonedTool)
	}
	for _, f := range sr.findings {
		if f.Severity < policyFindingAt {
			continue
		}
		out = append(out, "poison:"+f.RuleID)
		if f.RuleID == poison.RuleShadowMention || f.RuleID == poison.RuleNameCollision {
			out = append(out, FindingToolShadowing)
		}
	}
	return out
}

// Findings returns the detector findings known about the tool x calls (nil for anything but tools/call), for
// the policy stage (④), which runs before inspect on the request path.
func (s *inspectStage) Findings(x *Exchange) []string {
	if x.Direction != ClientToServer || x.Msg == nil || x.Msg.Kind != jsonrpc.KindRequest || x.Msg.Method != "tools/call" {
		return nil
	}
	var out []string
	v, scanned := s.tools.Load(x.Server + "\x00" + x.Msg.Name)
	if scanned {
		out = append(out, v.([]string)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := s.pin(ctx, x, x.Server, pin.KindTool, x.Msg.Name)
	if err == nil && p != nil && !scanned {
		// Not listed through this process yet (a restart, another replica listed it): scan the definition
		// the store holds, the one awaiting approval when there is one (read whole: s.pin leaves it out).
		if full, ferr := s.cfg.Pins.Get(ctx, x.Server, pin.KindTool, x.Msg.Name); ferr != nil {
			p, err = nil, ferr
		} else if full != nil {
			p = full
		}
	}
	if err == nil && p != nil && !scanned {
		def, hash := p.ApprovedDef, p.ApprovedHash
		if p.PendingHash != "" {
			def, hash = p.PendingDef, p.PendingHash
		}
		if def != "" {
			others := s.otherServers(x.Server)
			out = append(out, scanPolicyFindings(s.scan(x.Server, "tools", json.RawMessage(def), hash, others, namesKey(others)))...)
		}
	}
	switch {
	case err != nil:
		s.log.Warn("inspect: pin store unavailable while computing policy findings", "server", x.Server, "err", err)
		out = append(out, FindingPinStoreDown)
	case p != nil && p.Quarantined():
		out = append(out, FindingQuarantined)
		if strings.HasPrefix(p.PendingReason, "poisoning scan") {
			out = append(out, FindingPoisonedTool)
		}
		if p.ApprovedHash != "" && p.PendingHash != "" && p.PendingHash != p.ApprovedHash {
			out = append(out, FindingPinChanged, FindingRugPull) // changed since approved (and maybe poisoned too)
		}
	}
	if _, ok := s.cfg.Identities[x.Server]; ok && err == nil {
		if sp, err := s.pin(ctx, x, x.Server, pin.KindServer, pin.ServerIdentity); err != nil {
			out = append(out, FindingPinStoreDown)
		} else if sp != nil && sp.Quarantined() {
			out = append(out, FindingServerChanged)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// scan runs the poisoning scanner on one list item, cached by the item's definition hash and the other
// servers' tool names.
func (s *inspectStage) scan(server, key string, raw json.RawMessage, hash string, others map[string][]string, othersKey string) scanResult {
	ck := server + "\x00" + key + "\x00" + hash + "\x00" + othersKey
	if v, ok := s.scans.Load(ck); ok {
		return v.(scanResult)
	}
	// Keys equal under case folding ("description" and "Description") are read one way by the scanner
	// (encoding/json structs: the last variant wins) and another by a client that matches keys exactly
	// (go-sdk): the scanner could pass a text the client shows the model. Such an item is not scanned but
	// quarantined: no honest server writes one.
	if err := jsonrpc.CaseVariantKeys(raw, key+" item"); err != nil {
		res := scanResult{sev: poison.High, findings: []poison.Finding{{RuleID: "ambiguous-keys", Severity: poison.High,
			Location: key, Message: "a list item that clients read differently: " + err.Error()}}}
		s.scans.Store(ck, res)
		return res
	}
	surf := poison.Surface{Server: server}
	var err error
	switch key {
	case "tools":
		var t poison.Tool
		err = json.Unmarshal(raw, &t)
		surf.Tools = []poison.Tool{t}
	case "prompts":
		var p poison.Prompt
		err = json.Unmarshal(raw, &p)
		surf.Prompts = []poison.Prompt{p}
	case "resourceTemplates":
		var t poison.ResourceTemplate
		err = json.Unmarshal(raw, &t)
		surf.ResourceTemplates = []poison.ResourceTemplate{t}
	case "resources":
		var r poison.Resource
		err = json.Unmarshal(raw, &r)
		surf.Resources = []poison.Resource{r}
	}
	var res scanResult
	if err != nil {
		// Fields of the wrong type: the server is not speaking MCP; treat as suspicious but unscanned.
		res = scanResult{sev: poison.Medium, findings: []poison.Finding{{RuleID: "malformed-item", Severity: poison.Medium,
			Location: key, Message: "a list item has fields of the wrong type: " + err.Error()}}}
	} else {
		rep := poison.Scan(surf, poison.Context{OtherServers: others})
		res = scanResult{sev: rep.Verdict, findings: rep.Findings}
	}
	s.scans.Store(ck, res)
	return res
}

func (s *inspectStage) rememberNames(server string, items []json.RawMessage) {
	names := make([]string, 0, len(items))
	for _, raw := range items {
		var t struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &t) == nil && t.Name != "" {
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	s.mu.Lock()
	s.names[server] = names
	s.mu.Unlock()
}

func (s *inspectStage) otherServers(server string) map[string][]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out map[string][]string
	for k, v := range s.names {
		if k == server {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[k] = v
	}
	return out
}

func namesKey(m map[string][]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%s\x01", k, strings.Join(m[k], "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (s *inspectStage) warnOnce(server, kind, name, hash, reason string) {
	if _, dup := s.warned.LoadOrStore(server+"\x00"+kind+"\x00"+name+"\x00"+hash, struct{}{}); dup {
		return
	}
	s.log.Warn("inspect: item quarantined", "server", server, "kind", kind, "name", name, "hash", hash, "reason", reason,
		"review", "mcpwarden pins diff --config "+s.cfg.ConfigHint+" --server "+server+" --item "+name)
	if s.cfg.OnQuarantine != nil {
		s.cfg.OnQuarantine(server, kind, name, reason)
	}
}

// sanitized returns reply with control sequences and invisible characters removed from its result.
func (s *inspectStage) sanitized(x *Exchange, reply *jsonrpc.Message) *jsonrpc.Message {
	clean, changed := sanitize.JSON(reply.Result)
	if !changed {
		return reply
	}
	b, err := jsonrpc.NewResult(reply.ID, json.RawMessage(clean))
	if err != nil {
		return reply
	}
	s.note(x, audit.Finding{Detector: "sanitize", Severity: "low", Message: "removed terminal escapes or invisible characters from the " + x.Msg.Method + " result"})
	return jsonrpc.MustDecode(b)
}

// note hands findings about x to the audit stage.
func (s *inspectStage) note(x *Exchange, fs ...audit.Finding) {
	if !s.cfg.RecordFindings || len(fs) == 0 {
		return
	}
	x.Note(fs...)
}

// inspectBuild is what buildInspect makes for BuildStages.
type inspectBuild struct {
	// Middleware is the stage (⑦).
	Middleware Middleware
	// Close closes the pin store.
	Close func() error
	// Findings returns the detector findings inspect knows about the tool a tools/call targets, for the
	// policy stage's PolicyStageConfig.Findings (one of possibly several finding sources).
	Findings func(x *Exchange) []string
	// UpstreamHello inspects the initialize results the gateway obtains by itself (Stages.UpstreamHello).
	UpstreamHello func(ctx context.Context, server string, init *jsonrpc.Message, result json.RawMessage) (json.RawMessage, error)
}

// buildInspect opens the pin store and builds the inspect stage from the config (pinning:, scan:), after
// checking the hashes of stdio programs pinned with servers[].pin.sha256.
func buildInspect(ctx context.Context, cfg *config.Config, onQuarantine func(server, kind, name, reason string), log *slog.Logger) (*inspectBuild, error) {
	if err := VerifyServerPins(cfg); err != nil {
		return nil, err
	}
	icfg := InspectStageConfig{Mode: pin.TOFU, QuarantineAt: poison.High, ScanQuarantine: true,
		SanitizeDescriptions: true, SanitizeResults: true, Logger: log, ConfigHint: cfg.Path, OnQuarantine: onQuarantine,
		RecordFindings: cfg.Audit.Enabled == nil || *cfg.Audit.Enabled}
	if p := cfg.Pinning; p != nil && p.Mode != "" {
		icfg.Mode = pin.Mode(p.Mode)
	}
	if sc := cfg.Scan; sc != nil {
		switch sc.QuarantineAt {
		case "", "off":
			icfg.ScanQuarantine = sc.QuarantineAt == ""
		default:
			sev, err := poison.ParseSeverity(sc.QuarantineAt)
			if err != nil {
				return nil, fmt.Errorf("scan.quarantine_at: %w", err)
			}
			icfg.QuarantineAt = sev
		}
		if sc.SanitizeDescriptions != nil {
			icfg.SanitizeDescriptions = *sc.SanitizeDescriptions
		}
		if sc.SanitizeResults != nil {
			icfg.SanitizeResults = *sc.SanitizeResults
		}
	}
	pins, err := pin.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	icfg.Pins = pins
	icfg.Identities = map[string]json.RawMessage{}
	for _, sc := range cfg.Servers {
		icfg.Identities[sc.Name] = serverLaunch(sc)
	}
	st, err := newInspectStage(icfg)
	if err != nil {
		_ = pins.Close()
		return nil, err
	}
	if err := st.checkLaunches(ctx); err != nil {
		_ = pins.Close()
		return nil, fmt.Errorf("inspect: checking the servers' identity pins: %w", err)
	}
	log.Info("inspect stage on", "pinning", icfg.Mode, "quarantine_at", icfg.QuarantineAt, "scan_quarantine", icfg.ScanQuarantine,
		"sanitize_descriptions", icfg.SanitizeDescriptions, "sanitize_results", icfg.SanitizeResults)
	return &inspectBuild{Middleware: st.middleware, Close: pins.Close, Findings: st.Findings, UpstreamHello: st.UpstreamHello}, nil
}

// VerifyServerPins checks every stdio server with servers[].pin.sha256 against the program it would run
// (command[0] looked up in PATH, or in the server's env PATH when it sets one): a missing program or a
// different hash is an error that says how to re-pin. The check runs when the gateway starts; the stdio
// launcher checks the pin again before every start of the process (upstream.StdioOptions.PinSHA256).
func VerifyServerPins(cfg *config.Config) error {
	var errs []error
	for _, s := range cfg.Servers {
		if s.Pin == nil || s.Pin.SHA256 == "" || len(s.Command) == 0 {
			continue
		}
		path, err := lookProgram(s.Command[0], s.Env["PATH"])
		if err != nil {
			errs = append(errs, fmt.Errorf("server %q: cannot find %s to check its pin.sha256: %w", s.Name, s.Command[0], err))
			continue
		}
		got, err := upstream.ProgramSHA256(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("server %q: cannot read %s to check its pin.sha256: %w", s.Name, path, err))
			continue
		}
		if got != s.Pin.SHA256 {
			errs = append(errs, &upstream.PinMismatchError{Server: s.Name, Path: path, Want: s.Pin.SHA256, Got: got})
		}
	}
	return errors.Join(errs...)
}

// lookProgram resolves a program name like exec.LookPath, in pathEnv when it is set.
func lookProgram(name, pathEnv string) (string, error) {
	if strings.Contains(name, "/") || pathEnv == "" {
		return exec.LookPath(name)
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in the server's PATH", name)
}
