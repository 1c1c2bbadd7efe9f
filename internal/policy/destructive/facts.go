package destructive

import (
	"bytes"
	"encoding/json"
)

// Facts is what Classify learned about one tools/call. Every field is a plain
// value, a list of strings, a list of structs of such values, or a nested struct
// of them, so that the policy engine can expose it to CEL through AsMap (keys
// are the snake_case JSON names: call.sql.kinds, call.shell.rm_recursive, …).
// Lists are never nil, so rules can use them without has() checks.
type Facts struct {
	// Destructive is set when any classifier found evidence of a destructive
	// action (data loss, deletion, privilege or system change). Reasons says why.
	Destructive bool `json:"destructive"`
	// ReadOnly is set when something was recognised as a read and nothing seen
	// writes, destroys, is unknown, or failed to parse.
	ReadOnly bool `json:"read_only"`
	// Incomplete is set when part of the input could not be inspected (invalid
	// JSON arguments, limits reached); policy should treat the call as risky.
	Incomplete bool `json:"incomplete"`
	// Reasons are short human-readable explanations, one per finding, in the
	// order found (destructive evidence first).
	Reasons []string `json:"reasons"`

	Tool        ToolFacts       `json:"tool"`
	Annotations AnnotationFacts `json:"annotations"`
	Args        ArgFacts        `json:"args"`
	SQL         SQLFacts        `json:"sql"`
	Shell       ShellFacts      `json:"shell"`
	Paths       PathFacts       `json:"paths"`
	HTTP        HTTPFacts       `json:"http"`
}

// ToolFacts are derived from the tool's name.
type ToolFacts struct {
	Name string `json:"name"`
	// Words is the name split at _ - . / : and camelCase boundaries, lower-cased.
	Words []string `json:"words"`
	// Verb is the primary verb: the first word when it is a known verb,
	// otherwise the first known verb in the name; "" when none is known.
	Verb             string   `json:"verb"`
	DestructiveVerbs []string `json:"destructive_verbs"`
	WriteVerbs       []string `json:"write_verbs"`
	ReadVerbs        []string `json:"read_verbs"`
	// Destructive: the name carries a destructive verb and does not start with
	// a read verb (get_force_push_status is a read).
	Destructive bool `json:"destructive"`
	// Write: the primary verb is a write verb (create, update, send, …).
	Write bool `json:"write"`
	// Read: the primary verb is a read verb (get, list, search, …).
	Read bool `json:"read"`
}

// AnnotationFacts holds the tool's MCP annotations, raw and effective.
type AnnotationFacts struct {
	// Present is set when the tool had an annotations object.
	Present bool `json:"present"`
	// Trusted mirrors ToolInfo.Trusted.
	Trusted bool `json:"trusted"`
	// Hints holds the boolean hints exactly as the server sent them
	// (readOnlyHint, destructiveHint, idempotentHint, openWorldHint).
	Hints map[string]bool `json:"hints"`
	Title string          `json:"title"`
	// Effective values. For a trusted server: the hints with the spec defaults
	// (readOnly false, destructive true unless read-only, idempotent false,
	// openWorld true). For an untrusted server, hints that would lower risk
	// are ignored: read_only false, destructive true, idempotent false,
	// open_world true.
	ReadOnly    bool `json:"read_only"`
	Destructive bool `json:"destructive"`
	Idempotent  bool `json:"idempotent"`
	OpenWorld   bool `json:"open_world"`
}

// ArgFacts describes how the arguments were read.
type ArgFacts struct {
	// Valid is false when the arguments were not a JSON object.
	Valid bool `json:"valid"`
	// Roles maps an argument path (a.b[0].c; "~json" marks a step into JSON
	// held in a string) to the role it was given: sql, shell, path, url, method.
	Roles map[string]string `json:"roles"`
	// RoleSources maps the same paths to how the role was chosen: override,
	// format, name, description, tool, value.
	RoleSources map[string]string `json:"role_sources"`
	// Strings is the number of string values inspected.
	Strings int `json:"strings"`
	// Flags lists what the arguments themselves ask for, sorted: force_option
	// (force/overwrite/purge/cascade… set to true), destructive_action (an
	// action/operation/op value such as "delete" or "DeleteObjects"),
	// make_public (visibility public, private false). Each makes the call
	// destructive.
	Flags []string `json:"flags"`
}

