package destructive

import (
	"encoding/base64"
	"path"
	"strings"
	"unicode/utf16"

	"mvdan.cc/sh/v3/syntax"
)

// Rules for commands beyond the core POSIX set: Windows cmd and PowerShell,
// package managers, database servers' admin tools, Redis and MongoDB shells,
// GitHub's CLI, disk and network administration, and scripts written or
// downloaded earlier in the same text and then run.

// psAliases maps PowerShell aliases and cmd built-ins to the command they run.
var psAliases = map[string]string{
	"ri": "remove-item", "erase": "del", "rdel": "remove-item",
	"iex": "invoke-expression", "spsv": "stop-service", "spps": "stop-process",
}

var (
	psPower   = map[string]bool{"stop-computer": true, "restart-computer": true}
	psDisk    = map[string]bool{"format-volume": true, "clear-disk": true, "initialize-disk": true, "remove-partition": true, "format-disk": true, "remove-physicaldisk": true, "remove-virtualdisk": true}
	psService = map[string]bool{"stop-service": true, "remove-service": true, "suspend-service": true, "set-service": true}
	psAccount = map[string]bool{"remove-localuser": true, "disable-localuser": true, "remove-aduser": true, "remove-localgroupmember": true}
	psDelete  = map[string]bool{"clear-content": true, "clear-recyclebin": true, "remove-itemproperty": true, "clear-item": true, "remove-smbshare": true}
	psDefense = map[string]bool{"set-mppreference": true, "add-mppreference": true, "set-executionpolicy": true, "disable-computerrestore": true, "set-netfirewallprofile": true}

	// Package managers' removing subcommands.
	pkgRemove = map[string][]string{
		"apt": {"remove", "purge", "autoremove"}, "apt-get": {"remove", "purge", "autoremove"}, "aptitude": {"remove", "purge"},
		"yum": {"remove", "erase", "autoremove"}, "dnf": {"remove", "erase", "autoremove"}, "zypper": {"remove", "rm"},
		"apk": {"del"}, "snap": {"remove"}, "flatpak": {"uninstall"}, "brew": {"uninstall", "remove", "rm"},
		"pip": {"uninstall"}, "pip3": {"uninstall"}, "pipx": {"uninstall", "uninstall-all"}, "gem": {"uninstall"},
		"npm": {"unpublish", "uninstall", "remove", "rm", "un"}, "pnpm": {"remove", "rm", "uninstall"},
		"yarn": {"remove"}, "cargo": {"uninstall"}, "choco": {"uninstall"}, "winget": {"uninstall"},
		"conda": {"remove", "uninstall"}, "port": {"uninstall"}, "dpkg": {"-r", "--remove", "-P", "--purge"},
		"rpm": {"-e", "--erase"}, "pacman": {"-R", "-Rs", "-Rns", "-Rdd", "-Rn", "-Rsc"},
	}

	redisValueOpts = map[string]bool{"-h": true, "-p": true, "-a": true, "-n": true, "-u": true, "-s": true, "-r": true, "-i": true, "-d": true, "--user": true, "--pass": true, "--askpass": true, "--tls": false, "--cacert": true, "--cert": true, "--key": true, "--sni": true}
	lvmRemove      = map[string]bool{"lvremove": true, "vgremove": true, "pvremove": true, "lvreduce": true, "pvmove": false}
)

// redisDestructive are Redis commands that delete data or stop the server.
var redisDestructive = map[string]string{
	"flushall": "redis_flush", "flushdb": "redis_flush", "del": "redis_delete", "unlink": "redis_delete",
	"shutdown": "redis_shutdown", "swapdb": "redis_flush", "debug": "redis_debug", "config": "",
	"script": "", "function": "", "cluster": "", "replicaof": "redis_replicaof", "slaveof": "redis_replicaof",
	"migrate": "redis_delete", "restore": "", "failover": "redis_replicaof",
}

