package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Event is one thing that entered a session: a label brought in by a call's result.
type Event struct {
	Label string `json:"label"`
	// Server and Name say which call brought it (Name is the tool, prompt or resource).
	Server string `json:"server"`
	Name   string `json:"name"`
	// Why explains the label (its Assigned.Why, or the detector finding).
	Why string `json:"why"`
	// Ref is the audit reference of the call's request record when known ("chain:seq"), else "".
	Ref string    `json:"ref,omitempty"`
	At  time.Time `json:"at"`
}

// State is what a session holds: the labels that entered it (with the first and latest events of each),
// the servers whose data entered it, and the findings of the data detectors.
type State struct {
	Labels   []string
	Servers  []string
	Findings []string
}

// Shared is where several gateway replicas share session state (package cluster implements it on
// PostgreSQL). Load returns everything any replica added for the session; Add records what a replica saw
// enter it (only what was new to that replica).
type Shared interface {
	Load(ctx context.Context, key string) (events []Event, servers, findings []string, err error)
	Add(ctx context.Context, key string, events []Event, servers, findings []string) error
}

// Tracker keeps the data-flow state of every session. Safe for concurrent use.
type Tracker struct {
	// Shared, when set, shares the state with other replicas: StateContext merges what they added, and
	// RecordContext adds what is new here. Nil: the state lives in this process only.
	Shared Shared
	// TTL forgets a session idle for this long (0: 24 hours).
	TTL time.Duration
	// MaxSessions bounds the number of sessions tracked; the least recently used are forgotten first
	// (0: 100,000).
	MaxSessions int
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu       sync.Mutex
	sessions map[string]*session
	sweepAt  time.Time
}

// maxEvents bounds the events kept per label: the first ones (how the label came in) and the latest.
const maxEvents = 4

type session struct {
	prints   map[uint64]string  // fingerprints of private text → the call that brought it ("server.name")
	events   map[string][]Event // label → events (first maxEvents/2 and latest)
	counts   map[string]int
	servers  map[string]bool
	findings map[string]bool
	seen     time.Time
}

func (t *Tracker) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// State returns the session's current state (zero for a session never seen). The slices are sorted and
// owned by the caller.
func (t *Tracker) State(key string) State {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[key]
	now := t.now()
	if s != nil && now.Sub(s.seen) > t.ttl() {
		delete(t.sessions, key) // idle past its TTL: forgotten even before a sweep
		s = nil
	}
	if s == nil {
		return State{}
	}
	s.seen = now
	var st State
	for l := range s.events {
		st.Labels = append(st.Labels, l)
	}
	for sv := range s.servers {
		st.Servers = append(st.Servers, sv)
	}
	for f := range s.findings {
		st.Findings = append(st.Findings, f)
	}
	sort.Strings(st.Labels)
	sort.Strings(st.Servers)
	sort.Strings(st.Findings)
	return st
}

// StateContext is State after merging what other replicas added (Tracker.Shared). An error means the
// shared state could not be read; the caller should fail closed.
func (t *Tracker) StateContext(ctx context.Context, key string) (State, error) {
	if t.Shared != nil && key != "" {
		events, servers, findings, err := t.Shared.Load(ctx, key)
		if err != nil {
			return State{}, err
		}
		t.merge(key, events, servers, findings)
	}
	return t.State(key), nil
}

// merge adds state loaded from other replicas without counting it as new here.
func (t *Tracker) merge(key string, events []Event, servers, findings []string) {
	if len(events)+len(servers)+len(findings) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.session(key, t.now())
	for _, sv := range servers {
		s.servers[sv] = true
	}
	for _, f := range findings {
		if len(s.findings) < 256 {
			s.findings[f] = true
		}
	}
	for _, e := range events {
		evs := s.events[e.Label]
		if slices.ContainsFunc(evs, func(o Event) bool {
			return o.Server == e.Server && o.Name == e.Name && o.Ref == e.Ref && o.At.Equal(e.At)
		}) {
			continue
		}
		if len(evs) < maxEvents {
			s.events[e.Label] = append(evs, e)
		}
	}
}

// RecordContext is Record that also adds what is new to this replica to Tracker.Shared. An error means
// the other replicas may not learn of it; the caller should fail closed.
func (t *Tracker) RecordContext(ctx context.Context, key, server string, events []Event, findings []string) error {
	if t.Shared == nil || key == "" {
		t.Record(key, server, events, findings)
		return nil
	}
	before := t.State(key)
	t.Record(key, server, events, findings)
	var newEvents []Event
	var newServers, newFindings []string
	seen := map[string]bool{}
	for _, e := range events {
		if !slices.Contains(before.Labels, e.Label) && !seen[e.Label] {
			seen[e.Label] = true
			if e.At.IsZero() {
				e.At = t.now()
			}
			newEvents = append(newEvents, e)
		}
	}
	if server != "" && !slices.Contains(before.Servers, server) {
		newServers = append(newServers, server)
	}
	for _, f := range findings {
		if !slices.Contains(before.Findings, f) && !slices.Contains(newFindings, f) {
			newFindings = append(newFindings, f)
		}
	}
	return t.Shared.Add(ctx, key, newEvents, newServers, newFindings)
}

