package dashboard

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// replayChange is one recorded call whose decision the candidate policy changes.
type replayChange struct {
	Time                       time.Time
	Record                     string
	RecordID                   int64
	User, Server, Method, Name string
	Was, Now, Rule, Reason     string
}

// replayReport is what a candidate policy would have decided differently. It counts like `mcpwarden
// policy replay` (cmd/mcpwarden/policy.go), but takes each call's recorded decision from its response
// record, where the gateway records it.
type replayReport struct {
	Since                                 time.Time
	Evaluated, Unchanged                  int
	NewlyDenied, NewlyAsked, NewlyAllowed int
	WithoutArguments                      int
	Changes                               []replayChange
	Truncated                             bool
}

// maxReplayChanges caps the changes listed on the page (the counts cover everything).
const maxReplayChanges = 500

func replay(ctx context.Context, sink *audit.SQLSink, cand *policy.Policy, since time.Time) (*replayReport, error) {
	rep := &replayReport{Since: since}
	type call struct {
		in       policy.Input
		ref      string
		id       int64
		time     time.Time
		user     string
		decision string
	}
	// The decision of a request is on its response record (requests are recorded before the chain
	// decides), so requests are collected first and matched with their responses by reference.
	var calls []*call
	byRef := map[string]*call{}
	err := sink.Scan(ctx, audit.Filter{Since: since}, func(sr *audit.StoredRecord) error {
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
		if len(rep.Changes) >= maxReplayChanges {
			rep.Truncated = true
			continue
		}
		rep.Changes = append(rep.Changes, replayChange{Time: c.time, Record: c.ref, RecordID: c.id, User: c.user,
			Server: c.in.Server, Method: c.in.Method, Name: c.in.Name, Was: was, Now: now, Rule: dec.RuleID, Reason: dec.Reason})
	}
	sort.SliceStable(rep.Changes, func(i, j int) bool { return rep.Changes[i].Time.Before(rep.Changes[j].Time) })
	return rep, nil
}
