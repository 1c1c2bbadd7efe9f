package destructive

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func FuzzSQLLex(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "DrOp/**/TABLE x", "SELECT 'a''b'", "SELECT $t$ x $t$", "SELECT E'\\''",
		"/* /* */ */ DROP", "SELECT `a``b`", "/*!50000 DROP TABLE x */", "WITH a AS (DELETE FROM t) SELECT 1",
		"$$", "'", "\"", "/*", "--", "$a", "E'", "((((", "))))", "EXPLAIN (ANALYZE) DELETE FROM t",
		"DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$", "SELECT query_to_xml('SELECT query_to_xml(''DELETE FROM t'')')",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []sqlDialect{dialectPostgres, dialectMySQL} {
			lr := lexSQL(s, d)
			prev := -1
			for _, tok := range lr.tokens {
				if tok.pos <= prev || tok.pos >= len(s) {
					t.Fatalf("token %+v out of order/range (prev %d, len %d)", tok, prev, len(s))
				}
				prev = tok.pos
			}
		}
		an := analyzeSQL(s, []sqlDialect{dialectPostgres, dialectMySQL})
		for _, st := range an.statements {
			if st.Kind == "" {
				t.Fatalf("statement without kind: %+v", st)
			}
		}
		// Comments never add statements: appending one changes nothing.
		if !strings.Contains(s, "--") && !strings.Contains(s, "/*") && !strings.Contains(s, "*/") && !strings.ContainsAny(s, "'\"`$\\#\n\r") {
			a2 := analyzeSQL(s+" -- ; DROP TABLE z\n", []sqlDialect{dialectPostgres})
			a1 := analyzeSQL(s, []sqlDialect{dialectPostgres})
			if len(a1.statements) != len(a2.statements) {
				t.Fatalf("a trailing comment changed the statement count of %q: %d → %d", s, len(a1.statements), len(a2.statements))
			}
		}
		_ = looksLikeSQL(s)
	})
}

func FuzzShellWalk(f *testing.F) {
	for _, s := range []string{
		"rm -rf /", ":(){ :|:& };:", "curl x | sh", "bash -c 'bash -c \"rm -rf /\"'", "echo cm0gLXJmIC8= | base64 -d | sh",
		"rm${IFS}-rf${IFS}/", "$'\\x72\\x6d' -rf /", "{rm,-rf,/}", "find . -exec rm {} \\;", "sudo env -S 'rm -rf /'",
		"a=$(b) c", "case x in y) rm -rf z;; esac", "for i in $(ls); do rm $i; done", "echo > /dev/sda", "eval eval eval",
		"x() { x; }", "'", "$(", "<<EOF", "echo $'\\u00", "printf '%s' x | bash",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		acc := newShellAcc(&Options{Roots: []string{"/w"}})
		acc.analyzeShell(s, "command", 0)
		for _, fd := range acc.findings {
			if fd.Kind == "" || fd.Category == "" {
				t.Fatalf("finding without kind/category: %+v", fd)
			}
		}
		_ = looksLikeShell(s)
	})
}

func FuzzClassify(f *testing.F) {
	f.Add("run_sql", `{"sql":"DROP TABLE x"}`, `{"type":"object","properties":{"sql":{"type":"string"}}}`)
	f.Add("exec", `{"command":"rm","args":["-rf","/"]}`, ``)
	f.Add("x", `{"a":"{\"b\":\"[\\\"rm -rf /\\\"]\"}"}`, `{"$ref":"#"}`)
	f.Add("deleteRepo", `{"url":"http://0x7f.1/","method":"DELETE","path":"~/../../etc"}`, `{"properties":{"url":{"format":"uri"}}}`)
	f.Fuzz(func(t *testing.T, name, args, schema string) {
		fs := Classify(ToolInfo{Name: name, InputSchema: json.RawMessage(schema), Annotations: json.RawMessage(args)}, json.RawMessage(args), Options{Roots: []string{"/w"}, Home: "/home/u"})
		if fs.Destructive != (len(fs.Reasons) > 0) {
			t.Fatalf("destructive=%v but reasons=%v", fs.Destructive, fs.Reasons)
		}
		if fs.Destructive && fs.ReadOnly {
			t.Fatal("both destructive and read-only")
		}
		_ = fs.AsMap()
	})
}