// Record adds what a call's result brought into the session: its server (when data came back), the
// events' labels, and detector findings.
func (t *Tracker) Record(key, server string, events []Event, findings []string) {
	if key == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.session(key, now)
	if server != "" {
		s.servers[server] = true
	}
	for _, f := range findings {
		if len(s.findings) < 256 {
			s.findings[f] = true
		}
	}
	for _, e := range events {
		if e.At.IsZero() {
			e.At = now
		}
		evs := s.events[e.Label]
		s.counts[e.Label]++
		if len(evs) < maxEvents {
			s.events[e.Label] = append(evs, e)
		} else {
			evs[len(evs)-1] = e // keep the first ones and the latest
		}
	}
}

// session returns the state of key, created when new. Called with t.mu held.
func (t *Tracker) session(key string, now time.Time) *session {
	if t.sessions == nil {
		t.sessions = map[string]*session{}
	}
	s := t.sessions[key]
	if s != nil && now.Sub(s.seen) > t.ttl() {
		delete(t.sessions, key)
		s = nil
	}
	if s == nil {
		t.sweep(now)
		s = &session{events: map[string][]Event{}, counts: map[string]int{}, servers: map[string]bool{}, findings: map[string]bool{}}
		t.sessions[key] = s
	}
	s.seen = now
	return s
}

// AddPrivate remembers the fingerprints of a private result's text (see prints.go), from source
// ("server.name"), so that CopiedFrom recognises it in later arguments. At most maxPrints are kept per
// session (the earliest).
func (t *Tracker) AddPrivate(key, source string, result json.RawMessage) {
	if key == "" || len(result) == 0 {
		return
	}
	ps := textPrints(result)
	if len(ps) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.session(key, t.now())
	if s.prints == nil {
		s.prints = make(map[uint64]string, len(ps))
	}
	for _, p := range ps {
		if len(s.prints) >= maxPrints {
			break
		}
		if _, ok := s.prints[p]; !ok {
			s.prints[p] = source
		}
	}
}

// CopiedFrom returns the sources ("server.name", sorted) whose private text the arguments carry: a run of
// at least MinCopy bytes (after lower-casing and collapsing whitespace) is always recognised.
func (t *Tracker) CopiedFrom(key string, args json.RawMessage) []string {
	t.mu.Lock()
	s := t.sessions[key]
	empty := s == nil || len(s.prints) == 0
	t.mu.Unlock()
	if empty || len(args) == 0 {
		return nil
	}
	hs := argHashes(args)
	t.mu.Lock()
	defer t.mu.Unlock()
	if s = t.sessions[key]; s == nil {
		return nil
	}
	var out []string
	for _, h := range hs {
		if src, ok := s.prints[h]; ok && !slices.Contains(out, src) {
			out = append(out, src)
		}
	}
	sort.Strings(out)
	return out
}

// Events returns the recorded events of the given labels (all labels when none are given), oldest first.
func (t *Tracker) Events(key string, labels ...string) []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[key]
	if s == nil {
		return nil
	}
	var out []Event
	for l, evs := range s.events {
		if len(labels) > 0 && !contains(labels, l) {
			continue
		}
		out = append(out, evs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Explain describes, in one line, how the given labels entered the session: which calls brought them.
func (t *Tracker) Explain(key string, labels ...string) string {
	evs := t.Events(key, labels...)
	if len(evs) == 0 {
		return ""
	}
	var parts []string
	for _, e := range evs {
		p := fmt.Sprintf("%s from %s.%s (%s", e.Label, e.Server, e.Name, e.Why)
		if e.Ref != "" {
			p += "; audit " + e.Ref
		}
		parts = append(parts, p+")")
	}
	return strings.Join(parts, "; ")
}

// Forget drops a session's state (its client ended it).
func (t *Tracker) Forget(key string) {
	t.mu.Lock()
	delete(t.sessions, key)
	t.mu.Unlock()
}

// Len is the number of sessions tracked.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

func (t *Tracker) ttl() time.Duration {
	if t.TTL <= 0 {
		return 24 * time.Hour
	}
	return t.TTL
}

// sweep forgets idle sessions, and the least recently used ones beyond MaxSessions. Called with t.mu held
// when a session is added; a full pass runs at most once a minute unless the cap is reached.
func (t *Tracker) sweep(now time.Time) {
	ttl, max := t.ttl(), t.MaxSessions
	if max <= 0 {
		max = 100_000
	}
	if len(t.sessions) < max && now.Before(t.sweepAt) {
		return
	}
	t.sweepAt = now.Add(time.Minute)
	for k, s := range t.sessions {
		if now.Sub(s.seen) > ttl {
			delete(t.sessions, k)
		}
	}
	if over := len(t.sessions) - max + 1; over > 0 {
		type kv struct {
			k    string
			seen time.Time
		}
		all := make([]kv, 0, len(t.sessions))
		for k, s := range t.sessions {
			all = append(all, kv{k, s.seen})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].seen.Before(all[j].seen) })
		for _, e := range all[:over] {
			delete(t.sessions, e.k)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
