package destructive

import (
	"strings"
	"unicode"

	"github.com/mcpwarden/mcpwarden/internal/inspect/sanitize"
	"golang.org/x/text/unicode/norm"
)

var destructiveVerbs = map[string]bool{
	"delete": true, "del": true, "drop": true, "remove": true, "rm": true, "rmdir": true, "unlink": true,
	"destroy": true, "purge": true, "force": true, "truncate": true, "wipe": true, "erase": true,
	"kill": true, "terminate": true, "reset": true, "revoke": true, "overwrite": true, "clear": true,
	"prune": true, "uninstall": true, "shred": true, "format": true, "nuke": true, "flush": true,
	"evict": true, "deprovision": true, "decommission": true, "unpublish": true, "deregister": true,
	"unregister": true, "expunge": true, "empty": true, "trash": true, "obliterate": true, "discard": true,
	"dispose": true, "teardown": true, "undeploy": true, "deleteall": true,
	// Irreversible or disruptive state changes.
	"transfer": true, "deactivate": true, "suspend": true, "ban": true, "disable": true, "stop": true,
	"rollback": true, "revert": true, "cancel": true, "expire": true, "invalidate": true, "shutdown": true,
	"halt": true, "reboot": true, "poweroff": true, "kick": true, "unprotect": true, "demote": true,
	"unshare": true, "detach": true,
}

var writeVerbs = map[string]bool{
	"create": true, "add": true, "insert": true, "update": true, "write": true, "put": true, "post": true,
	"set": true, "edit": true, "modify": true, "patch": true, "move": true, "mv": true, "rename": true,
	"copy": true, "cp": true, "upload": true, "send": true, "push": true, "merge": true, "commit": true,
	"deploy": true, "publish": true, "install": true, "run": true, "exec": true, "execute": true,
	"apply": true, "save": true, "append": true, "import": true, "assign": true, "approve": true,
	"close": true, "start": true, "restart": true, "enable": true,
	"invite": true, "pay": true, "submit": true, "schedule": true, "lock": true,
	"unlock": true, "archive": true, "restore": true, "grant": true, "fork": true, "comment": true,
	"reply": true, "trigger": true, "invoke": true, "call": true, "mutate": true, "upsert": true,
	"store": true, "sync": true, "scale": true, "replace": true, "change": true, "make": true, "mkdir": true,
	"touch": true, "new": true, "open": true, "register": true, "subscribe": true, "unsubscribe": true,
	"mark": true, "label": true, "tag": true, "star": true, "unstar": true, "follow": true, "unfollow": true,
	"shell": true, "bash": true, "eval": true, "click": true, "type": true, "fill": true, "navigate": true,
	"press": true, "upgrade": true, "downgrade": true, "checkout": true, "rebase": true, "reopen": true,
	"resolve": true, "dispatch": true, "emit": true, "notify": true, "book": true, "order": true,
	"purchase": true, "buy": true, "sell": true, "sign": true, "configure": true, "init": true, "generate": true,
	"release": true, "migrate": true, "build": true, "compile": true, "rerun": true,
	"disconnect": true,
}

var readVerbs = map[string]bool{
	"get": true, "list": true, "ls": true, "read": true, "search": true, "query": true, "describe": true,
	"show": true, "fetch": true, "find": true, "view": true, "cat": true, "head": true, "tail": true,
	"inspect": true, "lookup": true, "count": true, "check": true, "status": true, "info": true,
	"stat": true, "explain": true, "browse": true, "retrieve": true, "watch": true, "diff": true,
	"validate": true, "preview": true, "whoami": true, "ping": true, "summarize": true, "analyze": true,
	"select": true, "exists": true, "grep": true, "load": true, "download": true,
	"export": true, "print": true, "peek": true, "scan": true, "lint": true, "test": true, "verify": true,
	"compare": true, "estimate": true, "echo": true, "snapshot": true, "screenshot": true,
	"render": true, "translate": true, "parse": true, "convert": true, "calculate": true, "compute": true,
	"recall": true, "suggest": true, "recommend": true, "complete": true, "think": true,
}

// splitName splits a tool name into lower-case words at separators and at
// camelCase and letter/digit boundaries: "deleteRepo" → [delete repo],
// "HTTPRequest2" → [http request 2].
func splitName(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case len(cur) > 0:
			prev := cur[len(cur)-1]
			next := rune(0)
			if i+1 < len(rs) {
				next = rs[i+1]
			}
			switch {
			case unicode.IsUpper(r) && unicode.IsLower(prev):
				flush()
			case unicode.IsUpper(r) && unicode.IsUpper(prev) && unicode.IsLower(next):
				flush()
			case unicode.IsDigit(r) != unicode.IsDigit(prev):
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

// foldName folds a name to what a reader sees: NFKC (fullwidth ｄｅｌｅｔｅ),
// without invisible format characters (de\u200blete), with Cyrillic and Greek
// look-alikes of Latin letters replaced (dеlete with a Cyrillic е).
func foldName(name string) string {
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return name
	}
	name = norm.NFKC.String(name)
	var b strings.Builder
	for _, r := range name {
		if unicode.Is(unicode.Cf, r) {
			continue
		}
		if a, ok := sanitize.Latin(unicode.ToLower(r)); ok {
			if unicode.IsUpper(r) {
				a -= 'a' - 'A'
			}
			r = rune(a)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// classifyToolName derives ToolFacts from a tool name.
func classifyToolName(name string) ToolFacts {
	tf := ToolFacts{Name: name, Words: splitName(foldName(name)), DestructiveVerbs: []string{}, WriteVerbs: []string{}, ReadVerbs: []string{}}
	if tf.Words == nil {
		tf.Words = []string{}
	}
	for _, w := range tf.Words {
		switch {
		case destructiveVerbs[w]:
			tf.DestructiveVerbs = append(tf.DestructiveVerbs, w)
		case writeVerbs[w]:
			tf.WriteVerbs = append(tf.WriteVerbs, w)
		case readVerbs[w]:
			tf.ReadVerbs = append(tf.ReadVerbs, w)
		}
		if tf.Verb == "" && (destructiveVerbs[w] || writeVerbs[w] || readVerbs[w]) {
			tf.Verb = w
		}
	}
	// The first word wins when it is a verb: get_force_push_status reads.
	if len(tf.Words) > 0 {
		w := tf.Words[0]
		if destructiveVerbs[w] || writeVerbs[w] || readVerbs[w] {
			tf.Verb = w
		}
	}
	switch {
	case destructiveVerbs[tf.Verb]:
		tf.Destructive = true
	case readVerbs[tf.Verb]:
		tf.Read = true
	case writeVerbs[tf.Verb]:
		tf.Write = true
		tf.Destructive = len(tf.DestructiveVerbs) > 0
	}
	return tf
}
