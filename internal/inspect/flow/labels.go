package flow

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// The labels mcpwarden assigns and policy reads. Configuration may add labels of its own (any lower-case
// word); policy sees them too.
const (
	// Private: the tool reads data that is not public (files, databases, mail, chats, private repositories).
	Private = "private"
	// Untrusted: the tool returns content an outsider controls (web pages, issues, comments, messages).
	Untrusted = "untrusted"
	// Sink: the tool can send data outside (public writes, messages, mail, web requests).
	Sink = "sink"
	// Destructive: the tool deletes or overwrites.
	Destructive = "destructive"
	// Tainted is a session label only: a result in the session carried a detected prompt injection.
	Tainted = "tainted"
)

// Assigned is one label of a tool and why it has it.
type Assigned struct {
	Label string `json:"label"`
	// Source is "config", "annotation" or "heuristic".
	Source string `json:"source"`
	// Why is a short explanation: the config key, the hint, or the word of the name that matched.
	Why string `json:"why"`
}

// ServerLabels is the label configuration of one server.
type ServerLabels struct {
	// Labels apply to every tool, resource and prompt of the server.
	Labels []string
	// Tools gives named tools their labels; a tool named here gets no heuristic labels.
	Tools map[string][]string
}

// Labeler assigns labels to tools. The zero value labels by heuristics only.
type Labeler struct {
	// Servers holds the configured labels by server name.
	Servers map[string]ServerLabels
	// NoHeuristics turns the name heuristics off (configuration and annotations still apply).
	NoHeuristics bool
}

// Tool returns the labels of a server's tool (or, with name "", of the server itself: what its resources
// and prompts carry). annotations is the tool's raw annotations object, nil when unknown. The result is
// sorted by label and holds each label once (the most authoritative source wins).
func (l *Labeler) Tool(server, name string, annotations json.RawMessage) []Assigned {
	var out []Assigned
	add := func(label, source, why string) {
		for _, a := range out {
			if a.Label == label {
				return
			}
		}
		out = append(out, Assigned{Label: label, Source: source, Why: why})
	}
	sl := l.Servers[server]
	for _, lb := range sl.Labels {
		add(lb, "config", "servers["+server+"].labels")
	}
	configured := false
	if name != "" {
		lbs, ok := sl.Tools[name]
		if !ok {
			// A server that resolves names loosely (case, separators) runs the configured tool under a
			// variant spelling: it carries the same labels.
			for n, l := range sl.Tools {
				if looseName(n) == looseName(name) {
					lbs, ok = l, true
					break
				}
			}
		}
		if ok {
			configured = true
			for _, lb := range lbs {
				add(lb, "config", "servers["+server+"].tool_labels."+name)
			}
		}
	}
	if name != "" && len(annotations) > 0 {
		var a struct {
			ReadOnly    *bool `json:"readOnlyHint"`
			Destructive *bool `json:"destructiveHint"`
			OpenWorld   *bool `json:"openWorldHint"`
		}
		if json.Unmarshal(annotations, &a) == nil {
			if a.OpenWorld != nil && *a.OpenWorld {
				add(Untrusted, "annotation", "openWorldHint: true")
				if a.ReadOnly == nil || !*a.ReadOnly {
					add(Sink, "annotation", "openWorldHint: true without readOnlyHint")
				}
			}
			if a.Destructive != nil && *a.Destructive && (a.ReadOnly == nil || !*a.ReadOnly) {
				add(Destructive, "annotation", "destructiveHint: true")
			}
		}
	}
	if name != "" && !configured && !l.NoHeuristics {
		for _, h := range Heuristic(name) {
			add(h.Label, h.Source, h.Why)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

// looseName folds a tool name the way a lenient server might resolve it: case and compatibility forms
// (policy.Canonical), and the separators _ - . and space ignored.
func looseName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r == ' ' {
			return -1
		}
		return r
	}, policy.Canonical(s))
}

// Names returns the label names of as.
func Names(as []Assigned) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Label
	}
	return out
}

