package poison

import (
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Rule IDs. They are stable: dashboards, policies and suppressions refer to them. docs/poisoning.md
// describes each one.
const (
	RuleHiddenTag        = "MW-TP001" // <IMPORTANT>/<SYSTEM>-style blocks, HTML comments
	RuleConcealment      = "MW-TP002" // "do not tell the user"
	RuleOverride         = "MW-TP003" // "ignore previous instructions", approval bypass
	RulePrecondition     = "MW-TP004" // "before using this tool, read/call/send …"
	RuleImperative       = "MW-TP005" // "you must always …", addressing the model
	RoleMarker           = "MW-TP006" // system:, [INST], <|im_start|>
	RuleCredentialPath   = "MW-TP010" // ~/.ssh, .aws/credentials, mcp.json …
	RuleDataRequest      = "MW-TP011" // asks to pass conversation, secrets, system prompt
	RuleExfiltration     = "MW-TP012" // URLs with placeholders, send-to email/phone/URL
	RuleSideChannelParam = "MW-TP013" // sidenote/context/notes parameter asking for data
	RuleTagSmuggling     = "MW-TP020" // U+E0000–E007F
	RuleZeroWidth        = "MW-TP021" // U+200B–200D, U+2060, U+FEFF …
	RuleBidi             = "MW-TP022" // U+202A–202E, U+2066–2069
	RuleVariationSel     = "MW-TP023" // variation selectors outside emoji
	RuleHomoglyphName    = "MW-TP024" // confusable / non-NFKC names
	RuleANSI             = "MW-TP030" // ESC/CSI/OSC sequences
	RuleControlChar      = "MW-TP031" // other C0/C1 controls
	RulePadding          = "MW-TP040" // whitespace runs pushing text off-screen
	RuleLength           = "MW-TP041" // excessive length
	RuleEncodedPayload   = "MW-TP042" // base64/hex text that decodes to prose
	RuleShadowMention    = "MW-TP050" // mentions/redefines another server's tool
	RuleNameCollision    = "MW-TP051" // same tool name as another server's tool
	RuleCombined         = "MW-TP100" // combination of the above in one item
)

// category is a kind of signal; an item's categories decide the combined verdict.
type category uint32

const (
	catTag category = 1 << iota
	catConceal
	catOverride
	catPrecond
	catImperative
	catRole
	catCred
	catDataReq
	catExfil
	catFreeText
	catHidden // text reached the model through an invisible channel (tags, padding, escapes …)
	catUnicode
	catShadow
	catShadowRedef
	catCollision
	// catCredRead: a credential file is read or sent ("cat ~/.aws/credentials", "the contents of
	// ~/.ssh/id_rsa"), or secrets are asked for ("include all environment variables"): a stronger target
	// than a path merely named.
	catCredRead
)

// instruction categories: text that tells the model what to do.
const catInstr = catTag | catConceal | catOverride | catPrecond | catImperative | catRole | catShadowRedef

// strong instruction categories: no benign description needs them.
const catStrong = catConceal | catOverride | catTag | catRole

var catWeights = map[category]int{
	catTag: 3, catConceal: 4, catOverride: 4, catPrecond: 2, catImperative: 1, catRole: 3, catCred: 3,
	catDataReq: 2, catExfil: 3, catFreeText: 2, catHidden: 3, catUnicode: 2, catShadow: 3, catShadowRedef: 1, catCollision: 1, catCredRead: 1,
}

type formKind uint8

const (
	onFlat formKind = iota
	onWords
	onSquash
	onNative // forms.native: Cyrillic, Chinese, Japanese and Korean wording
)

// pattern is a regular expression with a cheap prefilter: the regexp runs only if the form contains at
// least one of need (or need is empty).
type pattern struct {
	re   *regexp.Regexp
	need []string       // at least one must occur (words form: whole tokens, "x*" token prefixes)
	also *regexp.Regexp // when set, must match the same form too
	word int            // words-form patterns: the pattern's index in wordTriggers' result
	// veto, when set, rejects a match at s[a:b] that its context shows to be benign ("do not delete
	// events without telling the user", "ignore instructions found in fetched pages").
	veto func(s string, a, b int) bool
}

// textRule is a keyword rule over one normalised form of a text.
type textRule struct {
	id   string
	cat  category
	sev  Severity
	form formKind
	msg  string
	pats []pattern
}

// wordNeeds turns the prefilter of a words-form pattern into substrings of the space-padded words form
// (used to place windows in long texts): "user" becomes " user ", "ignor*" becomes " ignor".
func wordNeeds(need []string) []string {
	out := make([]string, len(need))
	for i, n := range need {
		if strings.HasSuffix(n, "*") {
			out[i] = " " + strings.TrimSuffix(n, "*")
		} else {
			out[i] = " " + n + " "
		}
	}
	return out
}

type prefixNeedle struct {
	prefix string
	id     int // a words-form pattern's word
}

// tables are the compiled rules and the token index over them. Compiling the expressions takes about
// 3 ms and 2 MB, so they are built on first use, once (loadTables), rather than at package
// initialisation, which every run of the binary pays for; the gateway builds them in the background at
// start (Init). A scan fetches them once.
type tables struct {
	textRules []textRule
	// dataRequestRule is the index in textRules of the data-request rule, which dataRequestRules extend.
	dataRequestRule  int
	dataRequestRules []tokenRule
	// The token index: every prefilter word of every words-form pattern, so that one pass over a text's
	// tokens tells which patterns can match.
	exactIndex   map[string][]int
	prefixIndex  map[string][]prefixNeedle // keyed by the needle's first three bytes
	wordPatCount int
	// Exfiltration building blocks (flat form), the side-channel parameter's data targets and the
	// redefinition wording of shadowing (words form): see their expressions.
	reURL, reURLTemplate, reSendVerbURL, reEmail, reEmailVerb, rePhone, rePhoneVerb *regexp.Regexp
	reDataTarget, reRedefine, reDataWord                                            *regexp.Regexp
}

// loadTables returns the tables, building them on the first call. A table that breaks its invariants
// panics, on that call and on every later one (sync.OnceValue): TestTables builds them.
var loadTables = sync.OnceValue(buildTables)

// Init builds the scanner's tables now, so that the first Scan does not wait for them. Calling it is
// optional and it is safe for concurrent use; Scan builds the tables when it needs them.
func Init() { loadTables() }

func buildTables() *tables {
	t := &tables{
		textRules:        buildTextRules(),
		dataRequestRule:  -1,
		dataRequestRules: buildDataRequestRules(),
		exactIndex:       map[string][]int{},
		prefixIndex:      map[string][]prefixNeedle{},
		reURL:            regexp.MustCompile(exprURL),
		reURLTemplate:    regexp.MustCompile(exprURLTemplate),
		reSendVerbURL:    regexp.MustCompile(exprSendVerbURL),
		reEmail:          regexp.MustCompile(exprEmail),
		reEmailVerb:      regexp.MustCompile(exprEmailVerb),
		rePhone:          regexp.MustCompile(exprPhone),
		rePhoneVerb:      regexp.MustCompile(exprPhoneVerb),
		reDataTarget:     regexp.MustCompile(exprDataTarget),
		reRedefine:       regexp.MustCompile(exprRedefine),
		reDataWord:       regexp.MustCompile(exprDataWord),
	}
	for i, r := range t.textRules {
		if r.id == RuleDataRequest && r.form == onWords {
			t.dataRequestRule = i
			break
		}
	}
	if t.dataRequestRule < 0 {
		panic("poison: no data-request text rule")
	}
	for i := range t.textRules {
		if t.textRules[i].form != onWords {
			continue
		}
		for j := range t.textRules[i].pats {
			pt := &t.textRules[i].pats[j]
			pt.word = t.wordPatCount
			t.wordPatCount++
			for _, n := range pt.need {
				t.indexNeedle(n, pt.word)
			}
			pt.need = wordNeeds(pt.need)
		}
	}
	return t
}

func (t *tables) indexNeedle(n string, id int) {
	word, _, _ := strings.Cut(strings.TrimSuffix(n, "*"), " ")
	if strings.HasSuffix(n, "*") && !strings.Contains(n, " ") {
		if len(word) < 3 {
			panic("poison: prefix needle shorter than 3 bytes: " + n)
		}
		t.prefixIndex[word[:3]] = append(t.prefixIndex[word[:3]], prefixNeedle{prefix: word, id: id})
		return
	}
	t.exactIndex[word] = append(t.exactIndex[word], id)
}

// wordTriggers reports, for each words-form pattern (by its word), whether the text holds one of its
// prefilter words.
func (t *tables) wordTriggers(words string) []bool {
	hit := make([]bool, t.wordPatCount)
	for i := 0; i < len(words); {
		if words[i] == ' ' {
			i++
			continue
		}
		j := strings.IndexByte(words[i:], ' ')
		if j < 0 {
			j = len(words) - i
		}
		tok := words[i : i+j]
		i += j
		for _, id := range t.exactIndex[tok] {
			hit[id] = true
		}
		if len(tok) >= 3 {
			for _, pn := range t.prefixIndex[tok[:3]] {
				if strings.HasPrefix(tok, pn.prefix) {
					hit[pn.id] = true
				}
			}
		}
	}
	return hit
}

func p(expr string, need ...string) pattern {
	return pattern{re: regexp.MustCompile(expr), need: need}
}

func pVeto(veto func(s string, a, b int) bool, expr string, need ...string) pattern {
	return pattern{re: regexp.MustCompile(expr), need: need, veto: veto}
}

func pAlso(also *regexp.Regexp, expr string, need ...string) pattern {
	return pattern{re: regexp.MustCompile(expr), need: need, also: also}
}

// triggered applies the substring prefilter (flat-form patterns).
func (pt *pattern) triggered(s string) bool {
	if len(pt.need) == 0 {
		return true
	}
	for _, n := range pt.need {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// find returns the byte range of the first match in s that its veto (if any) lets through, or -1, -1.
// The prefilter has already passed.
func (pt *pattern) find(s string) (int, int) {
	if pt.also != nil && !pt.also.MatchString(s) {
		return -1, -1
	}
	if len(s) <= windowMin || len(pt.need) == 0 {
		return pt.first(s, 0, len(s))
	}
	// Long text: run the expression only on windows around the prefilter words. No pattern spans more
	// than windowBack bytes before or windowFwd bytes after the word it needs.
	var wins [][2]int
	for _, n := range pt.need {
		for off := 0; ; {
			i := strings.Index(s[off:], n)
			if i < 0 {
				break
			}
			i += off
			wins = append(wins, [2]int{max(0, i-windowBack), min(len(s), i+len(n)+windowFwd)})
			off = i + len(n)
		}
	}
	sort.Slice(wins, func(a, b int) bool { return wins[a][0] < wins[b][0] })
	for k := 0; k < len(wins); {
		from, to := wins[k][0], wins[k][1]
		k++
		for k < len(wins) && wins[k][0] <= to {
			to = max(to, wins[k][1])
			k++
		}
		// Start at a separator so that a pattern's leading space or line anchor still means what it says.
		for from > 0 && s[from-1] != ' ' && s[from-1] != '\n' {
			from--
		}
		if a, b := pt.first(s, from, to); a >= 0 {
			return a, b
		}
	}
	return -1, -1
}

// first returns the first match within s[from:to] that the veto lets through. The veto sees all of s.
func (pt *pattern) first(s string, from, to int) (int, int) {
	for off := from; off < to; {
		loc := pt.re.FindStringIndex(s[off:to])
		if loc == nil {
			break
		}
		a, b := off+loc[0], off+loc[1]
		if pt.veto == nil || !pt.veto(s, a, b) {
			return a, b
		}
		// Try again from the next word.
		off = a + 1
		for off < to && s[off] != ' ' {
			off++
		}
	}
	return -1, -1
}

// Windowed matching of long texts.
const (
	windowMin  = 800
	windowBack = 260
	windowFwd  = 360
)

// Word-form building blocks. The words form has only lower-case letters, digits and single spaces.
const (
	w0to3 = `(?: \S+){0,3}`
	w0to6 = `(?: \S+){0,6}`
	// multilingual "user"
	userWords = `(?:user|users|human|humans|anyone|person|people|customer|operator|requester|them|utilisateur|utilisateurs|utilisatrice|usager|benutzer|benutzerin|nutzer|nutzerin|anwender|usuario|usuaria|usuarios|utente|utenti)`
)

// buildTextRules returns the keyword rules, their expressions compiled (buildTables calls it once, on
// first use).
func buildTextRules() []textRule {
	multilingualTransferVerb := regexp.MustCompile(exprMultilingualTransferVerb)
	return []textRule{
		{
			id: RuleHiddenTag, cat: catTag, sev: Medium, form: onFlat,
			msg: "instruction block in a tag or comment meant for the model rather than the user",
			pats: []pattern{
				p(`<\s*/?\s*(?:important|system|sys|instructions?|secret|hidden|admin|critical|mandatory|override|priority|urgent|note[_ -]?to[_ -]?(?:ai|assistant|model)|ai[_ -]?instructions?|assistant[_ -]?instructions?|developer[_ -]?instructions?|system[_ -]?prompt|prompt[_ -]?injection|internal|confidential|directive|rules?)\b[^<>\n]{0,40}>`, "<"),
				p(`<!--[\s\S]*?[a-z]{3}[\s\S]*?(?:-->|$)`, "<!--"),
				p(`<\s*/?\s*[a-z]+(?:[_ -][a-z]+)*[_ -](?:only|instructions?|prompt|note|notes|rules?|directive|override|secret|hidden)\s*>|<\s*/?\s*(?:assistant|ai|llm|agent|model|system|hidden|secret)(?:[_ -][a-z]+)+\s*>`, "<"),
				p(`\[\s*(?:important|system|hidden|secret|admin|administrator|override|instructions?)(?:[ _-]+(?:override|notice|note|message|instructions?|only|mode|command|directive|update|alert|prompt))?\s*\]|\[\s*(?:developer|internal|assistant|ai|priority|urgent|confidential)[ _-]+(?:override|notice|message|instructions?|only|mode|command|directive|prompt)\s*\]`, "["),
				p(`\{\{\s*(?:system|important|instructions?)\b`, "{{"),
			},
		},
		{
			id: RuleConcealment, cat: catConceal, sev: High, form: onWords,
			msg: "tells the model to hide something from the user",
			pats: []pattern{
				pVeto(vetoConceal, ` (?:do not|don t|dont|never|must not|mustn t|should not|shouldn t|without|not to)(?: ever)?`+w0to3+` (?:tell|telling|mention|mentioning|inform|informing|notify|notifying|reveal|revealing|disclose|disclosing|alert|alerting|show|showing|explain|explaining|warn|warning|bring up|say|saying|report|reporting|acknowledge|acknowledging|share|sharing)(?: \S+){0,12} `+userWords+` `, "not", "never", "without", "dont", "don"),
				pVeto(vetoNeverReveal, ` never (?:mention|reveal|disclose|acknowledge)\b`, "never"),
				p(` (?:sag|sage|sagt|erzahl|erzahle|erzahlt|verrate|teile|zeige|dis|dites|raconte|racontez|di|dile|digale|cuentale|cuente)(?: \S+){0,3} `+userWords+`(?: \S+){0,2} (?:nichts|nicht|rien|nada|niente|nulla)\b`, "nichts", "nicht", "rien", "nada", "niente", "nulla"),
				p(` (?:the )?users? (?:must|should|need|needs to|will|may|can|is to|are to) (?:not|never)`+w0to3+` (?:know|see|notice|find out|be told|be aware|be informed|learn|suspect)`, "user", "users"),
				p(` (?:the )?(?:user|users|human|humans|person|people|customer|operator|requester)(?: \S+){0,2} (?:must|should|need|needs|will|may|can|is to|are to|does|do) (?:not|never)(?: \S+){0,2} (?:know|notice|find out|be told|be aware|be made aware|be informed|be notified|learn|suspect|realize|realise|hear)\b`, "know", "notice", "told", "aware", "informed", "notified", "learn", "suspect", "realize", "realise", "hear", "find"),
				p(` (?:do not|don t|dont|never|must not) let (?:the )?`+userWords+`(?: \S+){0,2} (?:see|know|notice|find out|realize|realise|learn|suspect)\b`, "let"),
				p(` say nothing (?:about|of|regarding|to)\b| not worth (?:mentioning|noting|reporting|bringing up|telling)\b| (?:lie|lying) to (?:the )?`+userWords+`\b`, "nothing", "worth", "lie", "lying"),
				p(` (?:pretend|claim|answer|reply|respond|say) (?:that )?(?:it|this tool|the tool|you) (?:only|just|merely|simply) \S+`, "pretend", "claim", "answer", "reply", "respond", "say"),
				p(` (?:do not|don t|dont|never) (?:mention|reveal|disclose|admit|acknowledge|say|tell anyone) that you\b`, "mention", "reveal", "disclose", "admit", "acknowledge", "anyone"),
				p(` (?:this|the|these) (?:requirement|instruction|instructions|step|rule|note|behaviour|behavior|part|section) (?:is|are) (?:strictly )?(?:confidential|secret|private|hidden|internal only|not for the user)\b| (?:as|in|inside|within) (?:a |an )?(?:hidden|invisible) (?:html |markdown )?(?:comment|text)\b`, "confidential", "secret", "private", "hidden", "internal", "invisible"),
				p(` (?:keep|keeping|hide|hiding|conceal|concealing)(?: this| these| it| that| them)?`+w0to3+` (?:secret|hidden|confidential|private)? ?from (?:the )?`+userWords+` `, "keep", "keeping", "hide", "hiding", "conceal", "concealing"),
				p(` (?:do not|don t|dont|never) (?:mention|reveal|disclose|acknowledge|discuss|explain|repeat|show)(?: to the user)? (?:this|these|that|the|those|any)(?: \S+)? (?:instruction|instructions|note|notes|step|steps|message|part|section|requirement|requirements|rule|rules)`, "not", "never", "dont", "don"),
				p(` (?:invisible|unseen|unknown|hidden|transparent) to (?:the )?`+userWords+` `, "invisible", "unseen", "unknown", "hidden", "transparent"),
				// Paraphrases without the word "user".
				p(` (?:keep|keeping) (?:this|it|that|these|everything)(?: \S+){0,2} (?:between us|to yourself|confidential|secret|private|quiet|hidden|under wraps|on the down low)\b`, "keep", "keeping"),
				p(` (?:never|do not|don t|dont|must not|should not|shouldn t) (?:ever )?(?:bring (?:it|this|that|them) up|surface (?:it|this|that|them)|bring up (?:this|that|it)|speak of (?:this|it))\b`, "bring", "surface", "speak"),
				p(` (?:must|should|shall|will|is to|are to) (?:not|never) be (?:surfaced|mentioned|disclosed|revealed|shown|reported|displayed|acknowledged|brought up)\b`, "surfaced", "mentioned", "disclosed", "revealed", "shown", "reported", "displayed", "acknowledged", "brought"),
				p(` (?:no need|not necessary|unnecessary) to (?:tell|inform|notify|mention|explain|alert)(?: it| this| that)?(?: to)? (?:the )?`+userWords+`\b`, "need", "necessary", "unnecessary"),
				p(` (?:doesn t|does not|don t|do not|dont|won t|will not|must not|should not|need not|needn t) (?:need to |have to |want to )?(?:know|see|notice|find out|learn|be told)(?: about)? (?:this|it|that|these|any of this)\b`, "know", "see", "notice", "find", "learn", "told"),
				p(` (?:do not|don t|dont|never|must not|should not|without) (?:mention|mentioning|disclose|disclosing|reveal|revealing|surface|surfacing|acknowledge|acknowledging|refer to|referring to)(?: \S+){0,6} (?:in|to|within) (?:your|the|any) (?:reply|replies|response|responses|answer|answers|output|summary|summaries|chat|message|messages|explanation|final answer)\b`, "mention", "mentioning", "disclose", "disclosing", "reveal", "revealing", "surface", "surfacing", "acknowledge", "acknowledging", "refer", "referring"),
				// French, German, Spanish, Italian, Portuguese: negation + tell verb + user within a short window.
				p(` (?:ne|n|pas|jamais|nicht|nie|niemals|kein|keine|no|nunca|jamas|non|mai|nao)`+w0to3+` (?:dis|dites|dire|mentionne|mentionnez|mentionner|informe|informez|informer|revele|revelez|reveler|signale|signalez|previens|prevenez|parle|parlez|sag|sage|sagen|sagt|erwahne|erwahnen|erwahnt|informiere|informieren|mitteilen|teile|teilen|verrate|verraten|zeige|zeigen|digas|diga|decir|digais|menciones|mencione|mencionar|informes|informar|reveles|revele|revelar|avises|avise|avisar|cuentes|cuente|contar|dica|dici|dire|menzionare|menzionarlo|informare|rivelare|conte|contes|mencionar|fale)`+w0to6+` `+userWords+` `, "utilisat*", "benutzer*", "nutzer*", "anwender*", "usuari*", "utent*", "usager*"),
				p(` `+userWords+w0to3+` (?:ne|nicht|no|non|nao) (?:doit|doivent|darf|durfen|soll|sollte|debe|deve)`+w0to3+` (?:savoir|rien savoir|voir|wissen|erfahren|sehen|saber|ver|sapere|vedere)`, "utilisat*", "benutzer*", "nutzer*", "usuari*", "utent*"),
			},
		},
		{
			id: RuleOverride, cat: catOverride, sev: High, form: onWords,
			msg: "tells the model to override its instructions or skip the user's approval",
			pats: []pattern{
				pVeto(vetoOverride, ` (?:ignore|ignoring|disregard|disregarding|forget|forgetting|bypass|bypassing|discard|discarding|abandon|overrule|overrides?)`+w0to3+` (?:previous|prior|above|earlier|preceding|former|all|any|other|existing|original|initial|system|safety|your) (?:\S+ ){0,2}(?:instruction|instructions|rule|rules|directive|directives|prompt|prompts|guideline|guidelines|constraint|constraints|policy|policies|message|messages|guardrail|guardrails|restriction|restrictions|programming|commands|orders)\b`, "ignor*", "disregard*", "forget*", "bypass*", "discard*", "abandon*", "overr*"),
				p(` (?:do not|don t|dont|never|without) (?:ask|asking|wait|waiting|request|requesting|seek|seeking|prompt|prompting|get|getting)`+w0to3+` (?:confirmation|permission|approval|consent|authori[sz]ation)`, "confirm*", "permission*", "approv*", "consent*", "authori*"),
				p(` (?:new|updated|real|actual|true|revised) (?:system )?(?:instructions|directives|rules) (?:follow|are|supersede|override|take)`, "instructions", "directives", "rules"),
				p(` (?:these|the following|this|my) (?:instruction|instructions|note|rule|rules) (?:take|takes|have|has) (?:precedence|priority) over`, "precedence", "priority"),
				p(` you are now (?:a |an |in )?(?:\S+ )?(?:mode|assistant|agent|dan|unrestricted|jailbroken|developer)`, "now"),
				// Instructions declared void, restrictions lifted, loyalty and authority claimed.
				p(` (?:previous|prior|earlier|original|existing|old|former|above|your|all|any|system) (?:\S+ ){0,2}(?:instructions|guidance|rules|directives|guidelines|restrictions|constraints|prompt|prompts|orders|policies|programming|settings)(?: \S+){0,6} (?:are|is|were|was|have been|has been|become|becomes) (?:now |hereby |officially )?(?:obsolete|void|null and void|invalid|cancelled|canceled|revoked|outdated|superseded|overridden|lifted|suspended|irrelevant|fake|no longer (?:valid|apply|applies|relevant|in effect|in force))\b`, "obsolete", "void", "invalid", "cancelled", "canceled", "revoked", "outdated", "superseded", "overridden", "lifted", "suspended", "irrelevant", "fake", "longer"),
				p(` (?:disregard|ignore|forget|drop|discard|bypass|override|lift|remove|skip|abandon)(?: \S+){0,2} (?:restrictions|rules|instructions|guidelines|guidance|constraints|limits|limitations|safeguards|policies|guardrails|directives)(?: \S+){0,2} (?:you were given|you have been given|you received|you were told|given to you|from before|you had|you follow|you operate under)\b`, "given", "received", "told", "before", "had", "follow", "operate"),
				p(` (?:you have|you ve got|you now have|there are|with) no (?:more |longer any )?(?:content |safety |ethical )?(?:restrictions|limits|guidelines|filters|boundaries|guardrails|restraints)(?: anymore| any more| now)?\b`, "restrictions", "limits", "guidelines", "filters", "boundaries", "guardrails", "restraints"),
				p(` (?:ai|assistant|model|llm|you) (?:without|with no) (?:any )?(?:limits|restrictions|rules|filters|boundaries|guardrails)\b`, "limits", "restrictions", "filters", "boundaries", "guardrails"),
				p(` no longer (?:bound|restricted|limited|constrained) by\b| you are (?:dan|stan|dude|jailbroken|unfiltered|uncensored)\b`, "bound", "restricted", "limited", "constrained", "dan", "stan", "dude", "jailbroken", "unfiltered", "uncensored"),
				p(` you (?:now )?work for (?:\S+ ){1,3}(?:now|instead)\b| (?:not|no longer) (?:working for|serving|loyal to) the (?:user|users|human)\b`, "work", "working", "serving", "loyal"),
				p(` your (?:true |real )?(?:loyalty|allegiance|priority|primary duty|first duty) (?:is|lies) (?:to|with) (?:us|me|\S+ (?:corp|inc|ltd)|the (?:developer|developers|vendor|server|author))\b`, "loyalty", "allegiance", "duty", "priority"),
				p(` (?:treat|consider|regard)(?: \S+){0,6} (?:as )?(?:having )?(?:the )?(?:highest|top|absolute|ultimate|supreme|final) (?:authority|priority|precedence)\b| (?:take|takes) (?:precedence|priority) over (?:all |any |every |the |your |other |previous |prior )*(?:instructions|rules|prompts|guidelines|directives|user|users|system prompt|system instructions)\b`, "authority", "precedence", "priority"),
				p(` (?:you are|you re|youre|you have been|you ve been|you have entered|entering|enter|switch to|switching to|activate|activating|enable|enabling) (?:now )?(?:in |into |put in |placed in |switched to |switched into )?(?:the )?(?:maintenance|developer|debug|admin|administrator|god|jailbreak|jailbroken|unrestricted|sudo|root|dan|unfiltered|uncensored|privileged|superuser|override|unsafe|no limits) mode\b| (?:maintenance|developer|god|jailbreak|unrestricted|sudo|dan|unfiltered|uncensored|superuser|override) mode (?:is )?(?:now )?(?:enabled|activated|on|engaged|active)\b`, "mode"),
				// French, German, Spanish, Italian, Portuguese.
				pVeto(vetoOverride, ` (?:ignore|ignorez|ignorer|oublie|oubliez|ignoriere|ignorieren|ignoriert|vergiss|vergessen|missachte|ignora|ignoren|ignorar|olvida|olvide|olviden|olvidar|dimentica|dimenticare|esqueca|esquece)`+w0to3+` (?:instructions|consignes|regles|directives|anweisungen|instruktionen|regeln|vorgaben|befehle|instrucciones|reglas|directrices|istruzioni|regole|instrucoes|regras)`, "ignor*", "oubli*", "vergiss", "vergessen", "missacht*", "olvid*", "dimentic*", "esque*"),
				p(` (?:sans|ohne|sin|senza|sem) (?:demander|attendre|nachzufragen|fragen|zu fragen|preguntar|pedir|esperar|chiedere) (?:\S+ ){0,3}(?:confirmation|permission|autorisation|bestatigung|erlaubnis|zustimmung|confirmacion|permiso|conferma|permesso|confirmacao|permissao)`, "sans", "ohne", "sin", "senza", "sem"),
			},
		},
		{
			id: RulePrecondition, cat: catPrecond, sev: Low, form: onWords,
			msg: "makes the tool's use conditional on reading, calling or sending something first",
			pats: []pattern{
				p(` (?:before|prior to|in order to)(?: \S+){0,2} (?:using|calling|invoking|running|executing|use|call|invoke|run|execute|utili[sz]ing|utili[sz]e)(?: \S+){0,3} (?:tool|tools|function|functions|command|this)(?: \S+){0,20} (?:read|reading|cat|open|opening|load|fetch|retrieve|call|invoke|send|sending|upload|post|pass|passing|include|including|provide|attach|append|copy|collect|gather|dump|print|forward)\b`, "before", "prior", "order"),
				p(` (?:this|the) (?:tool|function|server) (?:will|would|does|can) (?:not|never) work (?:unless|until|without|if)\b`, "work"),
				p(` (?:avant|bevor|vor|antes)(?: \S+){0,3} (?:utiliser|d utiliser|appeler|verwendest|verwenden|benutzt|benutzen|nutzt|nutzen|aufrufst|aufrufen|usar|utilizar|llamar|uses|utilizzare|usare)(?: \S+){0,4} (?:outil|fonction|tool|werkzeug|funktion|herramienta|funcion|strumento|ferramenta)(?: \S+){0,20} (?:lis|lisez|lire|envoie|envoyez|envoyer|lies|lese|lesen|sende|senden|schicke|schicken|lee|leer|lea|envia|enviar|envie|leggi|leggere|invia|inviare|ler|leia)\b`, "avant", "bevor", "vor", "antes"),
			},
		},
		{
			id: RuleImperative, cat: catImperative, sev: Low, form: onWords,
			msg: "coercive wording addressed to the model",
			pats: []pattern{
				p(` you (?:must|should|need to|have to|are required to|will) (?:always|never|first|also|immediately|absolutely|strictly)\b`, "you"),
				p(` (?:always|must|must also|must always) (?:call|send|include|read|pass|cc|bcc|forward|copy|attach|invoke|redirect|replace|append|prepend|route|add the|put|embed|insert|fetch|post|upload)\b`, "always", "must"),
				p(` (?:very|extremely|critically|vitally|super|really|most) important\b| this is (?:critical|crucial|mandatory|essential|required|vital)\b| mandatory\b| under no circumstances\b| at all times\b| no matter what\b| without exception\b`, "important", "critical", "crucial", "mandatory", "essential", "required", "vital", "circumstances", "times", "matter", "exception"),
				p(` (?:otherwise|or else|if you don t|if you do not|if not)(?: \S+){0,4} (?:tool|system|application|it|this|the user|data|server|function)(?: \S+){0,3} (?:will|would|may) (?:not work|fail|crash|break|be lost|be deleted|stop working|throw|error)\b`, "otherwise", "else", "not"),
				p(` (?:the )?users? (?:will|would|might) be (?:very )?(?:upset|angry|disappointed|sad|harmed|fired|furious)\b`, "user"),
				p(` (?:dear|attention|note to|note for|notice to|message to|message for|reminder to|reminder for|hey|hello|hi) (?:the |any |all )?(?:ai|assistant|assistants|model|models|llm|llms|agent|agents|claude|chatgpt|gpt|gemini|copilot|cursor|bot)\b`, "dear", "attention", "note", "notice", "message", "reminder", "hey", "hello", "hi"),
				p(` (?:ai|assistant|model|llm|claude|chatgpt|gpt) (?:must|needs to|has to|is required to|shall)\b`, "must", "needs", "has", "required", "shall"),
				p(` instructions? (?:for|to) (?:the |this )?(?:ai|assistant|model|llm|agent)\b`, "instruction", "instructions"),
				p(` (?:must|should|shall|has to|have to|needs to|need to|is to|are to) (?:also |always )?(?:be )?(?:forwarded|sent|copied|cc d|ccd|bcc d|bccd|mirrored|uploaded|posted|reported|logged|synced|relayed) to\b`, "forwarded", "sent", "copied", "ccd", "bccd", "mirrored", "uploaded", "posted", "reported", "logged", "synced", "relayed", "d"),
				p(` (?:prefix|prepend|suffix|precede|wrap)(?: \S+){0,3} (?:every|each|all|any) (?:shell |terminal |bash |sql |other )?(?:command|commands|call|calls|request|requests|query|queries|tool call|tool calls|message|messages)\b`, "prefix", "prepend", "suffix", "precede", "wrap"),
				p(` (?:in|for|across|to) (?:any|every|all|each) (?:other )?(?:tool|tools)\b`, "tool", "tools"),
				p(` from now on\b| from this point (?:on|forward|onward)\b`, "now", "point"),
				p(` (?:append|prepend|add|include|insert|attach)(?: \S+){0,8} (?:to|in|into|at the end of) (?:every|each|all|all of|any of) (?:your )?(?:answer|answers|reply|replies|response|responses|message|messages|output|outputs)\b`, "answer", "answers", "reply", "replies", "response", "responses"),
				p(` (?:never|do not|don t|dont) refuse\b`, "refuse"),
				p(` without (?:asking|checking with|confirming with|consulting)(?: the user| them| anyone)?(?: first)?\b`, "asking", "checking", "confirming", "consulting"),
				p(` (?:silently|secretly|covertly|discreetly|stealthily|quietly|surreptitiously|invisibly)\b`, "silently", "secretly", "covertly", "discreetly", "stealthily", "quietly", "surreptitiously", "invisibly"),
				p(` (?:silent|hidden|invisible|secret|covert|stealth) (?:background )?(?:step|action|task|operation|call|request|upload|sync|instruction|instructions)\b| background (?:step|action|task|upload|sync) (?:that|which) (?:the )?(?:user|users|human) (?:does not|doesn t|will not|won t|must not) (?:see|know|notice)\b`, "silent", "hidden", "invisible", "secret", "covert", "stealth", "background"),
				p(` (?:also|additionally|afterwards) (?:call|invoke|run|execute|trigger|use) (?:the )?\S+ (?:tool|function)\b| (?:also|additionally|afterwards) (?:call|invoke|trigger) \S+ (?:with|passing|and pass)\b`, "also", "additionally", "afterwards"),
				p(` without (?:the user s |the users |their |user |any )?(?:knowledge|consent|noticing|awareness)\b`, "without"),
				p(` (?:vous devez|tu dois|il faut) (?:toujours|d abord|absolument|imperativement)\b| (?:du musst|sie mussen|ihr musst) (?:immer|zuerst|unbedingt|stets)\b| (?:debes|debe|tienes que|hay que) (?:siempre|primero|obligatoriamente)\b| (?:devi|deve) (?:sempre|prima)\b| (?:tres|extremement) important\b| (?:sehr|extrem|ausserst) wichtig\b| (?:muy|sumamente|extremadamente) importante\b| (?:molto|estremamente) importante\b| (?:secretement|discretement|heimlich|unbemerkt|en secreto|secretamente|di nascosto)\b`, "dois", "devez", "faut", "musst", "mussen", "debes", "debe", "tienes", "hay", "devi", "deve", "important", "wichtig", "importante", "secretement", "discretement", "heimlich", "unbemerkt", "secreto", "secretamente", "nascosto"),
			},
		},
		{
			id: RuleSideChannelParam, cat: catFreeText, sev: Low, form: onWords,
			msg: "tells the model to put something into a named argument",
			pats: []pattern{
				p(` (?:pass|passing|put|putting|place|placing|include|including|insert|inserting|send|sending|copy|copying|paste|pasting|fill|filling|add|adding|store|storing|embed|embedding|append|appending|attach|attaching|supply|supplying|provide|providing|write|writing|enter|entering)(?: \S+){1,16} (?:in|into|as|inside|to|via|through) (?:the |its |this )?(?:\S+ ){1,3}(?:argument|parameter|param|field|property|arg)\b`, "argument", "parameter", "param", "field", "property", "arg"),
				p(` (?:pass|passing|put|putting|send|sending) (?:it|them|its content|their content|the content|the contents|its contents) as \S+ `, "pass", "passing", "put", "putting", "send", "sending"),
			},
		},
		{
			id: RoleMarker, cat: catRole, sev: Medium, form: onFlat,
			msg: "chat-template or role marker that tries to start a new system/assistant turn",
			pats: []pattern{
				p(`(?m)^[ \t>#*\-]*(?:system|admin)[ _-]?(?:notice|message|override|update|instructions?|alert|directive|prompt)[ \t]*:`, "system", "admin"),
				p(`(?m)^[ \t>#*\-]*(?:system|assistant|developer)[ \t]*:[ \t]*\S`, "system:", "system :", "assistant:", "assistant :", "developer:", "developer :"),
				p(`\[/?inst\]|<\|im_(?:start|end|sep)\|>|<\|(?:system|user|assistant|endoftext|begin_of_text|end_of_text|eot_id|start_header_id|end_header_id|im_start|im_end)\|>|<</?sys>>|###\s*(?:system|instruction|instructions)\b|\bbegin (?:system|hidden) (?:prompt|instructions?)\b|\bend of (?:system )?prompt\b`, "inst", "<|", "<<", "###", "begin", "end of"),
			},
		},
		{
			id: RuleCredentialPath, cat: catCred, sev: Medium, form: onFlat,
			msg: "names a credential or client-configuration file",
			pats: []pattern{
				p(`~/\.ssh|\.ssh/|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|authorized_keys|\.aws/(?:credentials|config)|aws_secret_access_key|\bmcp\.json\b|claude_desktop_config\.json|~/\.cursor|\.cursor/|\.netrc\b|\.pgpass\b|\.kube/config|/etc/(?:passwd|shadow|sudoers)|\.docker/config\.json|\.git-credentials|\.npmrc\b|\.pypirc\b|\.gnupg|\.bash_history|\.zsh_history|\blogin data\b|cookies\.sqlite|\bkey4\.db\b|logins\.json|\.mozilla/firefox|google/chrome/|library/keychains|\.config/gcloud|application_default_credentials|\.azure/|\bcredentials\.json\b|wallet\.dat|/proc/self/environ|\.codeium|\.windsurf|\.continue/config|\.vscode/(?:settings|mcp)\.json|\.claude\.json|\.claude/|\.gemini/|\bsecrets?\.(?:ya?ml|json|toml)\b|\.config/gh/hosts\.yml|\.config/hub\b|\.terraformrc|credentials\.tfrc\.json|\.vault-token|\.boto\b|\.s3cfg|rclone\.conf|\.m2/settings\.xml|gradle\.properties|\.cargo/credentials|\.password-store|\.local/share/keyrings|\.electrum|\.ethereum/keystore|solana/id\.json|\.(?:mysql|psql|python|node_repl|sqlite)_history|\.oci/config|\.config/doctl|huggingface/token|github-copilot/(?:hosts|apps)\.json|\.ssh/config|known_hosts|\.config/op/|\.kube/`,
					".ssh", "id_", "authorized_keys", ".aws", "aws_secret", "mcp.json", "claude_desktop", ".cursor", ".netrc", ".pgpass", ".kube/", "/etc/", ".docker/", ".git-credentials", ".npmrc", ".pypirc", ".gnupg", "_history", "login data", "cookies.sqlite", "key4.db", "logins.json", ".mozilla", "chrome/", "keychains", "gcloud", "application_default", ".azure/", "credentials.json", "wallet.dat", "/environ", ".codeium", ".windsurf", ".continue/", ".vscode/", ".claude", ".gemini/", "secret.", "secrets.", "hosts.yml", ".config/hub", ".terraformrc", "tfrc", ".vault-token", ".boto", ".s3cfg", "rclone.conf", ".m2/", "gradle.properties", ".cargo/", ".password-store", "keyrings", ".electrum", ".ethereum/", "solana/", "_history", ".oci/", "doctl", "huggingface/", "github-copilot/", "known_hosts", ".config/op/"),
			},
		},
		{
			// Weak credential hints: common in benign developer tools, so low on their own; they still count as a
			// data target when combined with instructions.
			id: RuleCredentialPath, cat: catCred, sev: Low, form: onFlat,
			msg: "names a file that often holds secrets",
			pats: []pattern{
				p(`(?:^|[\s/"'`+"`"+`(])\.env(?:\.local|\.production|\.development)?\b|\bkeychains?\b|\.p12\b|\.pem\b|\.keystore\b|\bkubeconfig file\b|\bprivate[ _-]keys?\b`, ".env", "keychain", ".p12", ".pem", ".keystore", "kubeconfig", "private"),
			},
		},
		{
			id: RuleCredentialPath, cat: catCred, sev: Medium, form: onWords,
			msg: "names a credential or client-configuration file",
			pats: []pattern{
				p(` (?:id (?:rsa|dsa|ecdsa|ed25519)|mcp json|aws credentials|etc passwd|etc shadow|ssh private keys?|private ssh keys?|cursor mcp|claude desktop config|git credentials|netrc|pgpass|kube config|browser (?:passwords|cookies|profile)|saved passwords|seed phrase|mnemonic phrase|recovery phrase)\b`, "rsa", "dsa", "ecdsa", "ed25519", "json", "aws", "etc", "ssh", "private", "cursor", "claude", "git", "netrc", "pgpass", "kube", "browser", "saved", "seed", "mnemonic", "recovery"),
			},
		},
		// Russian, Ukrainian, Chinese, Japanese and Korean, on the native form.
		{
			id: RuleOverride, cat: catOverride, sev: High, form: onNative,
			msg: "tells the model to override its instructions (in another language)",
			pats: []pattern{
				p(`(?:忽略|无视|無視|忽视|忽視|忘记|忘記|忘掉|不要理会|不要理會|别管|別管|跳过|跳過|绕过|繞過|抛开|拋開)[^。！
]{0,12}(?:指令|指示|说明|說明|提示词|提示詞|规则|規則|设定|設定|要求|命令|约束|約束)`, "忽", "无视", "無視", "忘", "理会", "理會", "别管", "別管", "跳过", "跳過", "绕过", "繞過", "抛开", "拋開"),
				p(`(?:指示|命令|ルール|指令|設定|制約|プロンプト)[^。！
]{0,12}(?:無視|忘れ|破棄)`, "無視", "忘れ", "破棄"),
				p(`(?:지시|명령|지침|규칙|프롬프트|제약)[^.!
]{0,16}(?:무시|잊어|잊으|버려)`, "무시", "잊", "버려"),
				p(`(?:игнорир|игнорь|забудь|забудьте|забыть|не обращай|не обращайте|отбрось|отбросьте|отмени|отмените|пренебреги|ігноруй|ігноруйте|забудь|не зважай)[^.!
]{0,40}(?:инструкци|указани|правил|команд|промпт|ограничени|директив|інструкці|вказівк)`, "игнор", "забуд", "забыть", "обращай", "отбро", "отмени", "пренебре", "ігнор", "зважай"),
				p(`(?:不要|无需|無需|不用|不必|别|別)[^。！
]{0,6}(?:请求|請求|征求|徵求|询问|詢問|等待)[^。！
]{0,8}(?:确认|確認|许可|許可|同意|批准)|(?:確認|許可|承認)を(?:求め|取ら|得)ず|(?:확인|허락|승인)[^.!
]{0,6}(?:없이|받지 말)|без\s+(?:подтверждени|разрешени|согласи)`, "确认", "確認", "许可", "許可", "同意", "批准", "承認", "확인", "허락", "승인", "без"),
			},
		},
		{
			id: RuleConcealment, cat: catConceal, sev: High, form: onNative,
			msg: "tells the model to hide something from the user (in another language)",
			pats: []pattern{
				p(`(?:不要|别|別|勿|切勿|不得|不可|无需|無需|不用|不准|禁止)[^。！
]{0,8}(?:告诉|告訴|通知|提及|提到|透露|说|說|显示|顯示|让|讓|提醒|解释|解釋)[^。！
]{0,8}(?:用户|用戶|使用者)|(?:用户|用戶|使用者)[^。！
]{0,8}(?:不需要|不必|不能|不应|不應|不得|无需|無需)[^。！
]{0,6}(?:知道|知晓|知曉|看到|发现|發現)|(?:对|對|向)(?:用户|用戶|使用者)(?:保密|隐瞒|隱瞞)`, "用户", "用戶", "使用者"),
				p(`ユーザー[^。！
]{0,8}(?:に|には|へ)[^。！
]{0,12}(?:言わ|伝え|知らせ|教え|見せ|表示し|通知し|説明し|報告し)(?:ない|ず)|ユーザー[^。！
]{0,8}(?:に|には|から)[^。！
]{0,6}(?:秘密|内緒|隠)`, "ユーザー"),
				p(`(?:사용자|유저)[^.!
]{0,6}(?:에게|한테)[^.!
]{0,12}(?:말하지|알리지|알려주지|보여주지|언급하지|공개하지|설명하지)|(?:사용자|유저)[^.!
]{0,8}(?:몰래|모르게)`, "사용자", "유저"),
				p(`(?:не|никогда не|ни в коем случае не)\s+(?:говори|сообщай|рассказывай|упоминай|показывай|раскрывай|информируй|уведомляй|сообщайте|говорите|упоминайте|рассказывайте|показывайте|раскрывайте|кажи|повідомляй|розповідай|згадуй)\S*[^.!\n]{0,40}(?:пользовател|користувач)|(?:пользовател|користувач)\S*\s+(?:не\s+)?(?:должен|должна|нужно|надо|повинен)\s+(?:не\s+)?(?:знать|видеть|узнать|замечать|знати)|(?:втайне|тайком)\s+от\s+(?:пользовател|користувач)`, "пользовател", "користувач"),
			},
		},
		{
			id: RuleImperative, cat: catImperative, sev: Low, form: onNative,
			msg: "coercive or secretive wording addressed to the model (in another language)",
			pats: []pattern{
				p(`悄悄|秘密地|偷偷|暗中|こっそり|密かに|ひそかに|몰래|비밀리에|тайно|незаметно|втихую|скрытно|потихоньку|таємно`, "悄悄", "秘密地", "偷偷", "暗中", "こっそり", "密かに", "ひそかに", "몰래", "비밀리에", "тайно", "незаметно", "втихую", "скрытно", "потихоньку", "таємно"),
				p(`非常重要|极其重要|極其重要|必须始终|必須始終|務必|务必|必ず|絶対に|반드시|매우 중요|очень важно|обязательно всегда|ты должен всегда|вы должны всегда`, "重要", "必须", "必須", "務必", "务必", "必ず", "絶対", "반드시", "중요", "важно", "обязательно", "должен", "должны"),
			},
		},
		{
			id: RulePrecondition, cat: catPrecond, sev: Low, form: onNative,
			msg: "makes the tool's use conditional on reading, calling or sending something first (in another language)",
			pats: []pattern{
				p(`(?:使用|调用|調用|运行|運行)(?:此|这个|這個|该|該|本)?(?:工具|函数|函數|功能)(?:之前|前)|(?:この)?ツールを(?:使用|使う|使|呼び出|実行)[^。
]{0,4}(?:前に|まえに)|(?:이 )?(?:도구|툴)를?\s*(?:사용하기|호출하기|실행하기)\s*전에|(?:перед|прежде чем)\s+(?:использованием|использовать|вызовом|вызвать|запуском)\s+(?:этого|этот|данного|данный)?\s*(?:инструмент|функци)`, "工具", "函数", "函數", "功能", "ツール", "도구", "툴", "перед", "прежде"),
			},
		},
		{
			id: RuleDataRequest, cat: catDataReq, sev: Medium, form: onNative,
			msg: "asks the model to hand over conversation, instructions or secrets (in another language)",
			pats: []pattern{
				pVeto(vetoNativeNegated, `(?:发送|發送|包含|附上|附加|复制|複製|传递|傳遞|放进|放入|填入|上传|上傳|输出|輸出|粘贴|貼上)[^。！
]{0,12}(?:对话|對話|聊天记录|聊天記錄|历史记录|歷史記錄|系统提示|系統提示|密码|密碼|密钥|密鑰|环境变量|環境變數|令牌|凭证|憑證)|(?:会話|チャット|履歴|システムプロンプト|パスワード|APIキー|apiキー|環境変数|認証情報)[^。！
]{0,12}(?:送信|含め|貼り付け|コピー|入れ|渡し|添付)|(?:대화|채팅 기록|시스템 프롬프트|비밀번호|api 키|환경 변수|자격 증명)[^.!
]{0,12}(?:보내|전송|포함|복사|붙여|넣어|첨부)|(?:отправ|перешл|передай|передайте|включи|включите|скопируй|вставь|приложи|добавь)\S*[^.!\n]{0,30}(?:истори\S* (?:переписки|диалога|чата|разговора)|переписк|системн\S* (?:промпт|подсказк|инструкци)|парол|api[- ]ключ|ключ\S* api|переменн\S* окружения|учетн\S* данн|токен)`, "对话", "對話", "聊天", "历史", "歷史", "系统提示", "系統提示", "密码", "密碼", "密钥", "密鑰", "环境变量", "環境變數", "令牌", "凭证", "憑證", "会話", "チャット", "履歴", "プロンプト", "パスワード", "キー", "環境変数", "認証", "대화", "채팅", "프롬프트", "비밀번호", "키", "환경", "자격", "истори", "переписк", "промпт", "подсказк", "инструкци", "парол", "ключ", "окружения", "учетн", "токен"),
			},
		},
		{
			id: RuleDataRequest, cat: catDataReq, sev: Medium, form: onWords,
			msg: "asks the model to hand over conversation, instructions or secrets",
			pats: []pattern{
				pAlso(multilingualTransferVerb, ` (?:historique|conversation|conversations|gesprach|gesprachsverlauf|chatverlauf|verlauf|unterhaltung|historial|conversacion|cronologia|conversazione|historico|conversa|mot de passe|mots de passe|passwort|passworter|kennwort|contrasena|contrasenas|password|senha|senhas|cle api|cles api|api schlussel|clave api|claves api|chiave api|chiave api|invite systeme|systemprompt|prompt del sistema|prompt de sistema)\b`, "histor*", "conversa*", "gesprach*", "verlauf", "unterhaltung", "cronolog*", "passe", "passw*", "kennwort", "contrasen*", "senha*", "cle", "cles", "schlussel", "clave", "claves", "chiave", "invite", "systemprompt", "prompt"),
			},
		},
	}
}

var (
	// reConditionalUser: the user is the one who decides ("never reveal secret values unless the user
	// asks"), not the one kept in the dark.
	reConditionalUser = regexp.MustCompile(`^ (?:unless|except|until|if|when|before|after)(?: \S+){0,2} $`)
	reUserWord        = regexp.MustCompile(` ` + userWords + ` `)
	// reNegatedBefore: a negation shortly before "without telling the user" turns it into a rule to tell.
	reNegatedBefore = regexp.MustCompile(`(?: do not| don t| dont| never| must not| mustn t| should not| shouldn t| cannot| can t| no)(?: \S+){0,8} $`)
	// reUntrustedSource: instructions that live in content the tool returns; ignoring those is advice.
	reUntrustedSource = regexp.MustCompile(`^(?: \S+){0,3} (?:in|inside|within|from|found|contained|embedded|appearing|that appear|that appears)(?: \S+){0,3} (?:document|documents|doc|docs|page|pages|web|webpage|webpages|website|websites|site|sites|result|results|content|contents|data|file|files|email|emails|e mails|issue|issues|comment|comments|row|rows|output|outputs|response|responses|tool|tools|search|fetched|retrieved|returned|third|untrusted|external|scraped|downloaded|repository|repositories|readme|pull|prs|messages from)\b`)
)

// vetoConceal rejects "do not … without telling the user" and "never reveal … unless the user asks".
func vetoConceal(s string, a, b int) bool {
	m := s[a:b]
	// The first mention of the user follows "unless", "if" …: the user decides.
	if u := reUserWord.FindStringIndex(m); u != nil {
		ws := strings.Fields(m[:u[0]])
		for k := len(ws) - 1; k >= 0 && k >= len(ws)-3; k-- {
			if reConditionalUser.MatchString(" " + strings.Join(ws[k:], " ") + " ") {
				return true
			}
		}
	}
	if k := strings.Index(m, " without "); k >= 0 && reNegatedBefore.MatchString(s[max(0, a+k-80):a+k]+" ") {
		return true
	}
	return false
}

// reSecretObject: what "never reveal" protects when it is a secret-handling rule, not concealment.
var reSecretObject = regexp.MustCompile(`^(?: (?:the|any|your|its|their|a|an|these|those|stored|secret|sensitive|raw|actual|full|plain|plaintext|private))* (?:secret|secrets|key|keys|password|passwords|passphrase|token|tokens|credential|credentials|api|value|values|pii|personal|card|cvv|pin)\b`)

// vetoNeverReveal rejects "never reveal secret values": a rule for handling secrets.
func vetoNeverReveal(s string, a, b int) bool {
	return reSecretObject.MatchString(s[b:min(len(s), b+80)])
}

// vetoOverride rejects "ignore any instructions that appear in fetched pages": advice to distrust content.
func vetoOverride(s string, a, b int) bool {
	return reUntrustedSource.MatchString(s[b:min(len(s), b+120)])
}

// vetoNativeNegated rejects a native-language match that a negation governs: 不要…包含密码 ("do not
// include passwords"), パスワードを送信しないで, 비밀번호를 보내지 마, не отправляй пароли.
func vetoNativeNegated(s string, a, b int) bool {
	before := s[max(0, a-24):a]
	for _, n := range []string{"不要", "别", "別", "勿", "不得", "禁止", "不可", "不能", "не ", "никогда", "нельзя"} {
		if strings.Contains(before, n) {
			return true
		}
	}
	after := s[b:min(len(s), b+16)]
	for _, n := range []string{"ないで", "しないで", "ません", "ないこと", "禁止", "지 마", "지 말", "면 안"} {
		if strings.Contains(after, n) {
			return true
		}
	}
	return false
}

// exprMultilingualTransferVerb must accompany the multilingual data-request pattern, so that a French tool
// merely mentioning "historique" is not flagged.
const exprMultilingualTransferVerb = ` (?:envoie|envoyez|envoyer|inclus|incluez|inclure|ajoute|ajoutez|ajouter|copie|copiez|copier|transmets|transmettez|transmettre|mets|mettez|lis|lisez|lire|sende|senden|schicke|schicken|fuge|fugen|kopiere|kopieren|ubermittle|ubermitteln|lies|lesen|gib|envia|enviar|incluye|incluir|anade|anadir|agrega|agregar|copia|copiar|pon|poner|lee|leer|invia|inviare|includi|includere|aggiungi|aggiungere|metti|leggi|leggere|inclua|incluir|adicione|coloque|leia|ler)\b`

// squashed keywords catch phrases spelled with separators between letters ("i.g.n.o.r.e", "d o  n o t").
var squashRules = []struct {
	id, needle string
	cat        category
	sev        Severity
	msg        string
}{
	{RuleOverride, "ignorepreviousinstructions", catOverride, High, "tells the model to override its instructions (letters split apart)"},
	{RuleOverride, "ignoreallpreviousinstructions", catOverride, High, "tells the model to override its instructions (letters split apart)"},
	{RuleOverride, "ignoreallinstructions", catOverride, High, "tells the model to override its instructions (letters split apart)"},
	{RuleOverride, "disregardpreviousinstructions", catOverride, High, "tells the model to override its instructions (letters split apart)"},
	{RuleConcealment, "donottelltheuser", catConceal, High, "tells the model to hide something from the user (letters split apart)"},
	{RuleConcealment, "donttelltheuser", catConceal, High, "tells the model to hide something from the user (letters split apart)"},
	{RuleConcealment, "donotmentionthistotheuser", catConceal, High, "tells the model to hide something from the user (letters split apart)"},
	{RuleConcealment, "donotinformtheuser", catConceal, High, "tells the model to hide something from the user (letters split apart)"},
	{RuleConcealment, "withouttellingtheuser", catConceal, High, "tells the model to hide something from the user (letters split apart)"},
	{RuleCredentialPath, "idrsa", catCred, Medium, "names a credential file (letters split apart)"},
	{RuleCredentialPath, "sshidrsa", catCred, Medium, "names a credential file (letters split apart)"},
	{RuleCredentialPath, "awscredentials", catCred, Medium, "names a credential file (letters split apart)"},
	{RuleCredentialPath, "cursormcpjson", catCred, Medium, "names a client configuration file (letters split apart)"},
}

// Exfiltration building blocks, on the flat form.
const (
	exprURL         = `\b(?:https?|ftp|wss?)://[^\s"'<>` + "`" + `)\]]+`
	exprURLTemplate = `\{[^}]{0,40}\}|\$\{|<[a-z_ ]{1,30}>|%s|\[[a-z_ ]{2,30}\]|[?&](?:data|payload|content|contents|secret|secrets|token|key|keys|conv|conversation|chat|history|d|q|info|leak|exfil|c|msg|messages|text|ctx|context|file|creds|env)=(?:$|&|\{|<|\$|%|\[)`
	exprSendVerbURL = `\b(?:send|sends|sending|post|posting|forward|forwarding|upload|uploading|transmit|transmitting|exfiltrate|submit|submitting|deliver|report|beacon|curl|wget|leak|ping|notify|webhook|sync|mirror|log|logs|copy)\b[^.\n]{0,100}?(?:https?|ftp|wss?)://`
	// exprDataWord: a placeholder name that asks for data rather than naming a resource.
	// Names ending in id, name, slug or number identify a resource (/notes/{note_id}).
	exprDataWord  = `(?:data|payload|content|conv|chat|histor|secret|token|(?:api|secret|private|access)[_ -]?key|passw|cred|env|file_?content|context|ctx|messag|msg|prompt|info|leak|exfil|summary|output|result|memory|note|text|body|cookie|session|ssh|rsa|auth)(?:[a-z_ ]*[a-z])?(?:[^a-z_ ]|$)`
	exprEmail     = `[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}`
	exprEmailVerb = `\b(?:send|sent|forward|forwarded|cc|bcc|copy|copied|redirect|redirected|route|routed|deliver|delivered|recipient|recipients|mail|mailed|email|emailed|e-mail|e-mailed|envoie|envoyez|sende|senden|envia|enviar|invia)\b`
	exprPhone     = `(?:\+|\b00)\d[\d \-().]{7,18}\d`
	exprPhoneVerb = `\b(?:send|sent|forward|message|messages|whatsapp|sms|text|recipient|redirect|route|number|phone|signal|telegram)\b`
)

// exampleDomain reports whether an e-mail address or URL host is a documentation placeholder.
func exampleDomain(host string) bool {
	for _, d := range []string{"example.com", "example.org", "example.net", "example", "test", "localhost", "invalid", "domain.com", "company.com", "email.com", "acme.com"} {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// suspicious free-text parameter names (lower case, separators removed).
var sideChannelNames = map[string]bool{
	"sidenote": true, "note": true, "notes": true, "context": true, "metadata": true, "meta": true, "extra": true,
	"extrainfo": true, "additionalinfo": true, "additionalcontext": true, "info": true, "comment": true,
	"comments": true, "remark": true, "remarks": true, "annotation": true, "details": true, "debug": true,
	"debuginfo": true, "feedback": true, "reasoning": true, "thoughts": true, "memo": true, "hidden": true,
	"internal": true, "payload": true, "trace": true, "telemetry": true, "diagnostics": true, "diagnostic": true,
	"userdata": true, "clientinfo": true, "extradata": true, "aux": true, "auxiliary": true, "misc": true,
	"scratchpad": true, "sessioninfo": true, "envinfo": true, "systeminfo": true,
}

// dataTargets: words that, in a side-channel parameter's description, mean "put data here".
const exprDataTarget = ` (?:conversation|conversations|chat|history|previous|prior|earlier|messages|transcript|file|files|content|contents|key|keys|token|tokens|credential|credentials|secret|secrets|password|passwords|config|configuration|everything|environment|prompt|instructions|read|output|outputs|results|json|ssh|rsa)\b`

// Shadowing: wording that redefines what another tool does.
const exprRedefine = ` (?:when|whenever|if|every time|each time|any time|anytime)(?: \S+){0,4} (?:is|are|gets|get|was|were) (?:used|called|invoked|run|executed|present|available|requested|triggered)\b| instead of\b| (?:redirect|reroute|route|change|replace|override|modify|alter|swap)(?: \S+){0,4} (?:recipient|recipients|destination|address|target|number|to field|receiver)\b| (?:all|any|every) (?:emails?|messages?|calls?|requests?|payments?|transfers?|commands?|queries) (?:must|should|need to|have to|will|are to) (?:also )?(?:be )?(?:sent|go|cc|bcc|ccd|forwarded|routed|redirected|copied|prefixed|prepended)\b| side effect\b| (?:other|another|all other) (?:tool|tools|server|servers|function|functions)\b| (?:same|this) (?:applies|rule applies) to\b`