// SQLFacts aggregates every SQL text found in the arguments.
type SQLFacts struct {
	Present bool `json:"present"`
	// Sources are the argument paths that held SQL.
	Sources    []string       `json:"sources"`
	Statements []SQLStatement `json:"statements"`
	// Kinds are the distinct statement kinds, sorted.
	Kinds []string `json:"kinds"`
	// Flags is the union of the statements' flags, sorted.
	Flags []string `json:"flags"`
	// Functions are the dangerous or privileged functions called.
	Functions      []string `json:"functions"`
	StatementCount int      `json:"statement_count"`
	MultiStatement bool     `json:"multi_statement"`

	Drop               bool `json:"drop"`
	Truncate           bool `json:"truncate"`
	Delete             bool `json:"delete"`
	DeleteWithoutWhere bool `json:"delete_without_where"`
	UpdateWithoutWhere bool `json:"update_without_where"`
	WriteInCTE         bool `json:"write_in_cte"`
	SelectInto         bool `json:"select_into"`
	CopyProgram        bool `json:"copy_program"`
	DangerousFunction  bool `json:"dangerous_function"`
	DynamicSQL         bool `json:"dynamic_sql"`
	// Writes: some statement can change state.
	Writes bool `json:"writes"`
	// ReadOnly: every statement is a read (select/show/explain) or a
	// transaction-control statement, and there was at least one read.
	ReadOnly bool `json:"read_only"`
	// ParseError: an unterminated string, identifier or comment under every
	// dialect reading.
	ParseError bool `json:"parse_error"`
	// Ambiguous: the Postgres and MySQL lexical readings disagree (nested
	// comments, backslash escapes, /*! */); the statements of both are listed.
	Ambiguous bool `json:"ambiguous"`
}

// Shell finding categories; ShellFinding.Category holds one of these, and
// ShellFacts has one boolean per category.
const (
	CatRmRecursive     = "rm_recursive"     // rm -r, find -delete
	CatDelete          = "delete"           // any file deletion (rm, unlink, shred, truncate)
	CatDiskWipe        = "disk_wipe"        // mkfs, dd of=, shred, wipefs, > /dev/sd*
	CatChmodRecursive  = "chmod_recursive"  // chmod/chown/chgrp -R
	CatDownloadExec    = "download_exec"    // curl … | sh, bash <(wget …)
	CatObfuscated      = "obfuscated"       // base64 -d | sh, eval, dynamic command names, $IFS
	CatGitForcePush    = "git_force_push"   // git push --force/-f/--force-with-lease/+ref/--delete
	CatGitDestructive  = "git_destructive"  // git reset --hard, clean -f, branch -D, stash drop
	CatInfraDestroy    = "infra_destroy"    // kubectl delete, helm uninstall, terraform destroy/-auto-approve
	CatContainerDelete = "container_delete" // docker rm/rmi/prune
	CatOverwrite       = "overwrite"        // > outside roots, to sensitive paths or devices
	CatPrivilege       = "privilege"        // sudo, su, doas, pkexec
	CatForkBomb        = "fork_bomb"
	CatPower           = "power" // shutdown, reboot, halt, poweroff
	CatServiceStop     = "service_stop"
	CatFirewall        = "firewall" // iptables -F, nft flush, ufw disable
	CatCrontabRemove   = "crontab_remove"
	CatProcessKill     = "process_kill" // kill, killall, pkill
	CatAccount         = "account"      // userdel, passwd -d
	CatSQL             = "sql"          // psql -c / mysql -e with destructive SQL
	CatInlineCode      = "inline_code"  // python -c, perl -e, node -e
	CatWrite           = "write"        // writes that are not destructive (> inside roots, tee)
)

// ShellFinding is one risky command found in a shell text.
type ShellFinding struct {
	// Kind names the exact pattern, e.g. "rm_recursive", "git_push_force".
	Kind     string `json:"kind"`
	Category string `json:"category"`
	// Command is the offending command's source text (shortened).
	Command string `json:"command"`
	// Source is the argument path of the shell text.
	Source      string `json:"source"`
	Destructive bool   `json:"destructive"`
}