// Word lists of the name heuristics (docs/dataflow.md lists them). A name is split into lower-case words at
// underscores, dashes, dots, slashes, spaces and camelCase humps; its first word is its verb and the first
// later word found in a list of things is its object.
var (
	// A sink verb makes a sink (send_message, post_tweet, publish, upload_file, push_files).
	sinkVerbs = words("send post publish share upload tweet reply notify broadcast forward push submit email mail dm invite")
	// A write verb makes a sink when its object is something others read (create_issue, add_comment).
	writeVerbs   = words("create add open update write edit comment merge make new put set")
	publicThings = words("issue issues pr prs pull comment comments gist gists message messages email mail post posts " +
		"tweet tweets review reviews discussion discussions release releases status wiki page pages channel " +
		"chat reaction repository repositories repo repos branch branches fork link links")
	// An upsert of a file (create_or_update_file) is a remote API's write, not a local file system's: a
	// write to a repository others may read.
	upsertWords = words("upsert")
	// A web request (fetch, fetch_url, http_get, browse_page, make_http_request) is untrusted and a sink: what
	// it reads is the outsider's, and its URL can carry data out.
	webVerbs  = words("fetch browse navigate curl http https download scrape crawl request get open visit")
	webThings = words("url urls uri link links page webpage website site html http https web request")
	// Untrusted: reading content outsiders write.
	readVerbs      = words("get read list search find fetch show view query lookup retrieve load watch pull")
	outsiderThings = words("issue issues comment comments pr prs pull web url page pages webpage website site " +
		"html rss feed feeds news tweet tweets post posts review reviews discussion discussions email emails mail " +
		"mails inbox message messages chat chats channel channels dm dms reddit wikipedia internet online google bing results")
	webWords = words("web internet online google bing duckduckgo brave tavily exa serp")
	// Private: reading data that is not public.
	privateAlone  = words("sql query secret secrets credential credentials password passwords vault keychain env")
	privateThings = words("file files content contents directory directories dir folder database db " +
		"table tables row rows record records secret secrets credential credentials password key keys env environment " +
		"config settings email emails mail mails inbox message messages chat chats contact contacts calendar event " +
		"events document documents doc docs drive note notes customer customers user users account accounts order " +
		"orders payment payments invoice invoices ticket tickets history memory memories profile private internal channel channels " +
		"log logs")
	destructiveWords = words("delete drop remove destroy truncate wipe purge kill terminate erase rm unlink revoke reset")
)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// Heuristic labels a tool by the words of its name alone.
func Heuristic(name string) []Assigned {
	ws := splitName(name)
	if len(ws) == 0 {
		return nil
	}
	var out []Assigned
	add := func(label, why string) {
		for _, a := range out {
			if a.Label == label {
				return
			}
		}
		out = append(out, Assigned{Label: label, Source: "heuristic", Why: why})
	}
	has := func(set map[string]bool) string {
		for _, w := range ws {
			if set[w] {
				return w
			}
		}
		return ""
	}
	joined := strings.Join(ws, "_")
	all := ws
	// A product prefix (slack_post_message, puppeteer_navigate): the verb is the first word that is one.
	for i := 0; i < len(ws) && i < 3; i++ {
		if w := ws[i]; sinkVerbs[w] || writeVerbs[w] || webVerbs[w] || readVerbs[w] || destructiveWords[w] ||
			w == "export" || w == "describe" || w == "print" || w == "execute" || w == "run" {
			ws = ws[i:]
			break
		}
	}
	verb, thing := ws[0], ""
	for _, w := range ws[1:] {
		if publicThings[w] || outsiderThings[w] || privateThings[w] || webThings[w] {
			thing = w
			break
		}
	}
	web := webVerbs[verb] && (len(ws) == 1 && verb != "get" && verb != "open" || webThings[thing]) ||
		verb == "make" && has(words("http https request")) != "" || has(words("webhook curl")) != ""
	switch {
	case web:
		add(Sink, "name "+quote(joined)+": a web request")
		add(Untrusted, "name "+quote(joined)+": a web request")
	case sinkVerbs[verb]:
		add(Sink, "name "+quote(joined)+": verb "+quote(verb))
	case writeVerbs[verb] && publicThings[thing]:
		add(Sink, "name "+quote(joined)+": a write to "+thing)
	case (has(upsertWords) != "" || writeVerbs[verb] && len(ws) > 2 && ws[1] == "or" && writeVerbs[ws[2]]) && (thing == "file" || thing == "files" || thing == "content" || thing == "contents"):
		add(Sink, "name "+quote(joined)+": an upsert of a "+thing+" (a remote repository's write)")
	case readVerbs[verb] && webThings[thing] && thing != "page" && thing != "pages" && thing != "request":
		add(Sink, "name "+quote(joined)+": a web request")
		add(Untrusted, "name "+quote(joined)+": a web request")
	case has(words("browser puppeteer playwright selenium")) != "" && has(words("type fill press evaluate")) != "":
		add(Sink, "name "+quote(joined)+": types into a web page")
	}
	switch {
	case readVerbs[verb] && outsiderThings[thing]:
		add(Untrusted, "name "+quote(joined)+": reads "+thing)
	case slices.ContainsFunc(all, func(w string) bool { return webWords[w] }) && has(words("search query find lookup")) != "":
		add(Untrusted, "name "+quote(joined)+": a web search")
	}
	switch {
	case writeVerbs[verb]:
	case readVerbs[verb] || verb == "export" || verb == "describe" || verb == "print" || verb == "execute" || verb == "run":
		if privateThings[thing] || has(privateAlone) != "" {
			add(Private, "name "+quote(joined)+": reads "+cmpOr(thing, has(privateAlone)))
		}
	case has(privateAlone) != "":
		add(Private, "name word "+quote(has(privateAlone)))
	}
	if w := has(destructiveWords); w != "" {
		add(Destructive, "name word "+quote(w))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func quote(s string) string { return `"` + s + `"` }

// splitName splits a tool name into lower-case words at separators and camelCase humps; a server prefix
// ("github.create_issue", "mcp__github__create_issue") is dropped.
func splitName(name string) []string {
	if i := strings.LastIndexAny(name, "./"); i >= 0 && i+1 < len(name) {
		name = name[i+1:]
	}
	if i := strings.LastIndex(name, "__"); i >= 0 && i+2 < len(name) {
		name = name[i+2:]
	}
	var ws []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			ws = append(ws, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case r == '_' || r == '-' || r == ' ' || r == ':':
			flush()
		case unicode.IsUpper(r) && len(cur) > 0 && (unicode.IsLower(cur[len(cur)-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return slices.DeleteFunc(ws, func(w string) bool { return w == "" })
}
