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

// replayReport is what a candidate policy would have decided differently. It follows
// `mcpwarden policy replay` (cmd/mcpwarden/policy.go), which prints the same counts.
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
	err := sink.Scan(ctx, audit.Filter{Since: since}, func(sr *audit.StoredRecord) error {
		r := &sr.Record
		if sr.DecodeErr != nil || r.Direction != "client_to_server" || (r.Kind != "request" && r.Kind != "notification") || r.Method == "" {
			return nil
		}
		in := policy.Input{
			Principal:  policy.Principal{User: r.Principal.User, Groups: r.Principal.Groups, Auth: r.Principal.AuthMethod},
			ClientName: r.Client.Name, ClientVersion: r.Client.Version, SessionID: r.SessionID,
			Server: r.Server, Method: r.Method, Name: r.Name, Arguments: r.Arguments,
		}
		if r.Method == "tools/call" && len(r.Arguments) == 0 {
			rep.WithoutArguments++
		}
		dec := cand.Evaluate(&in)
		rep.Evaluated++
		was := r.DecisionAction()
		if was == "" || was == string(policy.Redact) || strings.HasPrefix(was, "monitor:") {
			was = string(policy.Allow) // no policy then, redacted but forwarded, or only monitored
		}
		now := string(dec.Effect)
		if now == was {
			rep.Unchanged++
			return nil
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
			return nil
		}
		rep.Changes = append(rep.Changes, replayChange{Time: r.Time, Record: r.Ref(), RecordID: sr.ID, User: r.Principal.User,
			Server: r.Server, Method: r.Method, Name: r.Name, Was: was, Now: now, Rule: dec.RuleID, Reason: dec.Reason})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rep.Changes, func(i, j int) bool { return rep.Changes[i].Time.Before(rep.Changes[j].Time) })
	return rep, nil
}
