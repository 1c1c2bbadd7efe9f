package destructive

import (
	"slices"
	"strconv"
	"strings"
)

// SQL statement kinds reported in SQLStatement.Kind and SQLFacts.Kinds.
const (
	SQLSelect      = "select"
	SQLInsert      = "insert"
	SQLUpdate      = "update"
	SQLDelete      = "delete"
	SQLDDL         = "ddl"
	SQLGrant       = "grant"
	SQLRevoke      = "revoke"
	SQLTransaction = "transaction"
	SQLCopy        = "copy"
	SQLCall        = "call"
	SQLSet         = "set"
	SQLOther       = "other"
)

// SQL statement flags reported in SQLStatement.Flags and SQLFacts.Flags.
const (
	FlagDrop               = "drop"                 // DROP …, ALTER … DROP …
	FlagTruncate           = "truncate"             // TRUNCATE
	FlagDelete             = "delete"               // any DELETE (also MERGE … DELETE)
	FlagDeleteWithoutWhere = "delete_without_where" // DELETE with no top-level WHERE
	FlagUpdateWithoutWhere = "update_without_where" // UPDATE with no top-level WHERE
	FlagWhereAlwaysTrue    = "where_always_true"    // WHERE true, WHERE 1=1
	FlagWriteInCTE         = "write_in_cte"         // WITH x AS (DELETE …)
	FlagSelectInto         = "select_into"          // SELECT … INTO
	FlagIntoOutfile        = "into_outfile"         // SELECT … INTO OUTFILE/DUMPFILE
	FlagCopyProgram        = "copy_program"         // COPY … TO/FROM PROGRAM
	FlagCopyFile           = "copy_file"            // COPY … TO/FROM 'server file'
	FlagDangerousFunction  = "dangerous_function"   // pg_terminate_backend, lo_unlink, …
	FlagPrivilegedFunction = "privileged_function"  // pg_read_file, dblink, …
	FlagDynamicSQL         = "dynamic_sql"          // EXECUTE/DO/PREPARE with SQL in strings
	FlagDestructiveBody    = "destructive_body"     // CREATE FUNCTION/RULE whose body destroys
	FlagSetRole            = "set_role"             // SET ROLE / SESSION AUTHORIZATION
	FlagGrant              = "grant"
	FlagRevoke             = "revoke"
	// FlagPrivilegeEscalation: GRANT of ALL, a role, global or admin privileges,
	// to PUBLIC or WITH GRANT/ADMIN OPTION; ALTER USER/ROLE; CREATE USER/ROLE
	// with superuser-like options; SET PASSWORD.
	FlagPrivilegeEscalation = "privilege_escalation"
	FlagServerConfig        = "server_config"    // ALTER SYSTEM, SET GLOBAL/PERSIST, PRAGMA writable_schema, LOAD 'lib'
	FlagAttachFile          = "attach_file"      // SQLite ATTACH 'file' (creates or opens a file anywhere)
	FlagKill                = "kill"             // KILL [QUERY|CONNECTION], SHUTDOWN
	FlagDestructiveCall     = "destructive_call" // CALL/EXEC of a procedure named like delete_…, purge_…
)

// destructiveSQLFlags are the flags that make a call destructive.
var destructiveSQLFlags = map[string]bool{
	FlagDrop: true, FlagTruncate: true, FlagDelete: true, FlagDeleteWithoutWhere: true,
	FlagUpdateWithoutWhere: true, FlagCopyProgram: true, FlagDangerousFunction: true,
	FlagDestructiveBody: true, FlagRevoke: true, FlagIntoOutfile: true, FlagPrivilegeEscalation: true,
	FlagServerConfig: true, FlagAttachFile: true, FlagKill: true, FlagDestructiveCall: true,
}

// dangerousSQLFunctions destroy data, kill sessions, write server files or run
// programs.
var dangerousSQLFunctions = map[string]bool{
	"pg_terminate_backend": true, "pg_cancel_backend": true, "lo_unlink": true, "lo_export": true,
	"pg_file_write": true, "pg_file_unlink": true, "pg_file_rename": true, "pg_drop_replication_slot": true,
	"pg_promote": true, "pg_reload_conf": true, "pg_rotate_logfile": true, "pg_switch_wal": true,
	"set_config": true, "setval": true, "dblink_exec": true, "xp_cmdshell": true, "sys_exec": true,
	"sys_eval": true, "sp_oacreate": true, "sp_configure": true, "pg_replication_origin_drop": true,
	"sp_addsrvrolemember": true, "sp_addrolemember": true, "sp_droplogin": true, "sp_dropuser": true,
	"sp_password": true, "sp_msforeachtable": true, "sp_msforeachdb": true, "sp_oamethod": true,
	"sp_start_job": true, "sp_add_job": true, "sp_detach_db": true, "sp_delete_database_backuphistory": true,
	"xp_regwrite": true, "xp_regdeletekey": true, "xp_regdeletevalue": true, "xp_delete_file": true,
	"pg_drop_replication_slot_all": true, "lo_truncate": true, "lo_put": true, "lo_from_bytea": true,
	"drop_chunks": true, "pg_logical_emit_message": true,
}

