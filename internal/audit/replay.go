package audit

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// ReplayChange is one recorded call whose decision a candidate policy changes.
type ReplayChange struct {
	Time     time.Time `json:"time"`
	Record   string    `json:"record"`
	RecordID int64     `json:"-"`
	User     string    `json:"user"`
	Server   string    `json:"server"`
	Method   string    `json:"method"`
	Name     string    `json:"name"`
	Was      string    `json:"was"`
	Now      string    `json:"now"`
	Rule     string    `json:"rule,omitempty"`
	Reason   string    `json:"reason"`
}

// ReplayReport is what a candidate policy would have decided differently about recorded traffic.
type ReplayReport struct {
	Since            time.Time      `json:"since"`
	Policy           string         `json:"policy"`
	Version          string         `json:"version"`
	Evaluated        int            `json:"evaluated"`
	Unchanged        int            `json:"unchanged"`
	NewlyDenied      int            `json:"newly_denied"`
	NewlyAsked       int            `json:"newly_asked"`
	NewlyAllowed     int            `json:"newly_allowed"`
	WithoutArguments int            `json:"without_arguments"`
	Changes          []ReplayChange `json:"changes"`
	// Truncated is set when more changes than the limit were found (the counts cover all of them).
	Truncated bool `json:"truncated,omitempty"`
}

// Replay evaluates cand against every client request and notification recorded since the given time and
// reports the decisions that differ from the recorded ones. A request's recorded decision is on its
// response record (requests are written before the chain decides), so responses are matched to their
// requests by reference. At most maxChanges changes are listed (0: no limit).
func Replay(ctx context.Context, sink *SQLSink, cand *policy.Policy, since time.Time, maxChanges int) (*ReplayReport, error) {
	rep := &ReplayReport{Since: since, Policy: cand.Source, Version: cand.Version, Changes: []ReplayChange{}}
	type call struct {
		in       policy.Input
		ref      string
		id       int64
		time     time.Time
		user     string
		decision string
	}
	var calls []*call
	byRef := map[string]*call{}
	err := sink.Scan(ctx, Filter{Since: since}, func(sr *StoredRecord) error {
		r := &sr.Record
		if sr.DecodeErr != nil {
			return nil
		}
		if r.Direction == "server_to_client" && r.Parent != "" {
			if c := byRef[r.Parent]; c != nil && r.Decision != nil {
				c.decision = r.Decision.Action
			}
			return nil
		}
		if r.Direction != "client_to_server" || (r.Kind != "request" && r.Kind != "notification") || r.Method == "" {
			return nil
		}
		c := &call{ref: r.Ref(), id: sr.ID, time: r.Time, user: r.Principal.User, decision: r.DecisionAction(), in: policy.Input{
			Principal:  policy.Principal{User: r.Principal.User, Groups: r.Principal.Groups, Auth: r.Principal.AuthMethod},
			ClientName: r.Client.Name, ClientVersion: r.Client.Version, SessionID: r.SessionID,
			Server: r.Server, Method: r.Method, Name: r.Name, Arguments: r.Arguments,
		}}
		calls = append(calls, c)
		if r.Kind == "request" {
			byRef[c.ref] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range calls {
		if c.in.Method == "tools/call" && len(c.in.Arguments) == 0 {
			rep.WithoutArguments++
		}
		dec := cand.Evaluate(&c.in)
		rep.Evaluated++
		was := c.decision
		if was == "" || was == string(policy.Redact) || strings.HasPrefix(was, "monitor:") {
			was = string(policy.Allow) // no policy then, redacted but forwarded, or only monitored
		}
		now := string(dec.Effect)
		if now == was {
			rep.Unchanged++
			continue
		}
		switch dec.Effect {
		case policy.Deny:
			rep.NewlyDenied++
		case policy.Ask:
			rep.NewlyAsked++
		case policy.Allow:
			rep.NewlyAllowed++
		}
		if maxChanges > 0 && len(rep.Changes) >= maxChanges {
			rep.Truncated = true
			continue
		}
		rep.Changes = append(rep.Changes, ReplayChange{Time: c.time, Record: c.ref, RecordID: c.id, User: c.user,
			Server: c.in.Server, Method: c.in.Method, Name: c.in.Name, Was: was, Now: now, Rule: dec.RuleID, Reason: dec.Reason})
	}
	sort.SliceStable(rep.Changes, func(i, j int) bool { return rep.Changes[i].Time.Before(rep.Changes[j].Time) })
	return rep, nil
}
