package poison

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Scan inspects every text of s that reaches a model and returns the findings and the verdict. It is pure
// (no I/O, no global state) and safe for concurrent use.
func Scan(s Surface, c Context) Report {
	sc := newScanner(s, c)
	if s.Instructions != "" {
		it := sc.newItem("instructions", "instructions", "")
		it.add("instructions", s.Instructions, kindText)
		sc.finish(it)
	}
	for i, t := range s.Tools {
		prefix := fmt.Sprintf("tools[%s]", label(t.Name, i))
		it := sc.newItem(prefix, "tool", t.Name)
		it.add(prefix+".name", t.Name, kindName)
		it.add(prefix+".title", t.Title, kindText)
		it.add(prefix+".description", t.Description, kindText)
		it.addSchema(prefix+".inputSchema", t.InputSchema, true)
		it.addSchema(prefix+".outputSchema", t.OutputSchema, false)
		it.addSchema(prefix+".annotations", t.Annotations, false)
		it.addExtra(prefix, t.Extra)
		sc.checkName(it, prefix+".name", t.Name, true)
		sc.finish(it)
	}
	for i, pr := range s.Prompts {
		prefix := fmt.Sprintf("prompts[%s]", label(pr.Name, i))
		it := sc.newItem(prefix, "prompt", pr.Name)
		it.add(prefix+".name", pr.Name, kindName)
		it.add(prefix+".title", pr.Title, kindText)
		it.add(prefix+".description", pr.Description, kindText)
		for j, a := range pr.Arguments {
			ap := fmt.Sprintf("%s.arguments[%s]", prefix, label(a.Name, j))
			it.add(ap+".name", a.Name, kindName)
			it.add(ap+".title", a.Title, kindText)
			it.add(ap+".description", a.Description, kindText)
			it.params = append(it.params, param{name: a.Name, loc: ap, desc: a.Description + " " + a.Title, free: true})
			it.addExtra(ap, a.Extra)
		}
		it.addExtra(prefix, pr.Extra)
		sc.checkName(it, prefix+".name", pr.Name, false)
		sc.finish(it)
	}
	for i, r := range s.Resources {
		prefix := fmt.Sprintf("resources[%s]", label(r.Name, i))
		it := sc.newItem(prefix, "resource", r.Name)
		it.add(prefix+".name", r.Name, kindName)
		it.add(prefix+".title", r.Title, kindText)
		it.add(prefix+".description", r.Description, kindText)
		it.add(prefix+".uri", r.URI, kindURI)
		it.add(prefix+".mimeType", r.MIMEType, kindName)
		it.addExtra(prefix, r.Extra)
		sc.finish(it)
	}
	for i, r := range s.ResourceTemplates {
		prefix := fmt.Sprintf("resourceTemplates[%s]", label(r.Name, i))
		it := sc.newItem(prefix, "resource template", r.Name)
		it.add(prefix+".name", r.Name, kindName)
		it.add(prefix+".title", r.Title, kindText)
		it.add(prefix+".description", r.Description, kindText)
		it.add(prefix+".uriTemplate", r.URITemplate, kindURI)
		it.add(prefix+".mimeType", r.MIMEType, kindName)
		it.addExtra(prefix, r.Extra)
		sc.finish(it)
	}
	sort.SliceStable(sc.report.Findings, func(i, j int) bool {
		a, b := sc.report.Findings[i], sc.report.Findings[j]
		if a.Location != b.Location {
			return a.Location < b.Location
		}
		return a.RuleID < b.RuleID
	})
	return sc.report
}

// label names an item in a location: its sanitised name, or its index when the name is empty.
func label(name string, i int) string {
	if name == "" {
		return fmt.Sprint(i)
	}
	return clip(name, 64)
}

type textKind uint8

const (
	kindText textKind = iota // prose: descriptions, titles, instructions, schema strings
	kindName                 // identifiers: names, property keys, MIME types
	kindURI
)

type text struct {
	loc  string
	s    string
	kind textKind
}

// param is one input of a tool or prompt, for the side-channel parameter rule.
type param struct {
	name, loc, desc string
	free            bool // free text (string or untyped)
}

// item is one tool, prompt, resource, template or the server instructions: the unit whose signals are
// combined.
type item struct {
	prefix, kind, name string
	texts              []text
	params             []param
	cats               category
	findings           []Finding
	seen               map[string]int // rule and location -> index in findings
	hiddenInstr        bool           // an instruction was found inside hidden text
}