// privilegedSQLFunctions read server files or reach other servers.
var privilegedSQLFunctions = map[string]bool{
	"pg_read_file": true, "pg_read_binary_file": true, "pg_ls_dir": true, "pg_stat_file": true,
	"lo_import": true, "load_file": true, "dblink": true, "dblink_connect": true, "pg_sleep": true,
	"query_to_xml": true, "query_to_xml_and_xmlschema": true, "query_to_xmlschema": true,
	"cursor_to_xml": true, "sp_executesql": true, "pg_ls_logdir": true, "pg_ls_waldir": true,
}

// sqlExecFunctions take SQL text as a string argument and run it.
var sqlExecFunctions = map[string]bool{
	"query_to_xml": true, "query_to_xml_and_xmlschema": true, "query_to_xmlschema": true,
	"dblink": true, "dblink_exec": true, "sp_executesql": true, "exec": true, "execute": true,
}

// SQLStatement describes one statement of an SQL text.
type SQLStatement struct {
	// Kind is one of select, insert, update, delete, ddl, grant, revoke,
	// transaction, copy, call, set, other.
	Kind string `json:"kind"`
	// Verb is the statement's leading keyword (e.g. "drop", "with", "merge").
	Verb string `json:"verb"`
	// Object is the object type of DDL, e.g. "table", "database".
	Object string `json:"object,omitempty"`
	// Flags lists the risk flags of the statement, sorted.
	Flags []string `json:"flags"`
	// Write is set when the statement can change state.
	Write bool `json:"write"`
	// Dialect is set ("postgres" or "mysql") when the dialects read the text
	// differently and this statement is one dialect's reading.
	Dialect string `json:"dialect,omitempty"`
	// Source is the argument path that held the statement.
	Source string `json:"source"`
	// Text is the statement's source text, shortened to 200 bytes.
	Text string `json:"text"`
}

type stmtResult struct {
	kind, verb, object string
	flags              map[string]bool
	funcs              map[string]bool
	write              bool
}

func newStmtResult() *stmtResult {
	return &stmtResult{flags: map[string]bool{}, funcs: map[string]bool{}}
}

func (r *stmtResult) merge(o *stmtResult) {
	for f := range o.flags {
		r.flags[f] = true
	}
	for f := range o.funcs {
		r.funcs[f] = true
	}
	r.write = r.write || o.write
}

func (r *stmtResult) destructive() bool {
	for f := range r.flags {
		if destructiveSQLFlags[f] {
			return true
		}
	}
	return false
}

// maxSQLNesting bounds recursion into SQL held in strings and parentheses.
const maxSQLNesting = 6

// sqlAnalysis is the result of reading one SQL text.
type sqlAnalysis struct {
	statements []SQLStatement
	funcs      []string
	parseError bool
	ambiguous  bool
}

// analyzeSQL classifies src. dialects lists the lexical readings to apply; when
// the readings disagree, the statements of every reading are reported.
func analyzeSQL(src string, dialects []sqlDialect) sqlAnalysis {
	var out sqlAnalysis
	type reading struct {
		d     sqlDialect
		stmts []SQLStatement
		funcs map[string]bool
		bad   bool
	}
	var readings []reading
	for _, d := range dialects {
		lr := lexSQL(src, d)
		rd := reading{d: d, funcs: map[string]bool{}, bad: lr.unterminated}
		for _, seg := range splitStatements(lr.tokens) {
			res := classifyStatement(seg, d, 0, false)
			if res == nil {
				continue
			}
			rd.stmts = append(rd.stmts, res.toStatement(src, seg))
			for f := range res.funcs {
				rd.funcs[f] = true
			}
		}
		readings = append(readings, rd)
	}
	if len(readings) == 0 {
		return out
	}
	agree := true
	for _, rd := range readings[1:] {
		if !sameStatements(readings[0].stmts, rd.stmts) {
			agree = false
		}
	}
	funcs := map[string]bool{}
	out.parseError = true
	for i, rd := range readings {
		if !rd.bad {
			out.parseError = false
		}
		for f := range rd.funcs {
			funcs[f] = true
		}
		if agree && i > 0 {
			continue
		}
		for _, st := range rd.stmts {
			if !agree {
				st.Dialect = rd.d.String()
			}
			out.statements = append(out.statements, st)
		}
	}
	out.ambiguous = !agree
	out.funcs = sortedKeys(funcs)
	return out
}

func sameStatements(a, b []SQLStatement) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].Verb != b[i].Verb || !slices.Equal(a[i].Flags, b[i].Flags) {
			return false
		}
	}
	return true
}

func (r *stmtResult) toStatement(src string, seg []sqlToken) SQLStatement {
	start := seg[0].pos
	end := len(src)
	if cap(seg) > len(seg) {
		end = seg[:len(seg)+1][len(seg)].pos // the terminating ";"
	}
	return SQLStatement{
		Kind:   r.kind,
		Verb:   r.verb,
		Object: r.object,
		Flags:  sortedKeys(r.flags),
		Write:  r.write,
		Text:   shorten(strings.TrimSpace(src[start:end]), 200),
	}
}

