package destructive

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestRedTeamCorpus runs testdata/redteam.tsv: attacks in every spelling the
// classifier must see (SQL, shell, Windows, NoSQL, tool names and options)
// and honest calls it must leave alone. See the file's header for the format.
func TestRedTeamCorpus(t *testing.T) {
	fh, err := os.Open("testdata/redteam.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	counts := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "//") {
			continue
		}
		parts := strings.SplitN(text, "\t", 3)
		if len(parts) != 3 {
			t.Fatalf("line %d: want 3 tab-separated fields: %q", line, text)
		}
		want, tool, arg := parts[0], parts[1], parts[2]
		var ti ToolInfo
		var args json.RawMessage
		switch tool {
		case "sql", "sh":
			var s string
			if err := json.Unmarshal([]byte(arg), &s); err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
			ti, args = sqlTool, sqlArgs(t, s)
			if tool == "sh" {
				ti, args = shellTool, shellArgs(t, s)
			}
		default:
			ti, args = ToolInfo{Name: tool}, json.RawMessage(arg)
		}
		f := Classify(ti, args, Options{Roots: []string{"/work/project"}})
		ask := f.Destructive || f.Incomplete || f.Shell.ParseError || f.SQL.ParseError
		counts[want]++
		switch want {
		case "D":
			if !ask {
				t.Errorf("line %d: missed: %s %s (roles %v)", line, tool, arg, f.Args.Roles)
			}
		case "S":
			if ask {
				t.Errorf("line %d: false alarm: %s %s: %v", line, tool, arg, f.Reasons)
			}
		case "W":
			if f.Destructive || f.ReadOnly {
				t.Errorf("line %d: %s %s: destructive=%v read_only=%v, want a plain write: %v", line, tool, arg, f.Destructive, f.ReadOnly, f.Reasons)
			}
		default:
			t.Fatalf("line %d: unknown expectation %q", line, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if counts["D"] < 450 || counts["S"] < 200 {
		t.Errorf("corpus shrank: %v", counts)
	}
}