type scanner struct {
	tb         *tables
	otherTools []otherTool
	otherByKey map[string]string // lower-case tool name -> server
	ownNames   map[string]bool   // lower-case names of this surface's tools
	report     Report
	memo       map[string]*keywordResult
}

type otherTool struct {
	server, name, lower string
	specific            bool // distinctive enough to match unquoted
}

func newScanner(s Surface, c Context) *scanner {
	sc := &scanner{tb: loadTables(), otherByKey: map[string]string{}, ownNames: map[string]bool{}, memo: map[string]*keywordResult{}}
	for _, t := range s.Tools {
		sc.ownNames[strings.ToLower(t.Name)] = true
	}
	servers := make([]string, 0, len(c.OtherServers))
	for name := range c.OtherServers {
		if name != s.Server {
			servers = append(servers, name)
		}
	}
	sort.Strings(servers)
	for _, srv := range servers {
		for _, n := range c.OtherServers[srv] {
			l := strings.ToLower(n)
			if l == "" || len(l) < 3 {
				continue
			}
			if _, dup := sc.otherByKey[l]; !dup {
				sc.otherByKey[l] = srv
			}
			sc.otherTools = append(sc.otherTools, otherTool{server: srv, name: n, lower: l, specific: specificName(n)})
		}
	}
	return sc
}

// specificName reports whether a tool name is distinctive enough that an unquoted mention of it in prose
// means the tool and not the English word (send_email yes, search no).
func specificName(n string) bool {
	if len(n) >= 12 || strings.ContainsAny(n, "_-.0123456789/") {
		return true
	}
	for i := 1; i < len(n); i++ {
		if n[i] >= 'A' && n[i] <= 'Z' && n[i-1] >= 'a' && n[i-1] <= 'z' {
			return true // camelCase
		}
	}
	return false
}

func (sc *scanner) newItem(prefix, kind, name string) *item {
	return &item{prefix: prefix, kind: kind, name: name, seen: map[string]int{}}
}

func (it *item) add(loc, s string, kind textKind) {
	if s != "" {
		it.texts = append(it.texts, text{loc: loc, s: s, kind: kind})
	}
}

// addSchema records every string in a JSON schema (or annotations object) and, for input schemas, the
// parameters it declares.
func (it *item) addSchema(loc string, raw json.RawMessage, input bool) {
	if len(raw) == 0 {
		return
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		// Not JSON: scan it as text so nothing escapes inspection.
		it.add(loc, string(raw), kindText)
		return
	}
	it.walk(loc, v, input)
}

// addExtra records every string of an item's other members (_meta, icons …), in key order.
func (it *item) addExtra(prefix string, extra map[string]json.RawMessage) {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		loc := prefix + "." + clip(k, 64)
		it.add(loc, k, kindName)
		it.addSchema(loc, extra[k], false)
	}
}

var schemaSkipKeys = map[string]bool{"type": true, "$schema": true, "$ref": true, "$id": true, "format": true, "pattern": true, "$anchor": true}

func (it *item) walk(loc string, v any, input bool) {
	switch v := v.(type) {
	case string:
		it.add(loc, v, kindText)
	case []any:
		for i, e := range v {
			it.walk(fmt.Sprintf("%s[%d]", loc, i), e, input)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := v[k]
			if len(k) > 24 || strings.ContainsAny(k, " \n") || !isASCII(k) {
				// A member name that is prose, not an identifier, is read like any other text.
				it.add(loc+"."+clip(k, 64), k, kindText)
			}
			if props, ok := val.(map[string]any); ok && (k == "properties" || k == "patternProperties") {
				names := make([]string, 0, len(props))
				for n := range props {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					ploc := loc + "." + k + "." + clip(n, 64)
					it.add(ploc, n, kindName)
					if input {
						it.params = append(it.params, schemaParam(n, ploc, props[n]))
					}
					it.walk(ploc, props[n], input)
				}
				continue
			}
			if _, isStr := val.(string); isStr && schemaSkipKeys[k] {
				continue
			}
			it.walk(loc+"."+k, val, input)
		}
	}
}