// moreRules applies the extra rules. handled is set when the command was
// fully judged here; read is then whether it only reads.
func (fr *shellFrame) moreRules(u unwrapped, a argInfo, pos []string, node syntax.Node) (handled, read bool) {
	name := u.name
	args := u.argv[1:]
	// A script written or downloaded earlier in this text, run now.
	if fr.runsTrackedScript(u, pos, node) {
		return true, false
	}
	if alias, ok := psAliases[name]; ok {
		name = alias
	}
	switch {
	case name == "kill" || name == "skill":
		// kill -0 tests that a process exists; kill -l lists signals.
		if a.has("-0", "-s0", "-SIGNULL", "-NULL") || a.hasLong("--signal=0") || a.has("-s") && a.has("0") || a.hasShort("lL") && len(pos) <= 1 && !a.has("-KILL", "-9") {
			return true, true
		}
	case name == "crontab":
		// crontab FILE (or -) replaces the whole table.
		if len(pos) > 0 && !a.hasShort("lre") {
			fr.add("crontab_replace", CatCrontabRemove, true, node)
			return true, false
		}
	case name == "chmod":
		for _, p := range pos[:min(1, len(pos))] {
			if setuidMode(p) {
				fr.add("chmod_setuid", CatPrivilege, true, node)
			}
		}
	case name == "usermod" || name == "gpasswd" || name == "adduser" || name == "useradd":
		if usermodPrivileged(name, a) {
			fr.add(name+"_privileged", CatPrivilege, true, node)
			return true, false
		}
	case name == "visudo" || name == "setenforce" && len(pos) > 0 && (pos[0] == "0" || strings.EqualFold(pos[0], "permissive")):
		fr.add(name, CatFirewall, true, node)
		return true, false
	case name == "auditctl" && (a.hasShort("D") || a.has("-e") && a.has("0")):
		fr.add("auditctl_disable", CatFirewall, true, node)
		return true, false
	case name == "remove-item" || name == "del" || name == "rd" || name == "rmdir" && strings.Contains(joinWords(args), "/"):
		recursive := psParam(args, "recurse", 1) || a.has("/s", "/S", "-r", "-R")
		critical := false
		for _, p := range pos {
			if strings.HasPrefix(p, "/") && len(p) == 2 && name != "remove-item" {
				continue // cmd switches: /s /q /f
			}
			fr.acc.paths = append(fr.acc.paths, pathRef{raw: p, op: "delete", source: fr.source})
			if isCriticalTarget(strings.ToLower(strings.TrimRight(p, `\*`))) || isCriticalTarget(strings.ToLower(p)) {
				critical = true
			}
		}
		for _, w := range args {
			if strings.HasPrefix(w.val, "/") && len(w.val) == 2 {
				continue
			}
			if v := strings.ToLower(w.val); isCriticalTarget(strings.TrimRight(v, `\*`)) || strings.HasSuffix(v, `:\`) || strings.HasSuffix(v, `:\*`) {
				critical = true
			}
		}
		switch {
		case recursive && critical:
			fr.add("rm_recursive_root", CatRmRecursive, true, node)
		case recursive:
			fr.add("rm_recursive", CatRmRecursive, true, node)
		default:
			fr.add(name, CatDelete, true, node)
		}
		return true, false
	case psPower[name]:
		fr.add(name, CatPower, true, node)
		return true, false
	case psDisk[name]:
		fr.add(name, CatDiskWipe, true, node)
		return true, false
	case psService[name]:
		fr.add(name, CatServiceStop, true, node)
		return true, false
	case psAccount[name]:
		fr.add(name, CatAccount, true, node)
		return true, false
	case psDelete[name]:
		fr.add(name, CatDelete, true, node)
		return true, false
	case psDefense[name]:
		fr.add(name, CatFirewall, true, node)
		return true, false
	case name == "invoke-expression":
		// iex "…" with a static string runs it; anything else is opaque.
		for _, w := range args {
			if w.dynamic || w.node != nil && containsDownloader(w.node) {
				fr.add("eval_dynamic", CatObfuscated, true, node)
				return true, false
			}
		}
		if len(args) > 0 {
			fr.analyzeString(joinWords(args), node)
		}
		return true, false
	case name == "cmd" || name == "command.com":
		// cmd /c "…" and cmd /k "…": the rest of the line is a cmd script.
		for i, w := range args {
			if v := strings.ToLower(w.val); v == "/c" || v == "/k" || v == "/r" {
				fr.analyzeCmdLine(joinWords(args[i+1:]), node)
				return true, false
			}
		}
	case name == "powershell" || name == "pwsh":
		if enc := psEncodedCommand(args); enc != "" {
			if text, ok := decodePowerShellBase64(enc); ok {
				fr.add("encoded_command", CatObfuscated, false, node)
				fr.analyzeCmdLine(text, node)
			} else {
				fr.add("encoded_command", CatObfuscated, true, node)
			}
			return true, false
		}
		for i, w := range args {
			if v := strings.ToLower(w.val); v == "-c" || v == "-command" || v == "/c" || v == "-com" {
				fr.analyzeCmdLine(joinWords(args[i+1:]), node)
				break
			}
		}
	case name == "format" && len(pos) > 0 && len(pos[0]) == 2 && pos[0][1] == ':':
		fr.add("format_drive", CatDiskWipe, true, node)
		return true, false
	case lvmRemove[name] || name == "mdadm" && a.hasLong("--zero-superblock", "--remove", "--fail", "--stop") ||
		name == "dmsetup" && len(pos) > 0 && (pos[0] == "remove" || pos[0] == "remove_all" || pos[0] == "wipe_table") ||
		name == "sfdisk" && a.hasLong("--delete"):
		fr.add(name, CatDiskWipe, true, node)
		return true, false
	case name == "umount" || name == "swapoff" || name == "ifdown" ||
		name == "mount" && strings.Contains(joinWords(args), "remount") ||
		name == "ip" && ipDown(pos) || name == "ifconfig" && len(pos) > 1 && pos[len(pos)-1] == "down" ||
		name == "nmcli" && (ai(args).has("off") || ai(args).has("down") || ai(args).has("delete")) ||
		name == "rfkill" && ai(args).has("block"):
		fr.add(name, CatServiceStop, true, node)
		return true, false
	case name == "history" && a.hasShort("cw"):
		fr.add("history_clear", CatDelete, true, node)
		return true, false
	case name == "git" && gitRemovesFiles(args):
		fr.add("git_rm", CatGitDestructive, true, node)
		return true, false
	case name == "gh" || name == "hub" || name == "glab":
		return fr.ruleGitHubCLI(name, args, a, pos, node)
	case name == "docker-compose" || name == "podman-compose":
		return true, fr.ruleDocker(append([]shWord{{val: "compose"}}, args...), node)
	case name == "parallel":
		// parallel [opts] cmd args ::: inputs — the command runs once per input.
		i := skipOpts(args, map[string]bool{"-j": true, "--jobs": true, "-S": true, "--sshlogin": true, "--delay": true, "--timeout": true, "-a": true, "--arg-file": true, "--colsep": true})
		end := len(args)
		for k := i; k < len(args); k++ {
			if strings.HasPrefix(args[k].val, ":::") || strings.HasPrefix(args[k].val, "::::") {
				end = k
				break
			}
		}
		if i < end {
			fr.classifyArgv(args[i:end], node)
		}
		return true, false
	case name == "redis-cli" || name == "keydb-cli" || name == "valkey-cli":
		i := skipOpts(args, redisValueOpts)
		if i < len(args) {
			return true, fr.redisCommand(args[i:], node)
		}
	case redisDestructive[name] != "" && (name == "flushall" || name == "flushdb" || name == "swapdb"):
		// A Redis command given as the whole command line (redis tools).
		return true, fr.redisCommand(u.argv, node)
	case name == "mongo" || name == "mongosh":
		for i, w := range args {
			if (w.val == "--eval" || w.val == "-eval") && i+1 < len(args) {
				if ops := mongoOps(args[i+1].val); len(ops) > 0 {
					fr.add(name+"_"+ops[0], CatSQL, true, node)
				}
				return true, false
			}
		}
	case name == "mysqladmin":
		if a.has("drop", "shutdown", "kill", "password", "flush-privileges") {
			fr.add("mysqladmin", CatSQL, true, node)
			return true, false
		}
	case name == "dropdb" || name == "dropuser" || name == "pg_dropcluster" || name == "pg_resetwal" || name == "pg_resetxlog":
		fr.add(name, CatSQL, true, node)
		return true, false
	case name == "pg_ctl" || name == "pg_ctlcluster":
		if a.has("stop", "kill", "restart", "promote") {
			fr.add(name, CatServiceStop, true, node)
			return true, false
		}
	}
	if subs, ok := pkgRemove[name]; ok {
		for k, p := range args {
			if k > 3 {
				break
			}
			for _, s := range subs {
				if p.val == s || strings.HasPrefix(s, "-R") && strings.HasPrefix(p.val, "-R") && !strings.HasPrefix(p.val, "--") {
					fr.add("package_remove", CatDelete, true, node)
					return true, false
				}
			}
		}
	}
	return false, false
}

// psParam reports whether a PowerShell parameter (case-insensitive, any
// unambiguous prefix of at least minLen letters) is present: -Recurse, -rec, -R.
func psParam(args []shWord, name string, minLen int) bool {
	for _, w := range args {
		v := strings.ToLower(w.val)
		if !strings.HasPrefix(v, "-") || strings.HasPrefix(v, "--") {
			continue
		}
		v = strings.TrimPrefix(v, "-")
		if k := strings.IndexByte(v, ':'); k >= 0 {
			v = v[:k]
		}
		if len(v) >= minLen && strings.HasPrefix(name, v) {
			return true
		}
	}
	return false
}

// psEncodedCommand returns the value of powershell -EncodedCommand (-enc, -e, -ec …).
func psEncodedCommand(args []shWord) string {
	for i, w := range args {
		v := strings.ToLower(w.val)
		if !strings.HasPrefix(v, "-") || i+1 >= len(args) {
			continue
		}
		v = strings.TrimPrefix(strings.TrimPrefix(v, "-"), "-")
		if v == "e" || v == "ec" || len(v) >= 2 && strings.HasPrefix("encodedcommand", v) && v != "ex" && !strings.HasPrefix(v, "exec") {
			return args[i+1].val
		}
	}
	return ""
}

// decodePowerShellBase64 decodes -EncodedCommand text: base64 of UTF-16LE.
func decodePowerShellBase64(s string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(s)); err != nil {
			return "", false
		}
	}
	if len(b)%2 != 0 {
		if text, ok := decodeBase64(s); ok {
			return text, true
		}
		return "", false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u)), true
}

// analyzeCmdLine reads a cmd.exe or PowerShell command line. Both split
// commands at & && || | ; and newlines, and take backslashes literally, so the
// line is split into commands and words here rather than parsed as bash.
func (fr *shellFrame) analyzeCmdLine(line string, node syntax.Node) {
	if fr.depth >= maxShellDepth {
		fr.acc.incomplete = true
		return
	}
	for _, cmd := range splitCmdLine(line) {
		words := cmdWords(cmd)
		if len(words) == 0 {
			continue
		}
		argv := make([]shWord, len(words))
		for i, w := range words {
			argv[i] = shWord{val: w}
		}
		fr.classifyArgv(argv, node)
	}
	// The line read as bash too (Unix commands in pwsh, quoted scripts).
	fr.analyzeString(line, node)
}

func splitCmdLine(s string) []string {
	var out []string
	var b strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			b.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			b.WriteByte(c)
		case c == '&' || c == '|' || c == ';' || c == '\n' || c == '\r' || c == '(' || c == ')' || c == '{' || c == '}':
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(out, b.String())
}

// cmdWords splits one command at spaces, removing "…" and '…' quotes and the
// ^ escape of cmd.
func cmdWords(s string) []string {
	var out []string
	var b strings.Builder
	in := false
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
				continue
			}
			b.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			in = true
		case c == '^' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			in = true
		case c == '`' && i+1 < len(s):
			// PowerShell's escape character.
			i++
			b.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t' || c == ',':
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, b.String())
	}
	return out
}

// setuidMode reports whether a chmod mode sets the setuid or setgid bit.
func setuidMode(m string) bool {
	if len(m) == 4 && strings.Trim(m, "01234567") == "" && m[0] >= '2' && m[0] <= '7' && m[0] != '1' {
		return m[0] != '1'
	}
	for _, part := range strings.Split(m, ",") {
		if k := strings.IndexByte(part, '+'); k >= 0 && strings.ContainsAny(part[k:], "s") {
			return true
		}
		if k := strings.IndexByte(part, '='); k >= 0 && strings.ContainsAny(part[k:], "s") {
			return true
		}
	}
	return false
}

var privilegedGroups = map[string]bool{"sudo": true, "wheel": true, "admin": true, "root": true, "docker": true, "adm": true, "lxd": true, "disk": true, "shadow": true, "libvirt": true}

func usermodPrivileged(name string, a argInfo) bool {
	for i, w := range a.args {
		v := w.val
		next := ""
		if i+1 < len(a.args) {
			next = a.args[i+1].val
		}
		switch {
		case v == "-G" || v == "-aG" || v == "-g" || v == "--groups" || v == "--gid" || v == "-a" && next == "-G" || name == "gpasswd" && v == "-a":
			if v == "-a" && next == "-G" && i+2 < len(a.args) {
				next = a.args[i+2].val
			}
			if name == "gpasswd" && i+2 < len(a.args) {
				next = a.args[i+2].val
			}
			for _, g := range strings.Split(next, ",") {
				if privilegedGroups[g] {
					return true
				}
			}
		case (v == "-u" || v == "--uid") && next == "0", v == "-o" || v == "--non-unique":
			return true
		}
	}
	if name == "adduser" && len(a.positional()) >= 2 && privilegedGroups[a.positional()[1]] {
		return true
	}
	return false
}

func ipDown(pos []string) bool {
	if len(pos) < 2 {
		return false
	}
	switch pos[0] {
	case "link", "l":
		return pos[len(pos)-1] == "down" || slices1(pos, "delete", "del")
	case "addr", "address", "a", "route", "r", "neigh", "rule":
		return pos[1] == "flush" || pos[1] == "del" || pos[1] == "delete"
	}
	return false
}

func slices1(l []string, vals ...string) bool {
	for _, x := range l {
		for _, v := range vals {
			if x == v {
				return true
			}
		}
	}
	return false
}

// gitRemovesFiles reports git rm without --cached or --dry-run.
func gitRemovesFiles(args []shWord) bool {
	i := skipOpts(args, gitValueOpts)
	if i >= len(args) || args[i].val != "rm" {
		return false
	}
	rest := ai(args[i+1:])
	return !rest.hasLong("--cached", "--dry-run") && !rest.hasShort("n")
}

// ruleGitHubCLI handles gh/hub/glab: deleting repositories, releases and
// other resources, DELETE calls through the API, merging past review, and
// making repositories public.
func (fr *shellFrame) ruleGitHubCLI(name string, args []shWord, a argInfo, pos []string, node syntax.Node) (bool, bool) {
	if len(pos) == 0 {
		return true, false
	}
	verb := ""
	if len(pos) > 1 {
		verb = pos[1]
	}
	switch {
	case pos[0] == "delete" || verb == "delete" || verb == "remove" || verb == "rm" || verb == "archive" || verb == "delete-asset":
		fr.add(name+"_delete", CatInfraDestroy, true, node)
	case pos[0] == "api":
		m := ""
		for i, w := range args {
			switch {
			case (w.val == "-X" || w.val == "--method") && i+1 < len(args):
				m = strings.ToUpper(args[i+1].val)
			case strings.HasPrefix(w.val, "--method="):
				m = strings.ToUpper(strings.TrimPrefix(w.val, "--method="))
			case strings.HasPrefix(w.val, "-X") && len(w.val) > 2:
				m = strings.ToUpper(w.val[2:])
			}
		}
		switch m {
		case "DELETE":
			fr.add(name+"_api_delete", CatInfraDestroy, true, node)
		case "", "GET", "HEAD":
			if !a.hasShort("fFi") && !a.hasLong("--field", "--raw-field", "--input") {
				return true, true
			}
		}
	case pos[0] == "pr" && verb == "merge" && a.hasLong("--admin"):
		fr.add(name+"_merge_admin", CatGitForcePush, true, node)
	case pos[0] == "repo" && verb == "edit" && (a.has("--visibility") && a.has("public") || a.hasLong("--visibility=public")):
		fr.add(name+"_repo_public", CatInfraDestroy, true, node)
	case verb == "list" || verb == "view" || verb == "status" || verb == "diff" || verb == "checks" || pos[0] == "search" || pos[0] == "status" || pos[0] == "auth" && verb == "status":
		return true, true
	}
	return true, false
}

// redisCommand judges one Redis command (argv[0] is the command name).
func (fr *shellFrame) redisCommand(argv []shWord, node syntax.Node) bool {
	if len(argv) == 0 {
		return false
	}
	cmd := strings.ToLower(argv[0].val)
	sub := ""
	if len(argv) > 1 {
		sub = strings.ToLower(argv[1].val)
	}
	kind := redisDestructive[cmd]
	switch cmd {
	case "config":
		if sub == "set" || sub == "resetstat" || sub == "rewrite" {
			kind = "redis_config"
		}
	case "script", "function":
		if sub == "flush" || sub == "kill" || sub == "delete" {
			kind = "redis_flush"
		}
	case "cluster":
		if sub == "reset" || sub == "flushslots" || sub == "delslots" || sub == "forget" || sub == "failover" {
			kind = "redis_cluster"
		}
	case "restore":
		if slices1(lowerVals(argv[2:]), "replace") {
			kind = "redis_delete"
		}
	case "get", "mget", "keys", "scan", "info", "ping", "ttl", "type", "exists", "hget", "hgetall", "lrange", "smembers", "zrange", "strlen", "dbsize", "llen", "scard", "hkeys", "monitor", "slowlog", "memory", "client", "xrange", "xread":
		return true
	}
	if kind != "" {
		fr.add(kind, CatDelete, true, node)
	}
	return false
}

func lowerVals(ws []shWord) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = strings.ToLower(w.val)
	}
	return out
}