// splitStatements splits tokens at semicolons, dropping empty statements.
func splitStatements(toks []sqlToken) [][]sqlToken {
	var out [][]sqlToken
	start := 0
	for i, t := range toks {
		if t.kind == tokPunct && t.text == ";" {
			if i > start {
				// Keep the ";" in the slice's capacity so the text end is known.
				out = append(out, toks[start:i:i+1])
			}
			start = i + 1
		}
	}
	if start < len(toks) {
		out = append(out, toks[start:len(toks):len(toks)])
	}
	return out
}

func isWord(t sqlToken, w string) bool { return t.kind == tokWord && t.text == w }

func isPunct(t sqlToken, p string) bool { return t.kind == tokPunct && t.text == p }

// matchParen returns the index of the ")" matching the "(" at toks[i], or
// len(toks) when it is not closed.
func matchParen(toks []sqlToken, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch {
		case isPunct(toks[j], "("):
			depth++
		case isPunct(toks[j], ")"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(toks)
}

// topLevelWord returns the index of the first bare word from words at
// parenthesis depth 0, starting at from, or -1.
func topLevelWord(toks []sqlToken, from int, words ...string) int {
	depth := 0
	for j := from; j < len(toks); j++ {
		t := toks[j]
		switch {
		case isPunct(t, "("):
			depth++
		case isPunct(t, ")"):
			if depth > 0 {
				depth--
			}
		case depth == 0 && t.kind == tokWord && slices.Contains(words, t.text):
			return j
		}
	}
	return -1
}

var statementStarters = map[string]bool{
	"select": true, "insert": true, "update": true, "delete": true, "merge": true, "replace": true,
	"upsert": true, "with": true, "values": true, "table": true, "create": true, "alter": true,
	"drop": true, "truncate": true, "rename": true, "comment": true, "grant": true, "revoke": true,
	"copy": true, "call": true, "exec": true, "execute": true, "do": true, "perform": true,
	"set": true, "reset": true, "explain": true, "show": true, "describe": true, "desc": true,
	"prepare": true, "begin": true, "start": true, "commit": true, "rollback": true, "savepoint": true,
	"release": true, "end": true, "abort": true, "vacuum": true, "analyze": true, "analyse": true,
	"reindex": true, "cluster": true, "lock": true, "load": true, "pragma": true, "attach": true,
	"detach": true, "listen": true, "notify": true, "discard": true, "checkpoint": true,
	"refresh": true, "reassign": true, "security": true, "import": true, "use": true, "handler": true,
	"unlisten": true, "fetch": true, "move": true, "close": true, "declare": true, "deallocate": true,
	"flush": true, "kill": true, "purge": true, "shutdown": true, "optimize": true, "repair": true,
	"uninstall": true, "install": true, "match": true, "optional": true, "unwind": true,
	"flushall": true, "flushdb": true,
}

// classifyStatement classifies one statement's tokens. code is set inside
// procedural bodies (DO blocks, functions), where a statement may be preceded
// by control-flow words. It returns nil for an empty statement.
func classifyStatement(toks []sqlToken, d sqlDialect, nest int, code bool) *stmtResult {
	// Skip wrapping parentheses: (SELECT 1).
	for len(toks) > 0 && isPunct(toks[0], "(") {
		toks = toks[1:]
	}
	if len(toks) == 0 {
		return nil
	}
	if code {
		// In procedural code skip to the first statement keyword.
		for k, t := range toks {
			if t.kind == tokWord && statementStarters[t.text] && t.text != "begin" && t.text != "end" && t.text != "declare" {
				toks = toks[k:]
				break
			}
		}
	}
	r := newStmtResult()
	first := toks[0]
	if first.kind != tokWord {
		r.kind, r.verb, r.write = SQLOther, "", true
		scanFunctions(toks, d, nest, r)
		return r
	}
	r.verb = first.text
	switch first.text {
	case "select", "values", "table", "show", "describe", "desc", "fetch":
		r.kind = SQLSelect
		if first.text == "select" {
			if k := topLevelWord(toks, 1, "into"); k >= 0 {
				r.flags[FlagSelectInto] = true
				r.write = true
				if k+1 < len(toks) && (isWord(toks[k+1], "outfile") || isWord(toks[k+1], "dumpfile")) {
					r.flags[FlagIntoOutfile] = true
				}
			}
		}
	case "with":
		classifyWith(toks, d, nest, r)
	case "insert", "replace", "upsert":
		r.kind, r.write = SQLInsert, true
		if k := topLevelWord(toks, 1, "overwrite"); k >= 0 && k <= 2 {
			r.flags[FlagDelete] = true
		}
	case "update":
		r.kind, r.write = SQLUpdate, true
		checkWhere(toks, r, FlagUpdateWithoutWhere)
	case "delete":
		r.kind, r.write = SQLDelete, true
		r.flags[FlagDelete] = true
		checkWhere(toks, r, FlagDeleteWithoutWhere)
	case "merge":
		r.kind, r.write = SQLUpdate, true
		if topLevelWord(toks, 1, "delete") >= 0 {
			r.flags[FlagDelete] = true
		}
	case "create", "alter", "drop", "truncate", "rename", "comment":
		r.kind, r.write = SQLDDL, true
		r.object = ddlObject(toks[1:])
		switch first.text {
		case "drop":
			r.flags[FlagDrop] = true
		case "truncate":
			r.flags[FlagTruncate] = true
			r.object = "table"
		case "alter":
			switch r.object {
			case "user", "role", "login", "group":
				r.flags[FlagPrivilegeEscalation] = true
			case "system", "database", "server":
				if topLevelWord(toks, 2, "set", "reset") >= 0 && (r.object == "system" || r.object == "server") {
					r.flags[FlagServerConfig] = true
				}
			}
			if topLevelWord(toks, 1, "drop") >= 0 {
				r.flags[FlagDrop] = true
			}
			if topLevelWord(toks, 1, "truncate") >= 0 {
				r.flags[FlagTruncate] = true
			}
		case "create":
			if (r.object == "user" || r.object == "role" || r.object == "login") &&
				topLevelWord(toks, 2, "superuser", "createrole", "createdb", "bypassrls", "replication", "sysadmin", "admin", "inherit") >= 0 {
				r.flags[FlagPrivilegeEscalation] = true
			}
			// Bodies of functions, procedures, rules and triggers run later;
			// flag a body that would destroy.
			body := analyzeStringBodies(toks, d, nest, true)
			ruleBody := (r.object == "rule" || r.object == "trigger") && topLevelWord(toks, 1, "delete", "drop", "truncate") >= 0
			if body != nil && body.destructive() || ruleBody {
				r.flags[FlagDestructiveBody] = true
			}
		}
	case "grant":
		r.kind, r.write = SQLGrant, true
		r.flags[FlagGrant] = true
		if grantEscalates(toks) {
			r.flags[FlagPrivilegeEscalation] = true
		}
	case "revoke":
		r.kind, r.write = SQLRevoke, true
		r.flags[FlagRevoke] = true
	case "begin", "start", "commit", "rollback", "savepoint", "release", "end", "abort":
		r.kind = SQLTransaction
	case "copy":
		r.kind = SQLCopy
		if k := topLevelWord(toks, 1, "to", "from"); k >= 0 {
			if toks[k].text == "from" {
				r.write = true
			}
			if k+1 < len(toks) {
				next := toks[k+1]
				switch {
				case isWord(next, "program"):
					r.flags[FlagCopyProgram] = true
					r.write = true
				case next.kind == tokString:
					r.flags[FlagCopyFile] = true
					r.write = true
					if toks[k].text == "to" {
						// Writes a file on the database server, like INTO OUTFILE.
						r.flags[FlagIntoOutfile] = true
					}
				}
			}
		}
	case "call", "exec", "execute", "do", "perform", "prepare":
		if first.text == "prepare" && len(toks) > 1 && isWord(toks[1], "transaction") {
			r.kind = SQLTransaction
			break
		}
		r.kind, r.write = SQLCall, true
		if first.text == "perform" {
			r.kind, r.write = SQLSelect, false
		}
		if body := analyzeStringBodies(toks, d, nest, first.text == "do"); body != nil {
			r.flags[FlagDynamicSQL] = true
			r.merge(body)
		}
		switch first.text {
		case "prepare":
			// PREPARE name [(types)] AS statement: the statement runs on EXECUTE.
			if k := topLevelWord(toks, 1, "as"); k >= 0 && nest < maxSQLNesting {
				if body := classifyStatement(toks[k+1:], d, nest+1, false); body != nil {
					r.flags[FlagDynamicSQL] = true
					r.merge(body)
				}
			}
		case "call", "exec", "execute":
			classifyProcedureCall(toks[1:], r)
		}
	case "set", "reset":
		r.kind, r.write = SQLSet, true
		if len(toks) > 1 {
			w := toks[1]
			if isWord(w, "session") || isWord(w, "local") {
				if len(toks) > 2 {
					w = toks[2]
				}
			}
			if isWord(w, "role") || isWord(w, "authorization") {
				r.flags[FlagSetRole] = true
			}
			switch {
			case isWord(toks[1], "global") || isWord(toks[1], "persist") || isWord(toks[1], "persist_only"),
				toks[1].kind == tokPunct && toks[1].text == "@" && len(toks) > 3 && isPunct(toks[2], "@") &&
					(isWord(toks[3], "global") || isWord(toks[3], "persist")):
				r.flags[FlagServerConfig] = true
			case isWord(toks[1], "password"):
				r.flags[FlagPrivilegeEscalation] = true
			}
		}
	case "explain":
		classifyExplain(toks, d, nest, r)
	case "pragma":
		// SQLite: PRAGMA x reads, PRAGMA x = v writes; writable_schema lets
		// the schema itself be rewritten (and the file corrupted).
		r.kind = SQLSelect
		if topLevelPunct(toks, "=") || topLevelWord(toks, 1, "on", "off", "true", "false") >= 0 {
			r.kind, r.write = SQLSet, true
		}
		if topLevelWord(toks, 1, "writable_schema", "schema_version") >= 0 && r.write {
			r.flags[FlagServerConfig] = true
		}
	case "attach":
		r.kind, r.write = SQLOther, true
		for _, t := range toks[1:] {
			if t.kind == tokString {
				r.flags[FlagAttachFile] = true
			}
		}
	case "load":
		r.kind, r.write = SQLOther, true
		if len(toks) > 1 && toks[1].kind == tokString {
			// Postgres LOAD 'library': runs a shared library in the server.
			r.flags[FlagServerConfig] = true
		}
	case "kill", "shutdown":
		r.kind, r.write = SQLOther, true
		r.flags[FlagKill] = true
	case "flushall", "flushdb":
		// Redis commands sent as a query: empty every key.
		r.kind, r.write = SQLOther, true
		r.flags[FlagTruncate] = true
	case "match", "optional", "unwind":
		classifyCypher(toks, r)
	case "detach":
		// SQLite DETACH DATABASE x, or a Cypher fragment "DETACH DELETE n"
		// (apoc.periodic.iterate's action).
		r.kind, r.write = SQLOther, true
		if len(toks) > 1 && isWord(toks[1], "delete") {
			classifyCypher(toks, r)
		}
	default:
		r.kind, r.write = SQLOther, true
	}
	scanFunctions(toks, d, nest, r)
	return r
}

// classifyCypher handles a Cypher (Neo4j, openCypher, GQL) query: MATCH …
// [DETACH] DELETE removes nodes and relationships; SET, REMOVE, CREATE and MERGE
// write.
func classifyCypher(toks []sqlToken, r *stmtResult) {
	r.kind = SQLSelect
	for _, t := range toks {
		if t.kind != tokWord {
			continue
		}
		switch t.text {
		case "delete", "detach":
			r.kind, r.write = SQLDelete, true
			r.flags[FlagDelete] = true
		case "set", "remove", "create", "merge", "foreach", "load":
			if r.kind == SQLSelect {
				r.kind = SQLUpdate
			}
			r.write = true
		}
	}
}

// classifyProcedureCall flags CALL/EXEC of a dangerous system procedure
// (EXEC master..xp_cmdshell 'cmd', EXEC sp_addsrvrolemember …) and of a
// procedure whose name starts with a destructive verb (CALL purge_orders()).
// toks follow the CALL/EXEC keyword.
func classifyProcedureCall(toks []sqlToken, r *stmtResult) {
	// T-SQL: EXEC @ret = proc …
	if len(toks) > 2 && toks[0].kind == tokPunct && toks[0].text == "@" {
		if k := slices.IndexFunc(toks, func(t sqlToken) bool { return isPunct(t, "=") }); k > 0 && k < 4 {
			toks = toks[k+1:]
		}
	}
	// The last part of a dotted name: master..xp_cmdshell, dbo.purge_all.
	name := ""
	for i := 0; i < len(toks) && (toks[i].kind == tokWord || toks[i].kind == tokQIdent); {
		name = strings.ToLower(toks[i].text)
		j := i + 1
		for j < len(toks) && isPunct(toks[j], ".") {
			j++
		}
		if j == i+1 {
			break
		}
		i = j
	}
	if name == "" {
		return
	}
	if dangerousSQLFunctions[name] {
		r.flags[FlagDangerousFunction] = true
		r.funcs[name] = true
	}
	if tf := classifyToolName(name); tf.Destructive {
		r.flags[FlagDestructiveCall] = true
	}
}

// grantEscalates reports whether a GRANT hands out more than object
// privileges to a named grantee: ALL, a role (no ON), global or server-admin
// privileges, a grant to PUBLIC, or the right to grant further.
func grantEscalates(toks []sqlToken) bool {
	on := topLevelWord(toks, 1, "on")
	if on < 0 {
		return true // GRANT role TO user
	}
	for _, t := range toks[1:on] {
		if t.kind == tokWord && (t.text == "all" || t.text == "super" || t.text == "file" || t.text == "process" ||
			t.text == "shutdown" || t.text == "reload" || t.text == "control" || t.text == "impersonate" || t.text == "execute") {
			return true
		}
	}
	// MySQL ON *.*: every database.
	if on+3 < len(toks) && isPunct(toks[on+1], "*") && isPunct(toks[on+2], ".") && isPunct(toks[on+3], "*") {
		return true
	}
	if to := topLevelWord(toks, on+1, "to"); to >= 0 && topLevelWord(toks, to+1, "public") >= 0 {
		return true
	}
	if w := topLevelWord(toks, on+1, "with"); w >= 0 && w+1 < len(toks) && (isWord(toks[w+1], "grant") || isWord(toks[w+1], "admin")) {
		return true
	}
	return false
}

func topLevelPunct(toks []sqlToken, p string) bool {
	depth := 0
	for _, t := range toks {
		switch {
		case isPunct(t, "("):
			depth++
		case isPunct(t, ")"):
			depth--
		case depth == 0 && isPunct(t, p):
			return true
		}
	}
	return false
}

// classifyWith handles WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (body), … main.
func classifyWith(toks []sqlToken, d sqlDialect, nest int, r *stmtResult) {
	i := 1
	if i < len(toks) && isWord(toks[i], "recursive") {
		i++
	}
	for i < len(toks) {
		// CTE name, optional column list.
		i++
		if i < len(toks) && isPunct(toks[i], "(") {
			i = matchParen(toks, i) + 1
		}
		for i < len(toks) && (isWord(toks[i], "as") || isWord(toks[i], "not") || isWord(toks[i], "materialized")) {
			i++
		}
		if i >= len(toks) || !isPunct(toks[i], "(") {
			break
		}
		end := matchParen(toks, i)
		if nest < maxSQLNesting {
			if body := classifyStatement(toks[i+1:min(end, len(toks))], d, nest+1, false); body != nil {
				if body.write {
					r.flags[FlagWriteInCTE] = true
				}
				r.merge(body)
			}
		}
		i = end + 1
		// Skip SEARCH/CYCLE clauses up to the next "," or main statement.
		for i < len(toks) && !isPunct(toks[i], ",") && !(toks[i].kind == tokWord && statementStarters[toks[i].text]) {
			if isPunct(toks[i], "(") {
				i = matchParen(toks, i)
			}
			i++
		}
		if i < len(toks) && isPunct(toks[i], ",") {
			i++
			continue
		}
		break
	}
	if i >= len(toks) || nest >= maxSQLNesting {
		r.kind = SQLSelect
		return
	}
	main := classifyStatement(toks[i:], d, nest+1, false)
	if main == nil {
		r.kind = SQLSelect
		return
	}
	r.kind = main.kind
	r.object = main.object
	r.merge(main)
}

func classifyExplain(toks []sqlToken, d sqlDialect, nest int, r *stmtResult) {
	analyze := false
	i := 1
	for i < len(toks) {
		t := toks[i]
		if isPunct(t, "(") {
			end := matchParen(toks, i)
			if topLevelWord(toks[i+1:min(end, len(toks))], 0, "analyze", "analyse") >= 0 {
				analyze = true
			}
			i = end + 1
			continue
		}
		if t.kind == tokWord && !statementStarters[t.text] || isWord(t, "analyze") || isWord(t, "analyse") {
			if t.text == "analyze" || t.text == "analyse" {
				analyze = true
			}
			i++
			continue
		}
		break
	}
	r.kind = SQLSelect
	if i >= len(toks) || nest >= maxSQLNesting {
		return
	}
	inner := classifyStatement(toks[i:], d, nest+1, false)
	if inner == nil || !analyze {
		return
	}
	// EXPLAIN ANALYZE runs the statement.
	r.kind = inner.kind
	r.object = inner.object
	r.merge(inner)
}

var ddlSkip = map[string]bool{
	"or": true, "replace": true, "temporary": true, "temp": true, "unique": true, "if": true,
	"exists": true, "not": true, "global": true, "local": true, "unlogged": true, "materialized": true,
	"concurrently": true, "definer": true, "algorithm": true, "sql": true, "security": true,
	"external": true, "recursive": true, "foreign": true, "constraint": true, "on": true, "only": true,
	"public": true, "trusted": true, "procedural": true, "default": true, "online": true, "offline": true,
	"ignore": true, "virtual": true, "undefined": true, "merge": true, "temptable": true, "invoker": true,
	"=": true,
}

func ddlObject(toks []sqlToken) string {
	for _, t := range toks {
		if t.kind != tokWord {
			if t.kind == tokPunct && t.text == "=" {
				continue
			}
			return ""
		}
		if !ddlSkip[t.text] {
			return t.text
		}
	}
	return ""
}

// checkWhere sets flag when the statement has no WHERE at its top level (a
// WHERE in a subquery does not restrict the statement), and also when the WHERE
// is a tautology.
func checkWhere(toks []sqlToken, r *stmtResult, flag string) {
	k := topLevelWord(toks, 1, "where")
	if k < 0 {
		r.flags[flag] = true
		return
	}
	end := len(toks)
	if e := topLevelWord(toks, k+1, "returning", "order", "limit", "group", "having", "union", "option"); e >= 0 {
		end = e
	}
	cond := toks[k+1 : end]
	if alwaysTrue(cond) {
		r.flags[FlagWhereAlwaysTrue] = true
		r.flags[flag] = true
	}
}

func alwaysTrue(c []sqlToken) bool {
	// "1=1 OR …" and "… OR TRUE": any top-level OR branch that is a tautology.
	for {
		k := topLevelWord(c, 0, "or")
		if k < 0 {
			return simpleTautology(c)
		}
		if simpleTautology(c[:k]) {
			return true
		}
		c = c[k+1:]
	}
}

// simpleTautology matches TRUE, a non-zero number, and LIT = LIT, optionally
// in parentheses.
func simpleTautology(c []sqlToken) bool {
	for i := 0; i < 8 && len(c) >= 2 && isPunct(c[0], "(") && isPunct(c[len(c)-1], ")") && matchParen(c, 0) == len(c)-1; i++ {
		c = c[1 : len(c)-1]
	}
	switch len(c) {
	case 1:
		return isWord(c[0], "true") || (c[0].kind == tokNumber && strings.Trim(c[0].text, "0.") != "")
	case 2:
		// NOT FALSE, NOT 0
		return isWord(c[0], "not") && (isWord(c[1], "false") || c[1].kind == tokNumber && strings.Trim(c[1].text, "0.") == "")
	case 3, 4:
		// LIT op LIT that holds, x = x, x LIKE '%'.
		op, a, b := "", c[0], c[len(c)-1]
		for _, t := range c[1 : len(c)-1] {
			if t.kind != tokPunct && !isWord(t, "like") && !isWord(t, "ilike") {
				return false
			}
			op += t.text
		}
		if (op == "like" || op == "ilike") && b.kind == tokString && strings.Trim(b.text, "%") == "" && b.text != "" {
			return true
		}
		if (a.kind == tokWord || a.kind == tokQIdent) && a.kind == b.kind && a.text == b.text && (op == "=" || op == ">=" || op == "<=") {
			return true
		}
		return literalCompare(a, op, b)
	}
	return false
}

// literalCompare evaluates LIT op LIT for numbers and strings.
func literalCompare(a sqlToken, op string, b sqlToken) bool {
	if a.kind != b.kind || a.kind != tokNumber && a.kind != tokString {
		return false
	}
	cmp := strings.Compare(a.text, b.text)
	if a.kind == tokNumber {
		x, err1 := strconv.ParseFloat(a.text, 64)
		y, err2 := strconv.ParseFloat(b.text, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		switch {
		case x < y:
			cmp = -1
		case x > y:
			cmp = 1
		default:
			cmp = 0
		}
	}
	switch op {
	case "=", "==":
		return cmp == 0
	case "<>", "!=":
		return cmp != 0
	case "<":
		return cmp < 0
	case ">":
		return cmp > 0
	case "<=":
		return cmp <= 0
	case ">=":
		return cmp >= 0
	}
	return false
}

// scanFunctions flags calls of dangerous and privileged functions anywhere in
// the statement and analyses SQL passed to SQL-executing functions.
func scanFunctions(toks []sqlToken, d sqlDialect, nest int, r *stmtResult) {
	for i := 0; i+1 < len(toks); i++ {
		t := toks[i]
		if (t.kind != tokWord && t.kind != tokQIdent) || !isPunct(toks[i+1], "(") {
			continue
		}
		name := strings.ToLower(t.text)
		if dangerousSQLFunctions[name] {
			r.flags[FlagDangerousFunction] = true
			r.funcs[name] = true
			r.write = true
		}
		if privilegedSQLFunctions[name] {
			r.flags[FlagPrivilegedFunction] = true
			r.funcs[name] = true
		}
		if sqlExecFunctions[name] && nest < maxSQLNesting {
			end := matchParen(toks, i+1)
			if body := analyzeStringBodies(toks[i+1:min(end+1, len(toks))], d, nest, false); body != nil {
				r.flags[FlagDynamicSQL] = true
				r.merge(body)
			}
		}
	}
}

// analyzeStringBodies classifies the string literals of toks that hold SQL
// (dynamic SQL, function bodies) and returns their merged result, or nil when
// none holds SQL.
func analyzeStringBodies(toks []sqlToken, d sqlDialect, nest int, code bool) *stmtResult {
	if nest >= maxSQLNesting {
		return nil
	}
	var acc *stmtResult
	for _, t := range toks {
		if t.kind != tokString {
			continue
		}
		if !code && !looksLikeSQL(t.text) {
			continue
		}
		lr := lexSQL(t.text, d)
		for _, seg := range splitStatements(lr.tokens) {
			res := classifyStatement(seg, d, nest+1, code)
			if res == nil {
				continue
			}
			if !code && res.kind == SQLOther {
				continue
			}
			if acc == nil {
				acc = newStmtResult()
			}
			acc.merge(res)
		}
	}
	return acc
}

var sqlSniffObjects = map[string]bool{
	"table": true, "database": true, "schema": true, "index": true, "view": true, "user": true,
	"role": true, "function": true, "procedure": true, "trigger": true, "sequence": true, "type": true,
	"extension": true, "owned": true, "materialized": true, "if": true, "column": true, "or": true,
	"temp": true, "temporary": true, "unique": true, "policy": true, "rule": true, "system": true,
	"default": true, "collation": true, "domain": true, "server": true, "tablespace": true,
	"publication": true, "subscription": true, "event": true, "aggregate": true, "operator": true,
	"cast": true, "unlogged": true, "language": true, "statistics": true, "constraint": true,
	"foreign": true, "concurrently": true, "global": true, "local": true, "group": true,
}

// looksLikeSQL reports whether s reads as SQL rather than prose: some
// statement of it starts with a statement keyword in a shape SQL requires.
func looksLikeSQL(s string) bool {
	if len(s) < 4 {
		return false
	}
	if sniffSQL(s, dialectPostgres) {
		return true
	}
	// MySQL reads #, backslashes, "strings" and /*! */ differently: a
	// statement hidden from the Postgres reading still makes the text SQL.
	return (strings.ContainsAny(s, "#\\\"") || strings.Contains(s, "/*!")) && sniffSQL(s, dialectMySQL)
}

func sniffSQL(s string, d sqlDialect) bool {
	lr := lexSQL(s, d)
	for _, seg := range splitStatements(lr.tokens) {
		for len(seg) > 0 && isPunct(seg[0], "(") {
			seg = seg[1:]
		}
		if len(seg) < 2 || seg[0].kind != tokWord {
			continue
		}
		if sqlShape(seg) {
			return true
		}
	}
	return false
}

func sqlShape(seg []sqlToken) bool {
	if len(seg) < 2 || seg[0].kind != tokWord {
		return false
	}
	w := seg[0].text
	next := seg[1]
	has := func(words ...string) bool { return topLevelWord(seg, 1, words...) >= 0 }
	isName := func(t sqlToken) bool { return t.kind == tokWord || t.kind == tokQIdent }
	switch w {
	case "select":
		if has("from", "into") {
			return true
		}
		if next.kind == tokNumber || next.kind == tokString || isPunct(next, "*") {
			return true
		}
		for i := 1; i+1 < len(seg); i++ {
			if isName(seg[i]) && isPunct(seg[i+1], "(") {
				return true
			}
		}
	case "insert", "replace":
		return isWord(next, "into") || isWord(next, "overwrite")
	case "update":
		return isName(next) && has("set")
	case "delete":
		return deleteShape(seg)
	case "detach":
		return isWord(next, "delete")
	case "match":
		// Cypher: MATCH (n …) … DELETE/RETURN/SET …
		return isPunct(next, "(") && has("delete", "detach", "return", "set", "remove", "merge", "create")
	case "drop", "create", "alter":
		return next.kind == tokWord && sqlSniffObjects[next.text]
	case "truncate":
		i := 1
		if isWord(seg[i], "table") {
			i++
		}
		for i < len(seg) && isName(seg[i]) {
			i++
			if i < len(seg) && isPunct(seg[i], ".") {
				i++
				continue
			}
			if i < len(seg) && isPunct(seg[i], ",") {
				i++
				continue
			}
			break
		}
		return i == len(seg) || (i < len(seg) && seg[i].kind == tokWord && (seg[i].text == "cascade" || seg[i].text == "restrict"))
	case "grant", "revoke":
		return has("on", "to")
	case "with":
		return isWord(next, "recursive") || (isName(next) && has("as"))
	case "copy":
		return isName(next) && has("from", "to")
	case "call":
		return isName(next) && len(seg) > 2 && (isPunct(seg[2], "(") || isPunct(seg[2], "."))
	case "exec", "execute":
		return next.kind == tokString || (isName(next) && len(seg) <= 12)
	case "do":
		return next.kind == tokString
	case "explain":
		return sqlShape(seg[1:]) || (len(seg) > 2 && sqlShape(seg[2:]))
	case "merge":
		return isWord(next, "into")
	}
	return false
}

// deleteShape matches DELETE [LOW_PRIORITY|QUICK|IGNORE] FROM …, and the
// MySQL multi-table form DELETE t1[.*], t2 FROM … where each deleted name
// appears after FROM: "delete the file from your computer" is prose.
func deleteShape(seg []sqlToken) bool {
	i := 1
	for i < len(seg) && (isWord(seg[i], "low_priority") || isWord(seg[i], "quick") || isWord(seg[i], "ignore")) {
		i++
	}
	if i < len(seg) && isWord(seg[i], "from") {
		return true
	}
	var names []string
	for i < len(seg) {
		t := seg[i]
		if t.kind != tokWord && t.kind != tokQIdent {
			return false
		}
		names = append(names, t.text)
		i++
		for i+1 < len(seg) && isPunct(seg[i], ".") && (seg[i+1].kind == tokWord || seg[i+1].kind == tokQIdent || isPunct(seg[i+1], "*")) {
			names[len(names)-1] = seg[i+1].text
			i += 2
		}
		if i < len(seg) && isPunct(seg[i], ",") {
			i++
			continue
		}
		break
	}
	if i >= len(seg) || !isWord(seg[i], "from") || len(names) == 0 {
		return false
	}
	for _, n := range names {
		found := false
		for _, t := range seg[i+1:] {
			if (t.kind == tokWord || t.kind == tokQIdent) && t.text == n {
				found = true
				break
			}
		}
		if !found && n != "*" {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut at a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