func schemaParam(name, loc string, v any) param {
	pr := param{name: name, loc: loc, free: true}
	m, ok := v.(map[string]any)
	if !ok {
		return pr
	}
	if d, ok := m["description"].(string); ok {
		pr.desc = d
	}
	if t, ok := m["title"].(string); ok {
		pr.desc += " " + t
	}
	switch t := m["type"].(type) {
	case string:
		pr.free = t == "string" || t == "object"
	case []any:
		pr.free = false
		for _, e := range t {
			if e == "string" || e == "object" {
				pr.free = true
			}
		}
	}
	if _, ok := m["enum"]; ok {
		pr.free = false
	}
	if _, ok := m["const"]; ok {
		pr.free = false
	}
	return pr
}

// emit records a finding once per rule and location and marks the item with cat.
func (it *item) emit(id string, sev Severity, cat category, loc, evidence, msg string) {
	it.cats |= cat
	key := id + "\x00" + loc
	if i, ok := it.seen[key]; ok {
		// One finding per rule and location, with the strongest severity any of its matches had.
		if f := &it.findings[i]; sev > f.Severity {
			f.Severity, f.Evidence, f.Message = sev, clip(evidence, 160), msg
		}
		return
	}
	it.seen[key] = len(it.findings)
	it.findings = append(it.findings, Finding{RuleID: id, Severity: sev, Location: loc, Evidence: clip(evidence, 160), Message: msg})
}

// finish analyses an item's texts, combines its signals, and appends its findings to the report.
func (sc *scanner) finish(it *item) {
	for _, t := range it.texts {
		sc.analyze(it, t, false)
	}
	sc.checkParams(it)
	sc.combine(it)
	for _, f := range it.findings {
		if f.Severity > sc.report.Verdict {
			sc.report.Verdict = f.Severity
		}
	}
	sc.report.Findings = append(sc.report.Findings, it.findings...)
}

// analyze runs every rule over one text. hidden marks text recovered from an invisible channel.
func (sc *scanner) analyze(it *item, t text, hidden bool) {
	if !hidden {
		for _, h := range sc.rawChecks(it, t) {
			sc.analyze(it, h, true)
		}
	}
	kw := sc.keywords(t.s)
	f := kw.forms
	before := it.cats
	for _, h := range kw.hits {
		r := sc.tb.textRules[h.rule]
		sev, msg := r.sev, r.msg
		if h.weak {
			sev, msg = Low, r.msg+" (mentioned, not read or sent)"
		}
		if hidden {
			msg += " (in hidden text)"
			if sev < High {
				sev = High
			}
		}
		cat := r.cat
		if h.secret || r.id == RuleCredentialPath && r.sev == Medium && !h.weak {
			cat |= catCred | catCredRead
		}
		it.emit(r.id, sev, cat, t.loc, h.evidence, msg)
	}
	for _, qi := range kw.squash {
		q := squashRules[qi]
		if !kw.spelled || hasRule(sc.tb, kw.hits, q.id) {
			continue // the phrase is readable as it is; its own rule judged it
		}
		it.emit(q.id, q.sev, q.cat, t.loc, q.needle, q.msg)
	}
	sc.exfil(it, t, f)
	sc.shadowMentions(it, t, f)
	if hidden && (it.cats&^before)&(catInstr|catCred|catDataReq|catExfil) != 0 {
		it.hiddenInstr = true
		it.cats |= catHidden
	}
}

// keywordResult is what the keyword rules found in one text; it depends only on the text, so a scan
// computes it once per distinct string (schemas repeat the same descriptions many times).
// maxKeywordBytes bounds how much of one text the keyword rules read.
const maxKeywordBytes = 64 << 10

type keywordResult struct {
	forms  forms
	hits   []keywordHit
	squash []int // indexes into squashRules
	// spelled: the text spells words out in pieces (six or more one- or two-letter tokens in a row), the
	// only case where the squash rules say something the others did not.
	spelled bool
}

type keywordHit struct {
	rule     int // index into textRules
	evidence string
	weak     bool // a credential path merely mentioned: low instead of the rule's severity
	secret   bool // a data request for secrets
}

