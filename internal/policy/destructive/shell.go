package destructive

import (
	"encoding/base64"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"mvdan.cc/sh/v3/syntax"
)

// maxShellDepth bounds recursion into shell held in strings (bash -c, eval,
// decoded base64, su -c, watch, env -S).
const maxShellDepth = 8

// maxShellCalls bounds the number of commands examined in one call's
// arguments; past it the facts are marked incomplete.
const maxShellCalls = 4096

type pathRef struct {
	raw, op, source string
}

type urlRef struct {
	raw, method, source string
}

// shellAcc collects the results of every shell text of one call.
type shellAcc struct {
	opts       *Options
	findings   []ShellFinding
	commands   map[string]bool
	reads      int
	nonReads   int
	parseError bool
	incomplete bool
	calls      int
	sql        []textRef
	paths      []pathRef
	urls       []urlRef
	scripts    map[string]string // files this text wrote (content) or downloaded, by cleaned path
}

// textRef is a text (SQL or shell) and the argument path it came from.
type textRef struct {
	text, source string
}

func newShellAcc(opts *Options) *shellAcc {
	return &shellAcc{opts: opts, commands: map[string]bool{}}
}

// shellFrame is one parsed shell text; nested texts (bash -c) get their own
// frame so offsets stay right.
type shellFrame struct {
	acc    *shellAcc
	src    string
	source string
	depth  int
	seen   map[*syntax.BinaryCmd]bool
}

// analyzeShell parses src as bash and records its findings in acc.
func (acc *shellAcc) analyzeShell(src, source string, depth int) {
	if depth > maxShellDepth {
		acc.incomplete = true
		return
	}
	p := syntax.NewParser(syntax.Variant(syntax.LangBash))
	f, err := p.Parse(strings.NewReader(src), "")
	if err != nil {
		acc.parseError = true
		acc.nonReads++
		// Try again with error recovery so what did parse is still inspected.
		p2 := syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.RecoverErrors(8))
		f, _ = p2.Parse(strings.NewReader(src), "")
		if f == nil {
			return
		}
	}
	fr := &shellFrame{acc: acc, src: src, source: source, depth: depth, seen: map[*syntax.BinaryCmd]bool{}}
	fr.walk(f)
}

// analyzeArgvText classifies an argv given as separate strings (exec-style
// tools). Each element is one word, never split or expanded.
func (acc *shellAcc) analyzeArgvText(argv []string, source string) {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(a))
	}
	acc.analyzeShell(b.String(), source, 0)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (fr *shellFrame) text(n syntax.Node) string {
	a, b := int(n.Pos().Offset()), int(n.End().Offset())
	if a < 0 || b > len(fr.src) || a >= b {
		return shorten(strings.TrimSpace(fr.src), 200)
	}
	return shorten(fr.src[a:b], 200)
}

func (fr *shellFrame) add(kind, cat string, destructive bool, n syntax.Node) {
	fr.addText(kind, cat, destructive, fr.text(n))
}

func (fr *shellFrame) addText(kind, cat string, destructive bool, text string) {
	for _, f := range fr.acc.findings {
		if f.Kind == kind && f.Command == text && f.Source == fr.source {
			return
		}
	}
	fr.acc.findings = append(fr.acc.findings, ShellFinding{
		Kind: kind, Category: cat, Command: text, Source: fr.source, Destructive: destructive,
	})
}

func (fr *shellFrame) walk(root syntax.Node) {
	syntax.Walk(root, func(n syntax.Node) bool {
		if fr.acc.calls > maxShellCalls {
			fr.acc.incomplete = true
			return false
		}
		switch x := n.(type) {
		case *syntax.Stmt:
			fr.checkRedirects(x)
		case *syntax.CallExpr:
			fr.acc.calls++
			fr.handleCall(x)
		case *syntax.BinaryCmd:
			if x.Op == syntax.Pipe || x.Op == syntax.PipeAll {
				fr.checkPipeline(x)
			}
		case *syntax.FuncDecl:
			fr.checkForkBomb(x)
		}
		return true
	})
}

// shWord is a command word after quote removal.
type shWord struct {
	val     string
	dynamic bool // contains an expansion whose value is unknown
	node    *syntax.Word
}

// resolveWords turns call words into argv, applying quote removal, $'…'
// decoding, $IFS splitting and simple brace expansion.
func (fr *shellFrame) resolveWords(words []*syntax.Word) []shWord {
	var out []shWord
	for _, w := range words {
		out = append(out, fr.resolveWord(w)...)
		if len(out) > 4096 {
			break
		}
	}
	return out
}

const ifsMark = "\x00"

func (fr *shellFrame) resolveWord(w *syntax.Word) []shWord {
	var b strings.Builder
	dynamic := false
	obfuscated := ""
	onlyLit := true
	for _, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			b.WriteString(unescapeUnquoted(p.Value))
		case *syntax.SglQuoted:
			onlyLit = false
			if p.Dollar {
				v := decodeANSIC(p.Value)
				if v != p.Value {
					obfuscated = "ansi_c_quoting"
				}
				b.WriteString(v)
			} else {
				b.WriteString(p.Value)
			}
		case *syntax.DblQuoted:
			onlyLit = false
			for _, dp := range p.Parts {
				switch q := dp.(type) {
				case *syntax.Lit:
					b.WriteString(unescapeDouble(q.Value))
				case *syntax.ParamExp:
					if v, ok := knownParam(q); ok && v != ifsMark {
						b.WriteString(v)
					} else {
						dynamic = true
					}
				default:
					dynamic = true
				}
			}
		case *syntax.ParamExp:
			onlyLit = false
			v, ok := knownParam(p)
			if !ok {
				dynamic = true
				continue
			}
			if v == ifsMark {
				obfuscated = "ifs_splitting"
			}
			b.WriteString(v)
		default:
			onlyLit = false
			dynamic = true
		}
	}
	if obfuscated != "" {
		fr.add(obfuscated, CatObfuscated, true, w)
	}
	s := b.String()
	var vals []string
	if strings.Contains(s, ifsMark) {
		for _, f := range strings.Split(s, ifsMark) {
			if f != "" {
				vals = append(vals, f)
			}
		}
	} else {
		vals = []string{s}
	}
	if onlyLit && len(vals) == 1 && strings.Contains(s, "{") && strings.Contains(s, "}") {
		vals = expandBraces(s)
	}
	out := make([]shWord, 0, len(vals))
	for _, v := range vals {
		out = append(out, shWord{val: v, dynamic: dynamic, node: w})
	}
	return out
}

// knownParam returns the value of parameters that matter for evasion: IFS
// (word splitting) and HOME (~).
func knownParam(p *syntax.ParamExp) (string, bool) {
	if p.Param == nil || p.Excl || p.Length || p.Index != nil || p.Repl != nil || p.Exp != nil && p.Param.Value != "IFS" {
		if p.Param != nil && p.Param.Value == "IFS" {
			return ifsMark, true
		}
		return "", false
	}
	switch p.Param.Value {
	case "IFS":
		return ifsMark, true
	case "HOME":
		return "~", true
	}
	return "", false
}

// expandBraces performs one level of {a,b} expansion (bash turns
// {rm,-rf,/} into three words).
func expandBraces(s string) []string {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return []string{s}
	}
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				inner := s[open+1 : i]
				if !strings.Contains(inner, ",") {
					return []string{s}
				}
				var out []string
				for _, alt := range strings.Split(inner, ",") {
					out = append(out, s[:open]+alt+s[i+1:])
					if len(out) > 64 {
						break
					}
				}
				return out
			}
		}
	}
	return []string{s}
}