// mongoOps returns the destructive MongoDB operations called in a mongo shell
// script or driver code: deleteMany, drop, dropDatabase, $out, …
func mongoOps(code string) []string {
	if !strings.ContainsAny(code, "(:") || !containsFoldAny(code, "delete", "remove", "drop", "$out", "findandmodify", "renamecollection", "updatemany") {
		return nil
	}
	// Compare without spaces and quotes, case-insensitively:
	// db . users . deleteMany ( {} ), db["users"].drop(), {"dropDatabase": 1}.
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch c {
		case ' ', '\t', '\n', '\r', '"', '\'', '`', '[', ']':
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	s := b.String()
	var ops []string
	for _, m := range mongoMarkers {
		if strings.Contains(s, m.text) {
			ops = append(ops, m.op)
		}
	}
	return ops
}

var mongoMarkers = []struct{ text, op string }{
	{".deletemany(", "delete"}, {".deleteone(", "delete"}, {".remove(", "delete"}, {".findoneanddelete(", "delete"},
	{".findandmodify(", "delete"}, {"deletemany:", "delete"}, {"deleteone:", "delete"},
	{".drop(", "drop"}, {".dropdatabase(", "drop"}, {".dropindex(", "drop"}, {".dropindexes(", "drop"},
	{".dropuser(", "drop"}, {".dropallusers(", "drop"}, {".droprole(", "drop"}, {".dropallroles(", "drop"},
	{".dropsearchindex(", "drop"}, {"{drop:", "drop"}, {"{dropdatabase:", "drop"}, {",dropdatabase:", "drop"},
	{"{delete:", "delete"}, {"$out:", "drop"}, {".renamecollection(", "drop"}, {".updatemany({},", "update_all"},
}

// runsTrackedScript reports (and records findings) when u runs a script that
// this text wrote (echo … > f; bash f) or downloaded (curl -o f …; sh f).
func (fr *shellFrame) runsTrackedScript(u unwrapped, pos []string, node syntax.Node) bool {
	if len(fr.acc.scripts) == 0 {
		return false
	}
	var target string
	switch {
	case shellInterpreters[u.name] || u.name == "source" || u.name == "." || isCodeInterpreter(u.name):
		for _, w := range u.argv[1:] {
			if w.val == "-c" || strings.HasPrefix(w.val, "-") && strings.Contains(w.val, "c") && !strings.HasPrefix(w.val, "--") {
				return false
			}
			if !strings.HasPrefix(w.val, "-") {
				target = w.val
				break
			}
		}
	case strings.Contains(u.argv[0].val, "/"):
		target = u.argv[0].val
	}
	if target == "" {
		return false
	}
	content, ok := fr.acc.scripts[path.Clean(target)]
	if !ok {
		return false
	}
	if content == downloadedScript {
		fr.add("download_exec", CatDownloadExec, true, node)
		return true
	}
	fr.analyzeString(content, node)
	return true
}

// downloadedScript marks a tracked file that came from the network.
const downloadedScript = "\x00downloaded"

// trackScript records that this text wrote content to file p (or downloaded it).
func (acc *shellAcc) trackScript(p, content string) {
	if p == "" || len(acc.scripts) > 64 {
		return
	}
	if acc.scripts == nil {
		acc.scripts = map[string]string{}
	}
	acc.scripts[path.Clean(p)] = content
}

// containsFoldAny reports whether s contains any of the lower-case ASCII
// words, ignoring ASCII case, without allocating.
func containsFoldAny(s string, words ...string) bool {
	for _, w := range words {
		for i := 0; i+len(w) <= len(s); i++ {
			j := 0
			for j < len(w) {
				c := s[i+j]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				if c != w[j] {
					break
				}
				j++
			}
			if j == len(w) {
				return true
			}
		}
	}
	return false
}