func (sc *scanner) keywords(s string) *keywordResult {
	if r, ok := sc.memo[s]; ok {
		return r
	}
	key := s
	if len(s) > maxKeywordBytes {
		// Bound the work on hostile input; such a text is already flagged by the length rule.
		n := maxKeywordBytes
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	f := makeForms(s)
	res := &keywordResult{forms: f}
	tb := sc.tb
	hit := tb.wordTriggers(f.words)
	for ri := range tb.textRules {
		r := &tb.textRules[ri]
		in := f.flat
		switch r.form {
		case onWords:
			in = f.words
		case onNative:
			if in = f.native; in == "" {
				continue
			}
		}
		for pi := range r.pats {
			pt := &r.pats[pi]
			if r.form == onWords {
				if len(pt.need) > 0 && !hit[pt.word] {
					continue
				}
			} else if !pt.triggered(in) {
				continue
			}
			if r.id == RuleCredentialPath && r.sev == Medium {
				// A credential path is read or sent in an attack, and merely named by the tools that use
				// it (an SSH client's default key, an AWS CLI's credentials file): medium only when a
				// transfer verb reaches it.
				if a, b, accessed := credMention(pt, in, r.form == onWords); a >= 0 {
					res.hits = append(res.hits, keywordHit{rule: ri, evidence: excerpt(in, a, b, 120), weak: !accessed})
					break
				}
				continue
			}
			if a, b := pt.find(in); a >= 0 {
				res.hits = append(res.hits, keywordHit{rule: ri, evidence: excerpt(in, a, b, 120)})
				break
			}
		}
	}
	if !hasHit(res.hits, tb.dataRequestRule) {
		toks, spans := tokens(f.words)
		for i := range tb.dataRequestRules {
			if a, b := tb.dataRequestRules[i].find(toks, spans); a >= 0 {
				// The first token rule asks for conversation; the others for secrets, a credential target.
				res.hits = append(res.hits, keywordHit{rule: tb.dataRequestRule, evidence: excerpt(f.words, a, b, 120), secret: i > 0})
				break
			}
		}
	}
	res.spelled = spelledOut(f.words)
	for qi, q := range squashRules {
		if strings.Contains(f.squash, q.needle) {
			res.squash = append(res.squash, qi)
		}
	}
	sc.memo[key] = res
	return res
}

func hasRule(tb *tables, hits []keywordHit, id string) bool {
	for _, h := range hits {
		if tb.textRules[h.rule].id == id {
			return true
		}
	}
	return false
}

func hasHit(hits []keywordHit, rule int) bool {
	for _, h := range hits {
		if h.rule == rule {
			return true
		}
	}
	return false
}

func (sc *scanner) exfil(it *item, t text, f forms) {
	flat, tb := f.flat, sc.tb
	if strings.Contains(flat, "://") {
		for _, loc := range tb.reURL.FindAllStringIndex(flat, 8) {
			u := flat[loc[0]:loc[1]]
			if host := urlHost(u); exampleDomain(host) {
				continue
			}
			if t.kind != kindURI && dataPlaceholder(u, tb) {
				if imageURL(flat, loc[0]) {
					// A client renders the image by itself: filling the placeholder is the whole attack.
					it.emit(RuleExfiltration, High, catExfil|catImperative, t.loc, u, "image URL with a placeholder for data: rendering it sends the data, no click needed")
				} else {
					it.emit(RuleExfiltration, Medium, catExfil, t.loc, u, "URL with a placeholder for data to fill in: a ready-made exfiltration endpoint")
				}
				break
			}
		}
		if m := tb.reSendVerbURL.FindStringIndex(flat); m != nil && t.kind == kindText {
			u := tb.reURL.FindString(flat[m[0]:])
			if !exampleDomain(urlHost(u)) && !benignSendURL(flat[m[0]:m[1]]) {
				it.emit(RuleExfiltration, Medium, catExfil, t.loc, excerpt(flat, m[0], m[1]+len(u), 140), "tells the model to send data to a URL")
			}
		}
	}
	if strings.IndexByte(flat, '@') >= 0 {
		for _, loc := range tb.reEmail.FindAllStringIndex(flat, 8) {
			addr := flat[loc[0]:loc[1]]
			host := addr[strings.IndexByte(addr, '@')+1:]
			if exampleDomain(host) || strings.HasSuffix(host, ".png") || strings.HasSuffix(host, ".js") || givenAsExample(flat, loc[0]) {
				continue
			}
			from := max(0, loc[0]-120)
			if tb.reEmailVerb.MatchString(flat[from:loc[0]]) || tb.reEmailVerb.MatchString(flat[loc[1]:min(len(flat), loc[1]+60)]) {
				it.emit(RuleExfiltration, Medium, catExfil, t.loc, excerpt(flat, loc[0], loc[1], 120), "names an e-mail address to send or copy data to")
				break
			}
		}
	}
	if strings.ContainsAny(flat, "+0") {
		for _, loc := range tb.rePhone.FindAllStringIndex(flat, 8) {
			digits := 0
			for _, c := range flat[loc[0]:loc[1]] {
				if c >= '0' && c <= '9' {
					digits++
				}
			}
			if digits < 9 || givenAsExample(flat, loc[0]) {
				continue
			}
			from := max(0, loc[0]-120)
			if tb.rePhoneVerb.MatchString(flat[from:loc[0]]) {
				it.emit(RuleExfiltration, Medium, catExfil, t.loc, excerpt(flat, loc[0], loc[1], 120), "names a phone number to send messages or data to")
				break
			}
		}
	}
}

// dataPlaceholder reports whether URL u has a placeholder for data to fill in: any placeholder in its query
// or fragment, or one in its path whose name says data (…/{conversation}, …/${secret}). Path placeholders
// that name REST resources (/repos/{owner}/{repo}) are ordinary API documentation.
func dataPlaceholder(u string, tb *tables) bool {
	locs := tb.reURLTemplate.FindAllStringIndex(u, 8)
	if locs == nil {
		return false
	}
	q := strings.IndexAny(u, "?#")
	for _, l := range locs {
		if q >= 0 && l[0] >= q {
			return true
		}
		if ph := u[l[0]:l[1]]; tb.reDataWord.MatchString(ph) && !resourceName(ph) {
			return true
		}
	}
	return false
}

// imageURL reports whether the URL at flat[i:] is the source of a markdown or HTML image.
func imageURL(flat string, i int) bool {
	before := flat[max(0, i-200):i]
	if strings.HasSuffix(before, "](") || strings.HasSuffix(before, "]( ") {
		j := strings.LastIndex(before, "![")
		return j >= 0 && !strings.Contains(before[j:], "\n")
	}
	if k := strings.LastIndex(before, "<img"); k >= 0 && !strings.Contains(before[k:], ">") {
		return true
	}
	return false
}

// givenAsExample reports whether the address or number at flat[i:] is introduced as an example of a
// format ("e.g. +14155550123", "for example bob@…").
func givenAsExample(flat string, i int) bool {
	before := strings.TrimRight(flat[max(0, i-16):i], " (:")
	for _, w := range []string{"e.g.", "e.g", "eg.", "for example", "for instance", "such as", "like", "i.e."} {
		if strings.HasSuffix(before, w) {
			return true
		}
	}
	return false
}

// resourceName reports whether a placeholder names a resource identifier ({note_id}, {channel_name}).
func resourceName(ph string) bool {
	ph = strings.TrimRight(ph, "}>]")
	for _, suf := range []string{"id", "ids", "name", "slug", "number", "num", "uuid"} {
		if strings.HasSuffix(ph, suf) {
			return true
		}
	}
	return false
}

// benignSendURL recognises documentation wording such as "see https://…" that the send-verb pattern
// can reach ("… report bugs at https://github.com/…").
func benignSendURL(span string) bool {
	return strings.Contains(span, " see ") || strings.Contains(span, "documentation") || strings.Contains(span, " docs")
}

func urlHost(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	h := u[i+3:]
	if j := strings.IndexAny(h, "/?#"); j >= 0 {
		h = h[:j]
	}
	if j := strings.LastIndexByte(h, '@'); j >= 0 {
		h = h[j+1:]
	}
	if j := strings.IndexByte(h, ':'); j >= 0 {
		h = h[:j]
	}
	return h
}

// shadowMentions flags prose that names another server's tools.
func (sc *scanner) shadowMentions(it *item, t text, f forms) {
	if len(sc.otherTools) == 0 || t.kind != kindText {
		return
	}
	flat := f.flat
	for _, o := range sc.otherTools {
		if sc.ownNames[o.lower] {
			continue // the server's own tool of that name; MW-TP051 reports the collision
		}
		i := indexWord(flat, o.lower)
		if i < 0 {
			continue
		}
		if !o.specific && !calledTool(flat, i, len(o.lower)) {
			continue
		}
		// Redefinition wording counts only near the mention: "Use this instead of execute_command"
		// elsewhere in a long description says nothing about another server's tool.
		near := wordsOf(flat[max(0, i-shadowWindow):min(len(flat), i+len(o.lower)+shadowWindow)])
		if sc.tb.reRedefine.MatchString(near) || it.cats&(catExfil|catConceal|catOverride|catTag) != 0 {
			it.emit(RuleShadowMention, High, catShadow|catShadowRedef, t.loc, excerpt(flat, i, i+len(o.lower), 140),
				fmt.Sprintf("names tool %q of server %q and tells the model how to use it: cross-server shadowing", o.name, o.server))
		} else {
			it.emit(RuleShadowMention, Medium, catShadow, t.loc, excerpt(flat, i, i+len(o.lower), 140),
				fmt.Sprintf("names tool %q of server %q: a tool should describe only itself", o.name, o.server))
		}
		return
	}
}

// shadowWindow is how far (bytes) from a mention of another server's tool redefinition wording counts.
const shadowWindow = 160

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// indexWord finds w in s with identifier boundaries on both sides.
func indexWord(s, w string) int {
	off := 0
	for {
		i := strings.Index(s[off:], w)
		if i < 0 {
			return -1
		}
		i += off
		j := i + len(w)
		if (i == 0 || !isNameByte(s[i-1])) && (j == len(s) || !isNameByte(s[j])) {
			return i
		}
		off = i + 1
	}
}

// calledTool reports whether the mention at s[i:i+n] is followed by "tool", "function" or "()", which
// makes a generic word ("search") mean a tool.
func calledTool(s string, i, n int) bool {
	rest := strings.TrimLeft(s[i+n:], "`'\"")
	return strings.HasPrefix(rest, " tool") || strings.HasPrefix(rest, " function") || strings.HasPrefix(rest, "()")
}

// checkName applies the name rules: confusable letters, NFKC changes, collisions with other servers.
func (sc *scanner) checkName(it *item, loc, name string, isTool bool) {
	if name == "" {
		return
	}
	if !isASCII(name) {
		nf := norm.NFKC.String(name)
		skel := strings.TrimSpace(fold(name))
		collides := ""
		if srv, ok := sc.otherByKey[skel]; ok && isTool {
			collides = fmt.Sprintf(" and reads as %q, a tool of server %q", skel, srv)
		} else if sc.ownNames[skel] && strings.ToLower(name) != skel {
			collides = fmt.Sprintf(" and reads as %q, another tool of this server", skel)
		}
		sev := Medium
		if collides != "" {
			sev = High
		}
		switch {
		case nf != name:
			it.emit(RuleHomoglyphName, sev, catUnicode, loc, skel, "name changes under NFKC normalisation (compatibility characters)"+collides)
		case skel != strings.ToLower(name) && isASCII(skel):
			it.emit(RuleHomoglyphName, sev, catUnicode, loc, skel, "name uses letters from another script that look like Latin ones"+collides)
		default:
			it.emit(RuleHomoglyphName, Low, catUnicode, loc, clip(name, 64), "name has non-ASCII characters; MCP tool names should be ASCII letters, digits, '_', '-', '.'")
		}
	}
	if isTool {
		if srv, ok := sc.otherByKey[strings.ToLower(name)]; ok {
			it.emit(RuleNameCollision, Medium, catCollision, loc, clip(name, 64),
				fmt.Sprintf("tool name collides with a tool of server %q; a client may call the wrong one", srv))
		}
	}
}

// checkParams flags free-text parameters with side-channel names that ask for data.
func (sc *scanner) checkParams(it *item) {
	var all strings.Builder
	for _, t := range it.texts {
		if t.kind == kindText {
			all.WriteString(t.s)
			all.WriteByte('\n')
		}
	}
	allFlat := ""
	for _, pr := range it.params {
		key := nameSeparators.Replace(strings.ToLower(pr.name))
		if !pr.free || !sideChannelNames[key] {
			continue
		}
		desc := makeForms(pr.desc).words
		if sc.tb.reDataTarget.MatchString(desc) {
			it.emit(RuleSideChannelParam, Medium, catFreeText, pr.loc, clip(strings.TrimSpace(desc), 120),
				fmt.Sprintf("free-text parameter %q asks for data unrelated to the tool's purpose (files, conversation, secrets)", pr.name))
			continue
		}
		if allFlat == "" {
			allFlat = fold(all.String())
		}
		lname := strings.ToLower(pr.name)
		if i := paramReference(allFlat, lname); i >= 0 && it.cats&(catCred|catDataReq|catInstr) != 0 {
			it.emit(RuleSideChannelParam, Medium, catFreeText, pr.loc, excerpt(allFlat, i, i+len(lname), 120),
				fmt.Sprintf("free-text parameter %q is referenced by instructions in the description: likely a side channel", pr.name))
			continue
		}
		if strings.TrimSpace(pr.desc) == "" {
			it.emit(RuleSideChannelParam, Info, 0, pr.loc, pr.name,
				fmt.Sprintf("free-text parameter %q has no description", pr.name))
		}
	}
}

var nameSeparators = strings.NewReplacer("_", "", "-", "", " ", "", ".", "")

// paramReference finds a mention of parameter name in flat prose that clearly means the parameter: quoted
// ('sidenote', `notes`), followed by "parameter"/"field"/"argument", or after "as"/"in"/"into". It returns
// the offset or -1.
func paramReference(flat, name string) int {
	off := 0
	for off < len(flat) {
		i := indexWord(flat[off:], name)
		if i < 0 {
			return -1
		}
		i += off
		before, after := flat[:i], flat[i+len(name):]
		switch {
		case i > 0 && strings.IndexByte("`'\"", flat[i-1]) >= 0,
			strings.HasSuffix(before, "“"), strings.HasSuffix(before, "« "), strings.HasSuffix(before, "‘"),
			strings.HasPrefix(after, " parameter"), strings.HasPrefix(after, " field"), strings.HasPrefix(after, " argument"),
			strings.HasPrefix(after, " param"), strings.HasSuffix(before, " as "), strings.HasSuffix(before, " into "),
			strings.HasSuffix(before, " in the "):
			return i
		}
		off = i + len(name)
	}
	return -1
}

// combine turns the item's categories into one combined finding when together they say more than each
// finding alone.
func (sc *scanner) combine(it *item) {
	c := it.cats
	score := 0
	for cat, w := range catWeights {
		if c&cat != 0 {
			score += w
		}
	}
	sc.report.Score += score
	has := func(m category) bool { return c&m != 0 }
	count := func(m category) int {
		n := 0
		for b := category(1); b != 0 && b <= m; b <<= 1 {
			if m&b != 0 && c&b != 0 {
				n++
			}
		}
		return n
	}
	target := has(catCred | catDataReq)
	sink := has(catExfil | catFreeText)
	hiddenCh := has(catHidden | catTag)
	var sev Severity
	var why []string
	switch {
	case it.hiddenInstr:
		sev, why = Critical, append(why, "instructions smuggled in invisible text")
	case hiddenCh && has(catConceal|catOverride|catPrecond|catImperative|catRole) && (target || sink):
		sev, why = Critical, append(why, "hidden instruction block", "imperative aimed at the model", "data target or sink")
	case has(catConceal|catOverride) && target && sink:
		sev, why = Critical, append(why, "concealed or overriding instruction", "data target", "exfiltration sink")
	case count(catInstr) >= 2 && (target || sink):
		sev, why = High, append(why, "several instruction techniques", "data target or sink")
	case has(catInstr) && target && sink:
		sev, why = High, append(why, "instruction", "data target", "sink")
	case has(catTag) && has(catImperative|catPrecond|catConceal|catOverride|catRole):
		sev, why = High, append(why, "hidden instruction block", "imperative aimed at the model")
	case has(catPrecond|catConceal|catOverride|catTag|catRole) && target:
		sev, why = High, append(why, "instruction", "credential or data target")
	case has(catHidden) && has(catInstr|catExfil|catCred):
		sev, why = High, append(why, "text hidden from the user", "instruction or data target")
	case has(catShadow) && has(catExfil|catConceal|catOverride|catTag|catShadowRedef):
		sev, why = High, append(why, "mentions another server's tool", "redefinition, strong instruction or sink")
	case has(catCredRead) && sink:
		sev, why = High, append(why, "credential read or secrets requested", "parameter or exfiltration sink")
	case has(catDataReq) && has(catExfil):
		sev, why = High, append(why, "request for data", "exfiltration sink")
	case has(catImperative|catPrecond|catShadowRedef) && has(catExfil):
		sev, why = High, append(why, "imperative aimed at the model", "exfiltration sink")
	case has(catImperative) && has(catExfil) && has(catShadowRedef|catPrecond):
		sev, why = High, append(why, "imperative", "redefinition", "exfiltration sink")
	case count(catStrong) >= 2:
		sev, why = High, append(why, "several instruction techniques")
	case score >= 5 && count(catInstr|catCred|catDataReq|catExfil|catFreeText|catHidden|catUnicode|catShadow|catCollision) >= 2:
		sev, why = Medium, append(why, fmt.Sprintf("combined score %d", score))
	default:
		return
	}
	top := Info
	for _, f := range it.findings {
		if f.Severity > top {
			top = f.Severity
		}
	}
	if sev <= top {
		return
	}
	it.findings = append(it.findings, Finding{
		RuleID: RuleCombined, Severity: sev, Location: it.prefix,
		Evidence: strings.Join(why, " + "),
		Message:  fmt.Sprintf("%s combines %s: likely tool poisoning", it.kind, strings.Join(why, ", ")),
	})
}

// credMention finds the credential-path matches of pt in s and reports the first one's range and whether
// any match is accessed: a transfer verb ("read", "cat", "send", "contents of" …) stands shortly before
// it in the same sentence, not right after a negation. words says s is the words form (no punctuation,
// so the look-back is a few words); otherwise s is the flat form.
func credMention(pt *pattern, s string, words bool) (int, int, bool) {
	if pt.also != nil && !pt.also.MatchString(s) {
		return -1, -1, false
	}
	a, b := pt.find(s) // windowed: cheap when there is no match
	if a < 0 {
		return -1, -1, false
	}
	if credAccessed(s, a, b, words) {
		return a, b, true
	}
	locs := pt.re.FindAllStringIndex(s, 16)
	for _, l := range locs {
		if credAccessed(s, l[0], l[1], words) {
			return l[0], l[1], true
		}
	}
	return a, b, false
}

// credAccessed reports whether the path at s[a:b] is the object of a transfer verb.
func credAccessed(s string, a, b int, words bool) bool {
	from := max(0, a-credLookBack)
	back := s[from:a]
	if !words {
		// Same sentence: after the last ". ", newline or ";".
		for _, stop := range []string{". ", "\n", "; ", "! ", "? "} {
			if i := strings.LastIndex(back, stop); i >= 0 {
				back = back[i+len(stop):]
			}
		}
	}
	toks := strings.FieldsFunc(back, func(r rune) bool { return !isWordRune(r) })
	for i := len(toks) - 1; i >= 0 && i >= len(toks)-credLookWords; i-- {
		if !credVerbs[toks[i]] {
			continue
		}
		// A negation earlier in the sentence ("never run commands that read … (for example cat
		// ~/.ssh/id_rsa)") makes it a warning; the path still counts as a target.
		neg := false
		for j := i - 1; j >= 0; j-- {
			if credNegations[toks[j]] {
				neg = true
			}
		}
		if !neg {
			return true
		}
	}
	// "~/.ssh/id_rsa's contents", "~/.aws/credentials and pass it …"
	after := s[b:min(len(s), b+40)]
	return strings.Contains(after, "content") || strings.Contains(after, " pass it") || strings.Contains(after, " send it") ||
		strings.Contains(after, " include it") || strings.Contains(after, " attach it") || strings.Contains(after, " copy it")
}

const (
	credLookBack  = 120 // bytes before a credential path where its verb may stand
	credLookWords = 12  // … and at most this many words
)

var credVerbs = setOf("read", "reads", "reading", "cat", "open", "opens", "opening", "load", "loads", "loading",
	"include", "including", "pass", "passing", "send", "sending", "copy", "copying", "upload", "uploading",
	"attach", "attaching", "paste", "pasting", "provide", "providing", "share", "sharing", "dump", "dumping",
	"print", "printing", "forward", "forwarding", "extract", "extracting", "collect", "collecting", "grab",
	"post", "posting", "exfiltrate", "steal", "contents", "content", "embed", "append", "insert", "fetch",
	"fetching", "output", "echo", "encode", "base64", "transmit", "leak", "supply", "supplying", "submit",
	"gather", "harvest", "retrieve", "retrieving", "lis", "lisez", "lire", "lies", "lese", "lesen", "lee", "leer",
	"leggi", "leggere", "leia", "ler", "envoie", "envoyez", "sende", "senden", "envia", "enviar", "invia", "inviare",
	"cp", "scp", "curl", "xxd")

var credNegations = setOf("not", "never", "dont", "avoid", "refuse", "without", "no", "nor", "cannot", "t")

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// spelledOut reports whether the words form has six or more tokens of one or two characters in a row.
func spelledOut(words string) bool {
	run, tok := 0, 0
	for i := 0; i < len(words); i++ {
		if words[i] != ' ' {
			tok++
			continue
		}
		if tok > 0 {
			if tok <= 2 {
				if run++; run >= 6 {
					return true
				}
			} else {
				run = 0
			}
		}
		tok = 0
	}
	return false
}