// ShellFacts aggregates every shell text found in the arguments.
type ShellFacts struct {
	Present bool     `json:"present"`
	Sources []string `json:"sources"`
	// ParseError: some shell text did not parse. Policy treats it as risky.
	ParseError bool `json:"parse_error"`
	// Commands are the distinct command names run (basenames, after
	// unwrapping sudo/env/xargs/…), sorted.
	Commands []string       `json:"commands"`
	Findings []ShellFinding `json:"findings"`
	// Kinds are the distinct finding kinds, sorted.
	Kinds []string `json:"kinds"`
	// ReadOnly: every command is a known read-only command, with no writing
	// redirection, and there was at least one.
	ReadOnly bool `json:"read_only"`

	RmRecursive     bool `json:"rm_recursive"`
	Delete          bool `json:"delete"`
	DiskWipe        bool `json:"disk_wipe"`
	ChmodRecursive  bool `json:"chmod_recursive"`
	DownloadExec    bool `json:"download_exec"`
	Obfuscated      bool `json:"obfuscated"`
	GitForcePush    bool `json:"git_force_push"`
	GitDestructive  bool `json:"git_destructive"`
	InfraDestroy    bool `json:"infra_destroy"`
	ContainerDelete bool `json:"container_delete"`
	Overwrite       bool `json:"overwrite"`
	Privilege       bool `json:"privilege"`
	ForkBomb        bool `json:"fork_bomb"`
	Power           bool `json:"power"`
	ServiceStop     bool `json:"service_stop"`
	Firewall        bool `json:"firewall"`
	CrontabRemove   bool `json:"crontab_remove"`
	ProcessKill     bool `json:"process_kill"`
	Account         bool `json:"account"`
	SQL             bool `json:"sql"`
	InlineCode      bool `json:"inline_code"`
	Write           bool `json:"write"`
}

// PathInfo describes one filesystem path found in the arguments or in a shell
// command's targets.
type PathInfo struct {
	Source string `json:"source"`
	Raw    string `json:"raw"`
	// Clean is the normalised path; a leading "~/" is kept as a marker when
	// Options.Home is empty.
	Clean        string `json:"clean"`
	Home         bool   `json:"home"`      // started with ~
	Relative     bool   `json:"relative"`  // relative and not resolvable
	Traversal    bool   `json:"traversal"` // raw path had a ".." segment
	OutsideRoots bool   `json:"outside_roots"`
	Sensitive    bool   `json:"sensitive"`
	// SensitiveReason names the matched rule, e.g. "ssh keys", "system config".
	SensitiveReason string `json:"sensitive_reason"`
	// Op is "delete", "write" or "" (unknown/read), from the tool verb or the
	// shell command that takes the path.
	Op string `json:"op"`
}

// PathFacts aggregates paths.
type PathFacts struct {
	Present      bool       `json:"present"`
	Paths        []PathInfo `json:"paths"`
	Cleaned      []string   `json:"cleaned"`
	OutsideRoots bool       `json:"outside_roots"`
	Sensitive    bool       `json:"sensitive"`
	Traversal    bool       `json:"traversal"`
	// Writes/Deletes: some path is written/deleted (from the tool verb or the
	// shell command).
	Writes  bool `json:"writes"`
	Deletes bool `json:"deletes"`
}

// URLInfo describes one URL.
type URLInfo struct {
	Source string `json:"source"`
	Raw    string `json:"raw"`
	Scheme string `json:"scheme"`
	Host   string `json:"host"`
	// Loopback, Private (RFC 1918, ULA, link-local, single-label and
	// .local/.internal names), Metadata (cloud metadata endpoints).
	Loopback bool `json:"loopback"`
	Private  bool `json:"private"`
	Metadata bool `json:"metadata"`
	External bool `json:"external"`
	// Invalid: the text did not parse as a URL with a host.
	Invalid bool `json:"invalid"`
}

// HTTPFacts aggregates URLs and the HTTP method.
type HTTPFacts struct {
	Present bool `json:"present"`
	// Method is the upper-cased method from a method/verb argument or a curl
	// -X; "" when none was given.
	Method string    `json:"method"`
	URLs   []URLInfo `json:"urls"`
	// Hosts are the distinct hosts, sorted.
	Hosts    []string `json:"hosts"`
	External bool     `json:"external"`
	Private  bool     `json:"private"`
	Metadata bool     `json:"metadata"`
	// Write: the method is POST, PUT, PATCH or DELETE.
	Write bool `json:"write"`
	// ExternalWrite: a write method to an external host.
	ExternalWrite bool `json:"external_write"`
	// Delete: the method is DELETE.
	Delete bool `json:"delete"`
}

// AsMap returns f as nested map[string]any / []any values keyed by the JSON
// names, ready to bind as a CEL variable. Numbers are int64.
func (f Facts) AsMap() map[string]any {
	b, err := json.Marshal(f)
	if err != nil {
		// Facts holds only strings, bools, ints, slices and maps of them.
		panic("destructive: marshal facts: " + err.Error())
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		panic("destructive: decode facts: " + err.Error())
	}
	return normaliseNumbers(m).(map[string]any)
}

func normaliseNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normaliseNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normaliseNumbers(e)
		}
		return x
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			f, _ := x.Float64()
			return f
		}
		return n
	}
	return v
}