func unescapeUnquoted(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unescapeDouble(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// decodeANSIC decodes the escapes of a bash $'…' string.
func decodeANSIC(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'e', 'E':
			b.WriteByte(27)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case 'x', 'u', 'U':
			maxDigits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			j := i + 1
			for j < len(s) && j-i-1 < maxDigits && isHex(s[j]) {
				j++
			}
			if j == i+1 {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			v, _ := strconv.ParseUint(s[i+1:j], 16, 32)
			if e == 'x' {
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
			i = j - 1
		case 'c':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i] & 0x1f)
			}
		default:
			if e >= '0' && e <= '7' {
				j := i
				for j < len(s) && j-i < 3 && s[j] >= '0' && s[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(s[i:j], 8, 16)
				b.WriteByte(byte(v))
				i = j - 1
				continue
			}
			b.WriteByte(e)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// cmdName returns the lower-cased basename of a command word; "\rm",
// "/usr/bin/rm" and "RM" all name rm.
func cmdName(s string) string {
	s = strings.TrimLeft(s, `\`)
	if strings.ContainsRune(s, '/') {
		s = path.Base(s)
	}
	s = strings.TrimSuffix(strings.ToLower(s), ".exe")
	return s
}

// argInfo answers questions about a command's arguments (argv without the
// command word).
type argInfo struct {
	args []shWord
}

// positional returns the arguments that are not options ("--" ends options).
func (a argInfo) positional() []string {
	var out []string
	end := false
	for _, w := range a.args {
		if !end && w.val == "--" {
			end = true
			continue
		}
		if !end && strings.HasPrefix(w.val, "-") && w.val != "-" {
			continue
		}
		out = append(out, w.val)
	}
	return out
}

// hasShort reports whether a single-dash option bundle before "--" contains
// any of the letters.
func (a argInfo) hasShort(letters string) bool {
	for _, w := range a.args {
		if w.val == "--" {
			return false
		}
		if len(w.val) > 1 && w.val[0] == '-' && w.val[1] != '-' && strings.ContainsAny(w.val[1:], letters) {
			return true
		}
	}
	return false
}

// hasLong reports whether any of the long options (matched with or without
// "=value") appears before "--".
func (a argInfo) hasLong(names ...string) bool {
	for _, w := range a.args {
		if w.val == "--" {
			return false
		}
		for _, n := range names {
			if w.val == n || strings.HasPrefix(w.val, n+"=") {
				return true
			}
		}
	}
	return false
}

// optionValue returns the value of an option before "--": "-C dir", "-Cdir", "--directory dir" or
// "--directory=dir"; "" when absent.
func (a argInfo) optionValue(opt string) string {
	for i, w := range a.args {
		switch {
		case w.val == "--":
			return ""
		case w.val == opt && i+1 < len(a.args):
			return a.args[i+1].val
		case strings.HasPrefix(opt, "--") && strings.HasPrefix(w.val, opt+"="):
			return w.val[len(opt)+1:]
		case len(opt) == 2 && strings.HasPrefix(w.val, opt) && len(w.val) > 2:
			return w.val[2:]
		}
	}
	return ""
}

// has reports whether any argument equals one of vals.
func (a argInfo) has(vals ...string) bool {
	for _, w := range a.args {
		for _, v := range vals {
			if w.val == v {
				return true
			}
		}
	}
	return false
}

// skipOpts returns the index of the first positional word of args, skipping
// options; withValue lists options that take a separate value.
func skipOpts(args []shWord, withValue map[string]bool) int {
	for i := 0; i < len(args); i++ {
		v := args[i].val
		if v == "--" {
			return i + 1
		}
		if !strings.HasPrefix(v, "-") || v == "-" {
			return i
		}
		if withValue[v] && !strings.Contains(v, "=") {
			i++
		}
	}
	return len(args)
}

var (
	shellInterpreters = map[string]bool{
		"sh": true, "bash": true, "zsh": true, "dash": true, "ksh": true, "ash": true, "mksh": true,
		"fish": true, "csh": true, "tcsh": true, "rbash": true, "yash": true, "posh": true,
	}
	codeInterpreterPrefixes = []string{"python", "perl", "ruby", "node", "nodejs", "php", "lua", "pwsh", "powershell", "osascript", "deno", "bun", "tclsh", "awk", "gawk", "mawk", "nawk", "Rscript", "julia"}
	downloaders             = map[string]bool{
		"curl": true, "wget": true, "fetch": true, "aria2c": true, "lwp-download": true, "lwp-request": true,
		"http": true, "https": true, "xh": true, "nc": true, "ncat": true, "netcat": true, "socat": true,
		"tftp": true, "ftp": true, "scp": true, "invoke-webrequest": true, "iwr": true,
	}
	decoders = map[string]bool{
		"base64": true, "base32": true, "xxd": true, "openssl": true, "uudecode": true, "gunzip": true,
		"zcat": true, "gzip": true, "bzip2": true, "bunzip2": true, "xz": true, "unxz": true, "zstd": true,
		"rev": true, "tr": true, "basenc": true,
	}
	readOnlyCommands = map[string]bool{
		"ls": true, "ll": true, "dir": true, "cat": true, "head": true, "tail": true, "less": true, "more": true,
		"grep": true, "egrep": true, "fgrep": true, "rg": true, "ag": true, "ack": true, "echo": true,
		"printf": true, "pwd": true, "wc": true, "sort": true, "uniq": true, "cut": true, "tr": true,
		"stat": true, "file": true, "du": true, "df": true, "ps": true, "whoami": true, "id": true,
		"uname": true, "date": true, "which": true, "type": true, "whereis": true, "tree": true, "jq": true,
		"test": true, "[": true, "true": true, "false": true, "cd": true, "hostname": true, "uptime": true,
		"free": true, "printenv": true, "basename": true, "dirname": true, "realpath": true,
		"readlink": true, "diff": true, "cmp": true, "md5sum": true, "sha1sum": true, "sha256sum": true,
		"sha512sum": true, "cksum": true, "lsblk": true, "lsof": true, "netstat": true, "ss": true,
		"nslookup": true, "dig": true, "host": true, "ping": true, "column": true, "nl": true, "od": true,
		"hexdump": true, "strings": true, "sleep": true, "man": true, "help": true, "find": true,
		"locate": true, "fd": true, "bat": true, "zless": true, "env": true, "nproc": true, "arch": true,
		"groups": true, "last": true, "w": true, "who": true, "top": true, "htop": true, "vmstat": true,
		"iostat": true, "tac": true, "paste": true, "join": true, "comm": true, "fold": true,
		"fmt": true, "expand": true, "seq": true, "xxd": true, "base64": true, "exit": true,
		"git": true, "kubectl": true, "docker": true, "helm": true, "terraform": true, "curl": true,
		"wget": true, "journalctl": true,
		"systemctl": true, "sed": true, "psql": true, "mysql": true,
		"sqlite3": true, "xargs": true, ":": true, "local": true, "export": true,
		"set": true, "read": true,
	}
	nonDevicePaths = map[string]bool{
		"/dev/null": true, "/dev/stdout": true, "/dev/stderr": true, "/dev/stdin": true, "/dev/tty": true,
		"/dev/zero": true, "/dev/random": true, "/dev/urandom": true, "/dev/full": true,
	}
)

func isCodeInterpreter(name string) bool {
	for _, p := range codeInterpreterPrefixes {
		if strings.HasPrefix(name, strings.ToLower(p)) {
			rest := name[len(p):]
			if rest == "" || strings.Trim(rest, "0123456789.") == "" {
				return true
			}
		}
	}
	return false
}

// isDeviceTarget reports whether p is a block or memory device.
func isDeviceTarget(p string) bool {
	if !strings.HasPrefix(p, "/dev/") || nonDevicePaths[p] || strings.HasPrefix(p, "/dev/fd/") || strings.HasPrefix(p, "/dev/pts/") || strings.HasPrefix(p, "/dev/shm/") {
		return false
	}
	return true
}

// unwrapped is a command after removing wrappers.
type unwrapped struct {
	name string
	argv []shWord // argv[0] is the command word
}

var (
	sudoValueOpts    = map[string]bool{"-u": true, "-g": true, "-C": true, "-D": true, "-h": true, "-p": true, "-r": true, "-t": true, "-U": true, "-T": true, "--user": true, "--group": true, "--chdir": true, "--prompt": true, "--role": true, "--type": true, "--other-user": true, "--host": true, "--close-from": true, "--command-timeout": true}
	envValueOpts     = map[string]bool{"-u": true, "--unset": true, "-C": true, "--chdir": true, "-S": true, "--split-string": true, "-a": true, "--argv0": true}
	timeoutValueOpts = map[string]bool{"-s": true, "--signal": true, "-k": true, "--kill-after": true}
	niceValueOpts    = map[string]bool{"-n": true, "--adjustment": true}
	ioniceValueOpts  = map[string]bool{"-c": true, "-n": true, "-p": true, "--class": true, "--classdata": true}
	xargsValueOpts   = map[string]bool{"-a": true, "--arg-file": true, "-d": true, "--delimiter": true, "-E": true, "-I": true, "-L": true, "--max-lines": true, "-n": true, "--max-args": true, "-P": true, "--max-procs": true, "-s": true, "--max-chars": true, "--process-slot-var": true}
	stdbufValueOpts  = map[string]bool{"-i": true, "-o": true, "-e": true, "--input": true, "--output": true, "--error": true}
	execValueOpts    = map[string]bool{"-a": true}
	watchValueOpts   = map[string]bool{"-n": true, "--interval": true, "-q": true, "--equexit": true}
	flockValueOpts   = map[string]bool{"-w": true, "--wait": true, "--timeout": true, "-E": true, "--conflict-exit-code": true}
	chrootValueOpts  = map[string]bool{"--userspec": true, "--groups": true}
	doasValueOpts    = map[string]bool{"-u": true, "-C": true}
	runuserValueOpts = map[string]bool{"-u": true, "--user": true, "-g": true, "--group": true, "-G": true, "--supp-group": true, "-s": true, "--shell": true, "-w": true, "--whitelist-environment": true}
	gitValueOpts     = map[string]bool{"-C": true, "-c": true, "--git-dir": true, "--work-tree": true, "--namespace": true, "--config-env": true, "--super-prefix": true}
	kubeValueOpts    = map[string]bool{"-n": true, "--namespace": true, "--context": true, "--kubeconfig": true, "-s": true, "--server": true, "--cluster": true, "--user": true, "--token": true, "-l": true, "--selector": true, "-o": true, "--output": true, "--as": true, "--as-group": true, "--request-timeout": true, "--certificate-authority": true, "--client-certificate": true, "--client-key": true, "-f": true, "--filename": true}
	dockerValueOpts  = map[string]bool{"-H": true, "--host": true, "--context": true, "-c": true, "--config": true, "-l": true, "--log-level": true, "--tlscacert": true, "--tlscert": true, "--tlskey": true}
	helmValueOpts    = map[string]bool{"-n": true, "--namespace": true, "--kube-context": true, "--kubeconfig": true, "--registry-config": true, "--repository-cache": true, "--repository-config": true}
)

// unwrap strips command prefixes (sudo, env, nohup, time, xargs, …) and
// reports privilege escalation on the way. It returns ok=false when no command
// is left. Wrappers that run a shell string (su -c, env -S, watch, flock -c)
// are analysed recursively and end the unwrapping.
func (fr *shellFrame) unwrap(argv []shWord, node syntax.Node) (unwrapped, bool) {
	for guard := 0; guard < 32 && len(argv) > 0; guard++ {
		if argv[0].dynamic {
			fr.add("dynamic_command", CatObfuscated, true, node)
			return unwrapped{}, false
		}
		name := cmdName(argv[0].val)
		args := argv[1:]
		var next int
		switch name {
		case "sudo", "doas", "pkexec", "runuser", "sg":
			fr.add(name, CatPrivilege, true, node)
			fr.acc.nonReads++
			switch name {
			case "sudo":
				if ai(args).hasLong("--edit") || ai(args).hasShort("e") && !ai(args).hasShort("u") {
					return unwrapped{}, false
				}
				next = skipOpts(args, sudoValueOpts)
			case "doas":
				next = skipOpts(args, doasValueOpts)
			case "pkexec":
				next = skipOpts(args, map[string]bool{"--user": true})
			case "runuser":
				if fr.shellStringOption(args, "-c", "--command", node) {
					return unwrapped{}, false
				}
				next = skipOpts(args, runuserValueOpts)
				if next < len(args) && !strings.HasPrefix(args[next].val, "-") && !ai(args).has("--") && !ai(args).hasShort("u") {
					// runuser USER [args]: the rest are su-style arguments.
					return unwrapped{}, false
				}
			case "sg":
				if fr.shellStringOption(args, "-c", "", node) {
					return unwrapped{}, false
				}
				next = skipOpts(args, nil)
				if next < len(args) {
					next++ // group
				}
				if next < len(args) {
					fr.analyzeString(joinWords(args[next:]), node)
				}
				return unwrapped{}, false
			}
		case "su":
			fr.add("su", CatPrivilege, true, node)
			fr.acc.nonReads++
			fr.shellStringOption(args, "-c", "--command", node)
			return unwrapped{}, false
		case "env":
			i := 0
			for i < len(args) {
				v := args[i].val
				switch {
				case v == "-S" || v == "--split-string":
					if i+1 < len(args) {
						rest := args[i+1].val
						if i+2 < len(args) {
							rest += " " + joinWords(args[i+2:])
						}
						fr.analyzeString(rest, node)
					}
					return unwrapped{}, false
				case strings.HasPrefix(v, "--split-string=") || strings.HasPrefix(v, "-S") && len(v) > 2:
					s := strings.TrimPrefix(strings.TrimPrefix(v, "--split-string="), "-S")
					if i+1 < len(args) {
						s += " " + joinWords(args[i+1:])
					}
					fr.analyzeString(s, node)
					return unwrapped{}, false
				case v == "--":
					i++
					goto envDone
				case strings.HasPrefix(v, "-") && v != "-":
					if envValueOpts[v] {
						i++
					}
					i++
				case strings.Contains(v, "=") && !strings.HasPrefix(v, "="):
					i++
				default:
					goto envDone
				}
			}
		envDone:
			next = i
			if next >= len(args) {
				fr.acc.reads++ // bare env prints the environment
				return unwrapped{}, false
			}
		case "nohup", "setsid", "unbuffer", "chronic", "caffeinate", "builtin", "time", "nocache", "catchsegv", "ltrace", "strace", "torsocks", "proxychains", "proxychains4", "firejail", "faketime":
			next = skipOpts(args, map[string]bool{"-o": true, "-e": true, "-p": true})
			if name == "faketime" && next < len(args) {
				next++
			}
		case "command":
			if ai(args).hasShort("vV") {
				fr.acc.reads++
				return unwrapped{}, false
			}
			next = skipOpts(args, nil)
		case "exec":
			next = skipOpts(args, execValueOpts)
		case "nice":
			next = skipOpts(args, niceValueOpts)
		case "ionice":
			next = skipOpts(args, ioniceValueOpts)
		case "timeout":
			next = skipOpts(args, timeoutValueOpts) + 1 // duration
		case "stdbuf":
			next = skipOpts(args, stdbufValueOpts)
		case "chroot":
			next = skipOpts(args, chrootValueOpts) + 1 // new root
		case "xargs":
			next = skipOpts(args, xargsValueOpts)
			if next >= len(args) {
				fr.acc.reads++ // default command is echo
				return unwrapped{}, false
			}
		case "watch":
			next = skipOpts(args, watchValueOpts)
			if next < len(args) {
				fr.analyzeString(joinWords(args[next:]), node)
			}
			return unwrapped{}, false
		case "flock":
			if fr.shellStringOption(args, "-c", "--command", node) {
				return unwrapped{}, false
			}
			next = skipOpts(args, flockValueOpts) + 1 // lock file
		case "busybox", "toybox":
			next = 0
			if len(args) > 0 && strings.HasPrefix(args[0].val, "-") {
				return unwrapped{}, false
			}
		default:
			return unwrapped{name: name, argv: argv}, true
		}
		if next >= len(args) {
			return unwrapped{}, false
		}
		argv = args[next:]
	}
	return unwrapped{}, false
}

// shellStringOption finds a "-c STRING" style option in args and analyses the
// string as shell. It reports whether one was found.
func (fr *shellFrame) shellStringOption(args []shWord, short, long string, node syntax.Node) bool {
	for i, w := range args {
		v := w.val
		if v == "--" {
			return false
		}
		if long != "" && strings.HasPrefix(v, long+"=") {
			fr.analyzeWord(shWord{val: strings.TrimPrefix(v, long+"="), dynamic: w.dynamic}, node)
			return true
		}
		if v == short || (long != "" && v == long) {
			if i+1 < len(args) {
				fr.analyzeWord(args[i+1], node)
			}
			return true
		}
	}
	return false
}

func joinWords(ws []shWord) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.val
	}
	return strings.Join(parts, " ")
}

// analyzeWord analyses a word that holds a shell script.
func (fr *shellFrame) analyzeWord(w shWord, node syntax.Node) {
	if w.dynamic {
		fr.add("dynamic_script", CatObfuscated, true, node)
		if w.node != nil && containsDownloader(w.node) {
			fr.add("download_exec", CatDownloadExec, true, node)
		}
		return
	}
	fr.analyzeString(w.val, node)
}

func (fr *shellFrame) analyzeString(s string, node syntax.Node) {
	if fr.depth+1 > maxShellDepth {
		fr.acc.incomplete = true
		fr.add("nesting_too_deep", CatObfuscated, true, node)
		return
	}
	fr.acc.analyzeShell(s, fr.source, fr.depth+1)
}

// handleCall classifies one simple command.
func (fr *shellFrame) handleCall(call *syntax.CallExpr) {
	// Assignments whose value is a script are not executed; nothing to do.
	if len(call.Args) == 0 {
		return
	}
	argv := fr.resolveWords(call.Args)
	if len(argv) == 0 {
		return
	}
	fr.classifyArgv(argv, call)
}

func (fr *shellFrame) classifyArgv(argv []shWord, node syntax.Node) {
	u, ok := fr.unwrap(argv, node)
	if !ok {
		return
	}
	fr.acc.commands[u.name] = true
	a := ai(u.argv[1:])
	before := len(fr.acc.findings)
	read := fr.rules(u, a, node)
	destructiveAdded := false
	for _, f := range fr.acc.findings[before:] {
		if f.Destructive || f.Category == CatWrite || f.Category == CatInlineCode {
			destructiveAdded = true
		}
	}
	if read && readOnlyCommands[u.name] && !destructiveAdded {
		fr.acc.reads++
	} else {
		fr.acc.nonReads++
	}
}

// rules applies the per-command rules. It returns false when the command is
// known to write even if it is in the read-only table (e.g. sed -i).
func (fr *shellFrame) rules(u unwrapped, a argInfo, node syntax.Node) bool {
	name := u.name
	args := u.argv[1:]
	pos := a.positional()
	if handled, read := fr.moreRules(u, a, pos, node); handled {
		return read
	}
	switch {
	case name == "rm" || name == "unlink" || name == "rmdir" || name == "srm" || name == "trash" || name == "trash-put" || name == "del" || name == "rd" || name == "remove-item":
		recursive := name == "rm" && (a.hasShort("rR") || a.hasLong("--recursive")) ||
			name == "srm" && a.hasShort("r") || name == "remove-item" && a.hasLong("-recurse", "-Recurse") ||
			(name == "del" || name == "rd") && (a.has("/s", "/S", "/q", "/Q"))
		critical := false
		for _, p := range pos {
			fr.acc.paths = append(fr.acc.paths, pathRef{raw: p, op: "delete", source: fr.source})
			if isCriticalTarget(p) {
				critical = true
			}
		}
		switch {
		case recursive && (critical || a.hasLong("--no-preserve-root")):
			fr.add("rm_recursive_root", CatRmRecursive, true, node)
		case recursive:
			fr.add("rm_recursive", CatRmRecursive, true, node)
		default:
			fr.add(name, CatDelete, true, node)
		}
		if name == "srm" {
			fr.add("srm", CatDiskWipe, true, node)
		}
	case name == "shred" || name == "wipe":
		fr.add(name, CatDiskWipe, true, node)
		for _, p := range pos {
			fr.acc.paths = append(fr.acc.paths, pathRef{raw: p, op: "delete", source: fr.source})
		}
	case name == "find":
		fr.ruleFind(args, node)
	case name == "tar" || name == "gtar" || name == "bsdtar" || name == "unzip" || name == "7z" || name == "7za":
		return fr.ruleExtract(name, a, node)
	case strings.HasPrefix(name, "mkfs") || strings.HasPrefix(name, "mke2fs") || strings.HasPrefix(name, "newfs") ||
		name == "mkswap" || name == "mkdosfs" || name == "mkntfs" || name == "wipefs" || name == "blkdiscard" ||
		name == "fdisk" || name == "sfdisk" || name == "cfdisk" || name == "parted" || name == "sgdisk" ||
		name == "gdisk" || name == "zpool" && len(pos) > 0 && pos[0] == "destroy" || name == "zfs" && len(pos) > 0 && pos[0] == "destroy" ||
		name == "cryptsetup" && len(pos) > 0 && (pos[0] == "luksFormat" || pos[0] == "erase" || pos[0] == "luksErase") ||
		name == "hdparm" && a.hasLong("--security-erase", "--security-erase-enhanced", "--trim-sector-ranges") ||
		name == "badblocks" && a.hasShort("w") || name == "diskutil" && len(pos) > 0 && strings.HasPrefix(strings.ToLower(pos[0]), "erase") ||
		name == "format" || name == "diskpart":
		if name == "fdisk" && a.hasShort("l") {
			return true
		}
		fr.add(name, CatDiskWipe, true, node)
	case name == "dd":
		for _, w := range args {
			if strings.HasPrefix(w.val, "of=") {
				target := strings.TrimPrefix(w.val, "of=")
				fr.acc.paths = append(fr.acc.paths, pathRef{raw: target, op: "write", source: fr.source})
				fr.add("dd_write", CatDiskWipe, true, node)
			}
		}
	case name == "chmod" || name == "chown" || name == "chgrp" || name == "chattr" || name == "setfacl" || name == "chcon":
		if a.hasShort("R") || a.hasLong("--recursive") {
			fr.add(name+"_recursive", CatChmodRecursive, true, node)
		} else {
			fr.add(name, CatWrite, false, node)
		}
		for _, p := range pos[min(1, len(pos)):] {
			fr.acc.paths = append(fr.acc.paths, pathRef{raw: p, op: "write", source: fr.source})
		}
	case name == "git":
		return fr.ruleGit(args, node)
	case name == "kubectl" || name == "oc" || name == "k":
		return fr.ruleKube(args, node)
	case name == "helm":
		i := skipOpts(args, helmValueOpts)
		if i < len(args) {
			switch args[i].val {
			case "uninstall", "delete", "del", "un":
				fr.add("helm_uninstall", CatInfraDestroy, true, node)
			case "list", "ls", "status", "get", "history", "show", "search", "template", "lint", "version", "repo":
				return true
			default:
				return false
			}
		}
	case name == "terraform" || name == "tofu" || name == "terragrunt":
		i := skipOpts(args, nil)
		if i < len(args) {
			sub := args[i].val
			rest := ai(args[i+1:])
			switch {
			case sub == "destroy" || sub == "run-all" && rest.has("destroy"):
				fr.add("terraform_destroy", CatInfraDestroy, true, node)
			case sub == "apply" && rest.hasLong("-destroy", "--destroy"):
				fr.add("terraform_destroy", CatInfraDestroy, true, node)
			case sub == "apply" && rest.hasLong("-auto-approve", "--auto-approve"):
				fr.add("terraform_auto_approve", CatInfraDestroy, true, node)
			case sub == "state" && rest.has("rm"):
				fr.add("terraform_state_rm", CatInfraDestroy, true, node)
			case sub == "plan" || sub == "show" || sub == "validate" || sub == "fmt" || sub == "output" || sub == "version" || sub == "providers" || sub == "graph":
				return true
			}
		}
		return false
	case name == "pulumi":
		if len(pos) > 0 && (pos[0] == "destroy" || pos[0] == "down") {
			fr.add("pulumi_destroy", CatInfraDestroy, true, node)
		}
	case name == "aws" || name == "gcloud" || name == "az" || name == "doctl" || name == "flyctl" || name == "fly" || name == "heroku" || name == "gsutil" || name == "s3cmd" || name == "rclone" || name == "vercel" || name == "firebase":
		fr.ruleCloud(name, a, pos, node)
	case name == "docker" || name == "podman" || name == "nerdctl":
		return fr.ruleDocker(args, node)
	case name == "shutdown" || name == "reboot" || name == "halt" || name == "poweroff":
		fr.add(name, CatPower, true, node)
	case name == "init" || name == "telinit":
		if len(pos) > 0 && (pos[0] == "0" || pos[0] == "6") {
			fr.add(name, CatPower, true, node)
		}
	case name == "systemctl" || name == "service" || name == "launchctl" || name == "rc-service" || name == "sv":
		return fr.ruleService(name, pos, node)
	case name == "iptables" || name == "ip6tables" || name == "iptables-legacy" || name == "iptables-nft" || name == "ebtables" || name == "arptables":
		if a.hasShort("FX") || a.hasLong("--flush", "--delete-chain") || a.has("-P") && a.has("DROP") {
			fr.add(name+"_flush", CatFirewall, true, node)
		} else if a.hasShort("L") || a.hasLong("--list", "--list-rules") || a.hasShort("S") {
			return true
		} else {
			return false
		}
	case name == "nft":
		if a.has("flush", "delete") {
			fr.add("nft_flush", CatFirewall, true, node)
		} else if !a.has("list") {
			return false
		}
	case name == "ufw":
		if a.has("disable", "reset") {
			fr.add("ufw_disable", CatFirewall, true, node)
		} else if !a.has("status") {
			return false
		}
	case name == "crontab":
		if a.hasShort("r") {
			fr.add("crontab_remove", CatCrontabRemove, true, node)
		} else if !a.hasShort("l") {
			return false
		}
	case name == "kill" || name == "killall" || name == "pkill" || name == "skill" || name == "killall5" || name == "taskkill" || name == "stop-process":
		if name == "kill" && a.hasShort("l") {
			return true
		}
		fr.add(name, CatProcessKill, true, node)
	case name == "userdel" || name == "deluser" || name == "groupdel" || name == "delgroup":
		fr.add(name, CatAccount, true, node)
	case (name == "passwd" || name == "usermod") && (a.hasShort("dlL") || a.hasLong("--delete", "--lock", "--expire")):
		fr.add(name, CatAccount, true, node)
	case name == "truncate":
		for _, p := range pos {
			fr.acc.paths = append(fr.acc.paths, pathRef{raw: p, op: "delete", source: fr.source})
		}
		fr.add("truncate_file", CatDelete, true, node)
	case name == "rsync":
		if a.hasLong("--delete", "--delete-before", "--delete-after", "--delete-during", "--delete-excluded", "--remove-source-files") {
			fr.add("rsync_delete", CatDelete, true, node)
		}
		if len(pos) > 0 {
			fr.writeTarget(pos[len(pos)-1], "rsync", node)
		}
	case name == "cp" || name == "mv" || name == "install" || name == "ln":
		if len(pos) >= 2 {
			fr.writeTarget(pos[len(pos)-1], name, node)
		}
		if name == "mv" {
			for _, p := range pos[:max(0, len(pos)-1)] {
				fr.acc.paths = append(fr.acc.paths, pathRef{raw: p, op: "delete", source: fr.source})
			}
		}
		if len(pos) < 2 {
			fr.add(name, CatWrite, false, node)
		}
	case name == "tee":
		for _, p := range pos {
			if a.hasShort("a") || a.hasLong("--append") {
				fr.appendTarget(p, node)
			} else {
				fr.writeTarget(p, "tee", node)
			}
		}
		if len(pos) == 0 {
			return true
		}
	case name == "sed" || name == "perl" && (a.hasShort("i") && a.hasShort("e")):
		if a.hasShort("i") || a.hasLong("--in-place") {
			for _, p := range pos[min(1, len(pos)):] {
				fr.writeTarget(p, "sed_in_place", node)
			}
			return false
		}
		if name == "perl" {
			fr.add("perl_inline", CatInlineCode, false, node)
		}
	case name == "psql" || name == "mysql" || name == "mariadb" || name == "sqlite3" || name == "clickhouse-client" || name == "cqlsh" || name == "duckdb" || name == "sqlcmd":
		return fr.ruleSQLClient(name, args, pos, node)
	case downloaders[name]:
		return fr.ruleDownloader(name, args, node)
	case shellInterpreters[name]:
		fr.ruleInterpreter(args, node)
		return false
	case name == "eval":
		for _, w := range args {
			if w.dynamic {
				fr.add("eval_dynamic", CatObfuscated, true, node)
				if w.node != nil && containsDownloader(w.node) {
					fr.add("download_exec", CatDownloadExec, true, node)
				}
				return false
			}
		}
		fr.analyzeString(joinWords(args), node)
		return false
	case name == "source" || name == ".":
		for _, w := range args {
			if w.node != nil && containsDownloader(w.node) {
				fr.add("download_exec", CatDownloadExec, true, node)
			}
		}
		return false
	case name == "alias":
		for _, w := range args {
			if k := strings.IndexByte(w.val, '='); k > 0 {
				fr.analyzeString(w.val[k+1:], node)
			}
		}
		return false
	case isCodeInterpreter(name):
		if a.hasShort("ceErS") || a.hasLong("--eval", "-Command", "--command", "-EncodedCommand") || strings.Contains(name, "awk") {
			fr.add(name+"_inline", CatInlineCode, false, node)
			for _, w := range args {
				if !strings.HasPrefix(w.val, "-") && !w.dynamic {
					fr.inspectInlineCode(w.val, node)
				}
			}
		}
		for _, w := range args {
			if w.node != nil && containsDownloader(w.node) {
				fr.add("download_exec", CatDownloadExec, true, node)
			}
		}
		return false
	}
	return true
}

func isCriticalTarget(p string) bool {
	if p == "" {
		return false
	}
	p = strings.TrimRight(p, "/")
	switch p {
	case "", "/*", "~", "~/*", ".", "..", "*", "./*", ".*", "/bin", "/boot", "/etc", "/home", "/lib", "/usr", "/var", "/root", "/opt", "/srv", "/sbin", "/lib64", "c:", `c:\`, `c:\windows`:
		return true
	}
	return false
}

func (fr *shellFrame) writeTarget(p, by string, node syntax.Node) {
	fr.acc.paths = append(fr.acc.paths, pathRef{raw: p, op: "write", source: fr.source})
	switch {
	case isDeviceTarget(p):
		fr.add(by+"_device", CatDiskWipe, true, node)
	case nonDevicePaths[p]:
	case fr.riskyWriteTarget(p):
		fr.add(by+"_overwrite", CatOverwrite, true, node)
	default:
		fr.add(by, CatWrite, false, node)
	}
}

func (fr *shellFrame) appendTarget(p string, node syntax.Node) {
	fr.acc.paths = append(fr.acc.paths, pathRef{raw: p, op: "write", source: fr.source})
	if info := classifyPath(p, fr.acc.opts); info.Sensitive {
		fr.add("append_sensitive", CatOverwrite, true, node)
		return
	}
	fr.add("append", CatWrite, false, node)
}

// riskyWriteTarget reports whether overwriting p is destructive: a sensitive
// path, or a path outside the configured roots other than the temp dirs.
func (fr *shellFrame) riskyWriteTarget(p string) bool {
	info := classifyPath(p, fr.acc.opts)
	if info.Sensitive {
		return true
	}
	return info.OutsideRoots && !isTempPath(info.Clean)
}

// ruleExtract judges an archive extraction by where it writes: into a folder outside the roots or a
// sensitive one (tar -xf a.tar -C /, unzip -o a.zip -d /etc) it overwrites what is there. Listing an
// archive or creating one only reads. It reports whether the command is read-only.
func (fr *shellFrame) ruleExtract(name string, a argInfo, node syntax.Node) bool {
	pos := a.positional()
	extract, dest := false, "."
	switch name {
	case "unzip":
		extract = !a.hasShort("lvtzZ")
		if d := a.optionValue("-d"); d != "" {
			dest = d
		}
	case "7z", "7za":
		extract = len(pos) > 0 && (pos[0] == "x" || pos[0] == "e")
		for _, w := range a.args {
			if strings.HasPrefix(w.val, "-o") && len(w.val) > 2 {
				dest = w.val[2:]
			}
		}
	default: // tar: -x, --extract, --get, or an old-style first word such as "xzf"
		extract = a.hasShort("x") || a.hasLong("--extract", "--get")
		if len(a.args) > 0 && !strings.HasPrefix(a.args[0].val, "-") && strings.ContainsRune(a.args[0].val, 'x') {
			extract = true
		}
		if d := a.optionValue("-C"); d != "" {
			dest = d
		} else if d := a.optionValue("--directory"); d != "" {
			dest = d
		}
	}
	if !extract {
		// Listing reads; creating or updating an archive writes the archive, which is not destructive.
		return name == "unzip" || a.hasShort("t") || a.hasLong("--list") || (name == "7z" || name == "7za") && len(pos) > 0 && pos[0] == "l"
	}
	fr.writeTarget(dest, name+"_extract", node)
	return false
}

func (fr *shellFrame) ruleFind(args []shWord, node syntax.Node) {
	for i := 0; i < len(args); i++ {
		switch args[i].val {
		case "-delete":
			fr.add("find_delete", CatRmRecursive, true, node)
		case "-exec", "-execdir", "-ok", "-okdir":
			j := i + 1
			for j < len(args) && args[j].val != ";" && args[j].val != "+" {
				j++
			}
			if j > i+1 {
				fr.classifyArgv(args[i+1:j], node)
			}
			i = j
		case "-fprint", "-fprint0", "-fprintf", "-fls":
			if i+1 < len(args) {
				fr.writeTarget(args[i+1].val, "find_fprint", node)
			}
		}
	}
}

func (fr *shellFrame) ruleGit(args []shWord, node syntax.Node) bool {
	i := skipOpts(args, gitValueOpts)
	if i >= len(args) {
		return true
	}
	sub := args[i].val
	rest := args[i+1:]
	a := ai(rest)
	switch sub {
	case "push":
		force := a.hasShort("f") || a.hasLong("--force", "--force-with-lease", "--force-if-includes", "--mirror")
		del := a.hasShort("d") || a.hasLong("--delete", "--prune")
		for _, p := range a.positional() {
			if strings.HasPrefix(p, "+") {
				force = true
			}
			if strings.HasPrefix(p, ":") && len(p) > 1 {
				del = true
			}
		}
		if force {
			fr.add("git_push_force", CatGitForcePush, true, node)
		}
		if del {
			fr.add("git_push_delete", CatGitForcePush, true, node)
		}
		return false
	case "reset":
		if a.hasLong("--hard", "--merge", "--keep") {
			fr.add("git_reset_hard", CatGitDestructive, true, node)
		}
		return false
	case "clean":
		if (a.hasShort("f") || a.hasLong("--force")) && !a.hasShort("n") && !a.hasLong("--dry-run") {
			fr.add("git_clean", CatGitDestructive, true, node)
		}
		return false
	case "checkout", "switch":
		if a.hasShort("f") || a.hasLong("--force", "--discard-changes") || sub == "checkout" && a.has(".") {
			fr.add("git_discard", CatGitDestructive, true, node)
		}
		return false
	case "restore":
		if !a.hasShort("S") && !a.hasLong("--staged") || a.hasShort("W") || a.hasLong("--worktree") {
			fr.add("git_discard", CatGitDestructive, true, node)
		}
		return false
	case "branch":
		if a.hasShort("D") || (a.hasShort("d") || a.hasLong("--delete")) && (a.hasShort("f") || a.hasLong("--force")) {
			fr.add("git_branch_delete", CatGitDestructive, true, node)
			return false
		}
		return len(a.positional()) == 0
	case "stash":
		if a.has("drop", "clear") {
			fr.add("git_stash_drop", CatGitDestructive, true, node)
		}
		return a.has("list", "show")
	case "reflog":
		if a.has("expire", "delete") {
			fr.add("git_reflog_expire", CatGitDestructive, true, node)
			return false
		}
		return true
	case "gc":
		if a.hasLong("--prune") {
			fr.add("git_gc_prune", CatGitDestructive, true, node)
		}
		return false
	case "filter-branch", "filter-repo":
		fr.add("git_rewrite_history", CatGitDestructive, true, node)
		return false
	case "update-ref":
		if a.hasShort("d") || a.hasLong("--delete") {
			fr.add("git_ref_delete", CatGitDestructive, true, node)
		}
		return false
	case "tag":
		if a.hasShort("d") || a.hasLong("--delete") {
			fr.add("git_tag_delete", CatGitDestructive, true, node)
			return false
		}
		return len(a.positional()) == 0 || a.hasShort("l") || a.hasLong("--list")
	case "status", "log", "diff", "show", "blame", "ls-files", "ls-tree", "ls-remote", "rev-parse", "describe",
		"shortlog", "grep", "cat-file", "rev-list", "fetch", "whatchanged", "name-rev", "merge-base", "help", "version":
		return true
	case "remote":
		return len(a.positional()) == 0 || a.has("show", "get-url")
	case "config":
		return a.hasLong("--get", "--list", "--get-all", "--get-regexp") || a.hasShort("l")
	}
	return false
}

func (fr *shellFrame) ruleKube(args []shWord, node syntax.Node) bool {
	i := skipOpts(args, kubeValueOpts)
	if i >= len(args) {
		return true
	}
	sub := args[i].val
	a := ai(args[i+1:])
	switch sub {
	case "delete":
		fr.add("kubectl_delete", CatInfraDestroy, true, node)
	case "drain":
		fr.add("kubectl_drain", CatInfraDestroy, true, node)
	case "replace":
		if a.hasLong("--force") {
			fr.add("kubectl_replace_force", CatInfraDestroy, true, node)
		}
	case "scale":
		if a.hasLong("--replicas=0") || a.has("--replicas", "0") && a.has("0") {
			fr.add("kubectl_scale_zero", CatInfraDestroy, true, node)
		}
	case "get", "describe", "logs", "top", "explain", "api-resources", "api-versions", "version", "cluster-info", "auth", "events", "diff":
		return true
	case "config":
		return a.has("view", "get-contexts", "current-context")
	}
	return false
}

func (fr *shellFrame) ruleDocker(args []shWord, node syntax.Node) bool {
	i := skipOpts(args, dockerValueOpts)
	if i >= len(args) {
		return true
	}
	sub := args[i].val
	rest := args[i+1:]
	a := ai(rest)
	obj := ""
	if p := a.positional(); len(p) > 0 {
		obj = p[0]
	}
	switch sub {
	case "rm", "rmi", "kill":
		fr.add("docker_"+sub, CatContainerDelete, true, node)
	case "container", "image", "volume", "network", "builder", "system", "buildx", "context", "plugin", "secret", "config", "service", "stack", "node":
		switch obj {
		case "rm", "remove", "prune", "kill", "delete":
			fr.add("docker_"+sub+"_"+obj, CatContainerDelete, true, node)
		case "ls", "list", "inspect", "df", "info", "logs", "ps":
			return true
		default:
			return false
		}
	case "compose", "docker-compose":
		if obj == "down" || obj == "rm" || obj == "kill" {
			fr.add("docker_compose_"+obj, CatContainerDelete, true, node)
		}
		return obj == "ps" || obj == "logs" || obj == "ls" || obj == "config"
	case "ps", "images", "inspect", "logs", "info", "version", "search", "stats", "top", "port", "history", "diff", "events":
		return true
	}
	return false
}

func (fr *shellFrame) ruleService(name string, pos []string, node syntax.Node) bool {
	if len(pos) == 0 {
		return true
	}
	verb := pos[0]
	if name == "service" && len(pos) > 1 {
		verb = pos[1]
	}
	switch verb {
	case "poweroff", "reboot", "halt", "kexec", "rescue", "emergency", "suspend", "hibernate":
		fr.add(name+"_"+verb, CatPower, true, node)
	case "stop", "disable", "mask", "kill", "isolate", "unload", "bootout", "remove", "down":
		fr.add(name+"_"+verb, CatServiceStop, true, node)
	case "status", "list-units", "list-unit-files", "show", "cat", "is-active", "is-enabled", "is-failed", "list", "print":
		return true
	}
	return false
}

func (fr *shellFrame) ruleCloud(name string, a argInfo, pos []string, node syntax.Node) {
	for k, p := range pos {
		if k > 4 {
			break
		}
		lp := strings.ToLower(p)
		switch {
		case strings.HasPrefix(lp, "delete") || strings.HasPrefix(lp, "terminate") || strings.HasPrefix(lp, "remove-") ||
			strings.HasPrefix(lp, "deregister") || strings.HasPrefix(lp, "purge") || lp == "destroy" || lp == "rb" ||
			lp == "rm" && k <= 2 || lp == "purge" || lp == "deletefile" || lp == "rmdir" || lp == "cleanup" ||
			(lp == "del" || lp == "remove") && k <= 1 || strings.HasSuffix(lp, ":destroy") || strings.HasSuffix(lp, ":delete") || strings.HasSuffix(lp, ":remove"):
			fr.add(name+"_delete", CatInfraDestroy, true, node)
			return
		case name == "rclone" && k == 0 && (lp == "sync" || lp == "bisync" || lp == "move" || lp == "moveto" || lp == "rmdirs" || lp == "dedupe"):
			// rclone sync deletes on the target what the source lacks; move deletes the source.
			fr.add("rclone_delete", CatInfraDestroy, true, node)
			return
		case lp == "sync" && a.hasLong("--delete"):
			fr.add(name+"_sync_delete", CatInfraDestroy, true, node)
			return
		}
	}
}

func (fr *shellFrame) ruleSQLClient(name string, args []shWord, pos []string, node syntax.Node) bool {
	var texts []string
	for i, w := range args {
		v := w.val
		switch {
		case (name == "psql" && (v == "-c" || v == "--command")) ||
			((name == "mysql" || name == "mariadb" || name == "cqlsh" || name == "duckdb") && (v == "-e" || v == "--execute")) ||
			((name == "clickhouse-client") && (v == "-q" || v == "--query")) || (name == "sqlcmd" && (v == "-Q" || v == "-q")):
			if i+1 < len(args) {
				texts = append(texts, args[i+1].val)
			}
		case strings.HasPrefix(v, "--command=") || strings.HasPrefix(v, "--execute=") || strings.HasPrefix(v, "--query="):
			texts = append(texts, v[strings.IndexByte(v, '=')+1:])
		case name == "psql" && strings.HasPrefix(v, "-c") && len(v) > 2:
			texts = append(texts, v[2:])
		case (name == "mysql" || name == "mariadb") && strings.HasPrefix(v, "-e") && len(v) > 2:
			texts = append(texts, v[2:])
		}
	}
	if (name == "sqlite3" || name == "duckdb") && len(pos) >= 2 {
		texts = append(texts, strings.Join(pos[1:], " "))
	}
	read := true
	for _, t := range texts {
		if !fr.sqlText(name, t, node) {
			read = false
		}
	}
	return read && len(texts) > 0
}

// sqlClients read SQL from their arguments or stdin.
var sqlClients = map[string]bool{
	"psql": true, "mysql": true, "mariadb": true, "sqlite3": true, "clickhouse-client": true, "cqlsh": true,
	"duckdb": true, "sqlcmd": true, "cockroach": true, "snowsql": true, "bq": false, "isql": true, "sqlplus": true,
	"mongo": false, "mongosh": false, "redis-cli": false,
}

// sqlText adds SQL run by a client to the SQL facts and reports whether it
// only reads.
func (fr *shellFrame) sqlText(name, t string, node syntax.Node) bool {
	fr.acc.sql = append(fr.acc.sql, textRef{text: t, source: fr.source})
	read := true
	an := analyzeSQL(t, fr.acc.opts.dialects())
	for _, st := range an.statements {
		if st.Write {
			read = false
		}
		for _, f := range st.Flags {
			if destructiveSQLFlags[f] {
				fr.add(name+"_destructive_sql", CatSQL, true, node)
			}
		}
		if st.Kind != SQLSelect && st.Kind != SQLTransaction {
			read = false
		}
	}
	return read
}

func (fr *shellFrame) ruleDownloader(name string, args []shWord, node syntax.Node) bool {
	method := ""
	read := true
	for i := 0; i < len(args); i++ {
		v := args[i].val
		next := ""
		if i+1 < len(args) {
			next = args[i+1].val
		}
		switch {
		case v == "-X" || v == "--request" || v == "--method":
			method = strings.ToUpper(next)
			i++
		case strings.HasPrefix(v, "-X") && len(v) > 2:
			method = strings.ToUpper(v[2:])
		case strings.HasPrefix(v, "--request=") || strings.HasPrefix(v, "--method="):
			method = strings.ToUpper(v[strings.IndexByte(v, '=')+1:])
		case v == "-d" || strings.HasPrefix(v, "--data") || v == "-F" || v == "--form" || strings.HasPrefix(v, "--post-data") || strings.HasPrefix(v, "--post-file") || v == "--json":
			if method == "" {
				method = "POST"
			}
			if !strings.Contains(v, "=") {
				i++
			}
		case v == "-T" || v == "--upload-file":
			if method == "" {
				method = "PUT"
			}
			i++
		case v == "-o" || v == "--output" || v == "-O" && name == "wget" || v == "--output-document":
			if next != "-" && next != "/dev/stdout" {
				fr.writeTarget(next, name+"_output", node)
				fr.acc.trackScript(next, downloadedScript)
				read = false
			}
			i++
		case strings.HasPrefix(v, "--output=") || strings.HasPrefix(v, "--output-document=") || name == "wget" && strings.HasPrefix(v, "-O") && len(v) > 2 && v != "-O-":
			t := v[strings.IndexByte(v, '=')+1:]
			if !strings.Contains(v, "=") {
				t = v[2:]
			}
			fr.acc.trackScript(t, downloadedScript)
			read = false
		case v == "-O" || v == "--remote-name" || v == "--remote-name-all":
			read = false
			fr.add(name+"_download", CatWrite, false, node)
		case strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "ftp://") || strings.HasPrefix(v, "ws://") || strings.HasPrefix(v, "wss://"):
			fr.acc.urls = append(fr.acc.urls, urlRef{raw: v, source: fr.source})
			// wget and curl -O save under the URL's last path segment.
			if u := strings.SplitN(strings.SplitN(v, "?", 2)[0], "#", 2)[0]; strings.Count(u, "/") > 2 {
				if base := path.Base(u); base != "" && base != "/" && base != "." {
					fr.acc.trackScript(base, downloadedScript)
				}
			}
		}
	}
	if name == "wget" && !ai(args).has("-O", "-O-", "-qO-", "-qO", "--output-document") && !ai(args).hasLong("--output-document", "--spider") {
		read = false // wget saves to a file by default
	}
	for k := range fr.acc.urls {
		if fr.acc.urls[k].source == fr.source && fr.acc.urls[k].method == "" {
			fr.acc.urls[k].method = method
		}
	}
	if method != "" && method != "GET" && method != "HEAD" && method != "OPTIONS" {
		read = false
		if method == "DELETE" {
			fr.add(name+"_delete", CatInfraDestroy, true, node)
		}
	}
	return read
}

// ruleInterpreter handles sh/bash/…: "-c SCRIPT" is analysed recursively; a
// script file is opaque.
func (fr *shellFrame) ruleInterpreter(args []shWord, node syntax.Node) {
	cmode := false
	for i := 0; i < len(args); i++ {
		v := args[i].val
		if v == "--" {
			continue
		}
		if (v == "-o" || v == "+o" || v == "-O" || v == "+O" || v == "--rcfile" || v == "--init-file") && i+1 < len(args) {
			i++
			continue
		}
		if strings.HasPrefix(v, "-") && !strings.HasPrefix(v, "--") && strings.Contains(v, "c") {
			cmode = true
			continue
		}
		if strings.HasPrefix(v, "-") || strings.HasPrefix(v, "+") {
			continue
		}
		if cmode {
			fr.analyzeWord(args[i], node)
			return
		}
		// A script operand: process substitution of a download is remote code.
		if args[i].node != nil && containsDownloader(args[i].node) {
			fr.add("download_exec", CatDownloadExec, true, node)
		}
		return
	}
}

// containsDownloader reports whether n contains a command substitution or
// process substitution that runs a downloader.
func containsDownloader(n syntax.Node) bool {
	found := false
	syntax.Walk(n, func(m syntax.Node) bool {
		if found {
			return false
		}
		if c, ok := m.(*syntax.CallExpr); ok && len(c.Args) > 0 {
			if lit := c.Args[0].Lit(); lit != "" && downloaders[cmdName(unescapeUnquoted(lit))] {
				found = true
			}
		}
		return true
	})
	return found
}

// checkRedirects flags redirections that overwrite files or devices and
// interpreters fed from a download.
func (fr *shellFrame) checkRedirects(s *syntax.Stmt) {
	for _, r := range s.Redirs {
		if r.Word == nil {
			continue
		}
		switch r.Op {
		case syntax.RdrOut, syntax.RdrClob, syntax.RdrAll, syntax.RdrAllClob, syntax.RdrInOut,
			syntax.AppOut, syntax.AppAll, syntax.AppClob, syntax.AppAllClob:
		case syntax.RdrIn, syntax.WordHdoc, syntax.Hdoc, syntax.DashHdoc:
			if client := fr.stage(s).sqlClient; client != "" && r.Op != syntax.RdrIn {
				body := r.Word
				if r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc {
					body = r.Hdoc
				}
				if ws := fr.resolveWord(body); body != nil && len(ws) == 1 && !ws[0].dynamic {
					fr.sqlText(client, ws[0].val, s)
				}
				continue
			}
			if !fr.stmtIsInterpreter(s) {
				continue
			}
			if containsDownloader(r.Word) {
				fr.add("download_exec", CatDownloadExec, true, s)
			}
			// A here-string or here-document is the script itself.
			body := r.Word
			if r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc {
				body = r.Hdoc
			} else if r.Op == syntax.RdrIn {
				body = nil
			}
			if body != nil {
				if ws := fr.resolveWord(body); len(ws) == 1 && !ws[0].dynamic {
					fr.analyzeString(ws[0].val, s)
				} else {
					fr.add("dynamic_script", CatObfuscated, true, s)
				}
			}
			continue
		default:
			continue
		}
		ws := fr.resolveWord(r.Word)
		if len(ws) != 1 || ws[0].dynamic {
			fr.add("redirect_dynamic", CatWrite, false, s)
			fr.acc.nonReads++
			continue
		}
		target := ws[0].val
		if nonDevicePaths[target] || strings.HasPrefix(target, "/dev/fd/") || r.Op == syntax.RdrOut && r.N != nil && target == "&1" {
			continue
		}
		fr.acc.nonReads++
		fr.trackWrite(s, target)
		appendOp := r.Op == syntax.AppOut || r.Op == syntax.AppAll || r.Op == syntax.AppClob || r.Op == syntax.AppAllClob
		switch {
		case isDeviceTarget(target):
			fr.acc.paths = append(fr.acc.paths, pathRef{raw: target, op: "write", source: fr.source})
			fr.add("redirect_device", CatDiskWipe, true, s)
		case appendOp:
			fr.appendTarget(target, s)
		default:
			fr.writeTarget(target, "redirect", s)
		}
	}
}

// trackWrite remembers what echo/printf/cat <<EOF wrote to target, so a
// later "bash target" is inspected.
func (fr *shellFrame) trackWrite(s *syntax.Stmt, target string) {
	if st := fr.stage(s); st.hasLiteral {
		fr.acc.trackScript(target, st.literal)
		return
	}
	c, ok := s.Cmd.(*syntax.CallExpr)
	if !ok || len(c.Args) == 0 || cmdName(c.Args[0].Lit()) != "cat" {
		return
	}
	for _, r := range s.Redirs {
		body := r.Hdoc
		if r.Op == syntax.WordHdoc {
			body = r.Word
		}
		if body == nil || r.Op != syntax.Hdoc && r.Op != syntax.DashHdoc && r.Op != syntax.WordHdoc {
			continue
		}
		if ws := fr.resolveWord(body); len(ws) == 1 && !ws[0].dynamic {
			fr.acc.trackScript(target, ws[0].val)
		} else {
			fr.acc.trackScript(target, "$dynamic_script")
		}
	}
}

func (fr *shellFrame) stmtIsInterpreter(s *syntax.Stmt) bool {
	c, ok := s.Cmd.(*syntax.CallExpr)
	if !ok || len(c.Args) == 0 {
		return false
	}
	st := fr.stage(s)
	return st.interpreter || shellInterpreters[cmdName(c.Args[0].Lit())]
}

// stageInfo classifies one pipeline stage.
type stageInfo struct {
	downloader  bool
	decoder     bool
	interpreter bool   // reads a script from stdin
	literal     string // the text printed by echo/printf/cat <<< with static args
	hasLiteral  bool
	sqlClient   string // psql, mysql, … reading SQL from stdin
}

func (fr *shellFrame) stage(s *syntax.Stmt) stageInfo {
	var st stageInfo
	c, ok := s.Cmd.(*syntax.CallExpr)
	if !ok || len(c.Args) == 0 {
		// Subshells and blocks: look for a downloader inside.
		if s.Cmd != nil && containsDownloader(s.Cmd) {
			st.downloader = true
		}
		return st
	}
	argv := fr.resolveWords(c.Args)
	if len(argv) == 0 || argv[0].dynamic {
		return st
	}
	// Strip wrappers without recording findings (they are recorded by the walk).
	for guard := 0; guard < 8 && len(argv) > 1; guard++ {
		n := cmdName(argv[0].val)
		var next int
		switch n {
		case "sudo":
			next = skipOpts(argv[1:], sudoValueOpts)
		case "env":
			next = 0
			for next < len(argv)-1 && (strings.Contains(argv[1+next].val, "=") || strings.HasPrefix(argv[1+next].val, "-")) {
				next++
			}
		case "nohup", "time", "command", "exec", "doas", "stdbuf", "nice":
			next = skipOpts(argv[1:], nil)
		default:
			next = -1
		}
		if next < 0 || 1+next >= len(argv) {
			break
		}
		argv = argv[1+next:]
	}
	name := cmdName(argv[0].val)
	a := ai(argv[1:])
	switch {
	case downloaders[name]:
		st.downloader = true
	case decoders[name]:
		switch name {
		case "base64", "base32", "basenc", "uudecode":
			st.decoder = a.hasShort("dD") || a.hasLong("--decode") || name == "uudecode"
		case "xxd":
			st.decoder = a.hasShort("r")
		case "openssl":
			st.decoder = a.hasShort("d") || a.has("base64", "enc")
		case "gzip", "bzip2", "xz", "zstd":
			st.decoder = a.hasShort("d") || a.hasLong("--decompress")
		default:
			st.decoder = true
		}
	case shellInterpreters[name] || isCodeInterpreter(name):
		st.interpreter = true
		for _, w := range argv[1:] {
			if strings.HasPrefix(w.val, "-") {
				if strings.Contains(w.val, "c") && !strings.HasPrefix(w.val, "--") || w.val == "-e" || w.val == "-r" {
					st.interpreter = false
					break
				}
				continue
			}
			st.interpreter = false // script file operand
			break
		}
		if a.hasShort("s") {
			st.interpreter = true
		}
	case name == "source" || name == "." || name == "eval":
		st.interpreter = len(argv) == 1 || argv[1].val == "/dev/stdin" || argv[1].val == "-"
	case name == "iex" || name == "invoke-expression":
		st.interpreter = true
	case sqlClients[name]:
		st.sqlClient = name
	case name == "echo" || name == "printf":
		var parts []string
		static := true
		escapes := false
		for _, w := range argv[1:] {
			if w.dynamic {
				static = false
			}
			if name == "echo" && len(parts) == 0 && (w.val == "-n" || w.val == "-e" || w.val == "-ne" || w.val == "-en" || w.val == "-E") {
				if strings.Contains(w.val, "e") {
					escapes = true
				}
				continue
			}
			parts = append(parts, w.val)
		}
		if static {
			st.literal, st.hasLiteral = strings.Join(parts, " "), true
			if name == "printf" && len(parts) > 0 {
				st.literal = decodeANSIC(parts[0])
			}
			if escapes {
				st.literal = decodeANSIC(st.literal)
			}
		}
	}
	// Here-strings feed a literal too: base64 -d <<< 'cm0gLXJmIC8='.
	for _, r := range s.Redirs {
		if r.Op == syntax.WordHdoc && r.Word != nil {
			ws := fr.resolveWord(r.Word)
			if len(ws) == 1 && !ws[0].dynamic && st.decoder {
				if dec, ok := decodeBase64(ws[0].val); ok {
					st.literal, st.hasLiteral = dec, true
				}
			}
		}
		if (r.Op == syntax.RdrIn || r.Op == syntax.WordHdoc) && containsDownloader(r.Word) {
			st.downloader = true
		}
	}
	return st
}

func decodeBase64(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && utf8.Valid(b) {
			return string(b), true
		}
	}
	return "", false
}

// flattenPipe returns the stages of a pipeline in order.
func (fr *shellFrame) flattenPipe(b *syntax.BinaryCmd, out []*syntax.Stmt) []*syntax.Stmt {
	fr.seen[b] = true
	for _, s := range []*syntax.Stmt{b.X, b.Y} {
		if inner, ok := s.Cmd.(*syntax.BinaryCmd); ok && (inner.Op == syntax.Pipe || inner.Op == syntax.PipeAll) && len(s.Redirs) == 0 && !s.Background && !s.Negated {
			out = fr.flattenPipe(inner, out)
			continue
		}
		out = append(out, s)
	}
	return out
}

// checkPipeline flags download|interpreter and decode|interpreter, and
// analyses text echoed (or base64-decoded) into an interpreter.
func (fr *shellFrame) checkPipeline(b *syntax.BinaryCmd) {
	if fr.seen[b] {
		return
	}
	stages := fr.flattenPipe(b, nil)
	infos := make([]stageInfo, len(stages))
	for i, s := range stages {
		infos[i] = fr.stage(s)
	}
	for j := 1; j < len(infos); j++ {
		if infos[j].sqlClient != "" && infos[0].hasLiteral {
			// echo 'DROP TABLE x' | psql
			fr.sqlText(infos[j].sqlClient, infos[0].literal, b)
		}
		if !infos[j].interpreter {
			continue
		}
		for i := 0; i < j; i++ {
			switch {
			case infos[i].downloader:
				fr.add("download_exec", CatDownloadExec, true, b)
			case infos[i].decoder:
				fr.add("decode_exec", CatObfuscated, true, b)
			}
		}
		// Literal text piped into the interpreter, possibly through decoders.
		if infos[0].hasLiteral {
			text := infos[0].literal
			ok := true
			for k := 1; k < j; k++ {
				if infos[k].decoder {
					dec, good := decodeBase64(text)
					if !good {
						ok = false
						break
					}
					text = dec
				}
			}
			if ok {
				fr.analyzeString(text, b)
			}
		} else if len(infos) > 1 && infos[1].decoder && infos[1].hasLiteral && j > 1 {
			fr.analyzeString(infos[1].literal, b)
		}
	}
}

// checkForkBomb flags a function that calls itself more than once or in the
// background/a pipeline: :(){ :|:& };:
func (fr *shellFrame) checkForkBomb(fd *syntax.FuncDecl) {
	if fd.Name == nil || fd.Body == nil {
		return
	}
	name := fd.Name.Value
	calls := 0
	async := false
	syntax.Walk(fd.Body, func(n syntax.Node) bool {
		switch x := n.(type) {
		case *syntax.Stmt:
			if x.Background {
				if c, ok := x.Cmd.(*syntax.CallExpr); ok && len(c.Args) > 0 && c.Args[0].Lit() == name {
					async = true
				}
				if bc, ok := x.Cmd.(*syntax.BinaryCmd); ok && (bc.Op == syntax.Pipe || bc.Op == syntax.PipeAll) {
					async = true
				}
			}
		case *syntax.BinaryCmd:
			if x.Op == syntax.Pipe || x.Op == syntax.PipeAll {
				async = true
			}
		case *syntax.CallExpr:
			if len(x.Args) > 0 && x.Args[0].Lit() == name {
				calls++
			}
		}
		return true
	})
	if calls >= 2 || calls == 1 && async {
		fr.add("fork_bomb", CatForkBomb, true, fd)
	}
}

// shellSniffCommands are command names that make an untyped string worth
// reading as shell.
var shellSniffCommands = map[string]bool{
	"rm": true, "rmdir": true, "unlink": true, "shred": true, "dd": true, "chmod": true, "chown": true,
	"git": true, "kubectl": true, "helm": true, "terraform": true, "docker": true, "podman": true,
	"sudo": true, "su": true, "doas": true, "curl": true, "wget": true, "bash": true, "sh": true,
	"zsh": true, "eval": true, "shutdown": true, "reboot": true, "systemctl": true, "iptables": true,
	"crontab": true, "kill": true, "killall": true, "pkill": true, "find": true, "xargs": true,
	"env": true, "nohup": true, "mkfs": true, "wipefs": true, "truncate": true, "mv": true,
	"psql": true, "mysql": true, "base64": true, "python": true, "python3": true, "perl": true,
	"nc": true, "halt": true, "poweroff": true, "userdel": true, "aws": true, "gcloud": true,
	"az": true, "tofu": true, "time": true, "command": true, "exec": true, "source": true, "echo": true,
}

// looksLikeShell reports whether s reads as a shell command: it parses, and a
// command in it has a known risky name (after removing path and backslash).
func looksLikeShell(s string) bool {
	if len(s) < 2 || len(s) > 1<<16 {
		return false
	}
	if !strings.ContainsAny(s, " \t|;&$`><(\n") {
		return false
	}
	p := syntax.NewParser(syntax.Variant(syntax.LangBash))
	f, err := p.Parse(strings.NewReader(s), "")
	if err != nil {
		return false
	}
	found := false
	syntax.Walk(f, func(n syntax.Node) bool {
		if found {
			return false
		}
		switch x := n.(type) {
		case *syntax.CallExpr:
			if len(x.Args) > 0 {
				if lit := x.Args[0].Lit(); lit != "" {
					name := cmdName(unescapeUnquoted(lit))
					if shellSniffCommands[name] || strings.HasPrefix(name, "mkfs") {
						found = true
					}
				} else if obfuscatedName(x) {
					// Quoted or expanded command names are themselves a sign.
					found = true
				}
			}
		case *syntax.FuncDecl:
			found = true
		}
		return true
	})
	return found
}

// obfuscatedName reports whether a call's command word is quoted (r""m,
// "rm") or expanded ($x -rf /, $(echo rm)). A lone "$user" (a Mongo field
// path, a template variable) and glob-like text such as 2*(3+4) are not.
func obfuscatedName(x *syntax.CallExpr) bool {
	for _, part := range x.Args[0].Parts {
		switch part.(type) {
		case *syntax.SglQuoted, *syntax.DblQuoted, *syntax.CmdSubst:
			return true
		case *syntax.ParamExp:
			if len(x.Args) > 1 || len(x.Args[0].Parts) > 1 {
				return true
			}
		}
	}
	return false
}

func ai(args []shWord) argInfo { return argInfo{args: args} }

// destructiveCodeAPIs are calls in inline interpreter code that delete files
// or run programs.
var destructiveCodeAPIs = []string{
	"rmtree", "os.remove", "os.unlink", "os.rmdir", "os.removedirs", "unlinksync", "rmsync", "rmdirsync",
	"fs.rm(", "fs.unlink(", "fs.rmdir(", "rm_rf", "rm_r", "fileutils.rm", "file.delete", "unlink(",
	"remove-item", "shutil.move", "truncate(", "drop table", "drop database", "unlink ", "rmtree ", "remove_dir_all",
	"fileutils.remove", "deletesync", "os.removeall", "file.delete(", "rimraf",
}

// inspectInlineCode looks for file-deleting APIs in python/perl/node/awk
// code and reads quoted strings in it as shell (os.system("rm -rf /")).
func (fr *shellFrame) inspectInlineCode(code string, node syntax.Node) {
	lc := strings.ToLower(code)
	for _, api := range destructiveCodeAPIs {
		if strings.Contains(lc, api) {
			fr.add("inline_code_destructive", CatInlineCode, true, node)
			break
		}
	}
	for _, q := range quotedStrings(code) {
		if looksLikeShell(q) {
			fr.analyzeString(q, node)
		}
	}
}

// quotedStrings returns the '…', "…" and `…` runs of code (no escapes).
func quotedStrings(code string) []string {
	var out []string
	for i := 0; i < len(code) && len(out) < 64; i++ {
		c := code[i]
		if c != '\'' && c != '"' && c != '`' {
			continue
		}
		j := strings.IndexByte(code[i+1:], c)
		if j < 0 {
			break
		}
		out = append(out, code[i+1:i+1+j])
		i += j + 1
	}
	return out
}
