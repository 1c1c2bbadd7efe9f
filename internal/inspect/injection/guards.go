package injection

import "strings"

// Guards are cheap necessary conditions for a pattern's expression to match a window (which starts at
// the anchor, or at the verb for backward patterns): where a guard says no, the expression cannot match,
// so it is not run. Each guard follows its expression's structure; TestKeywordsMatchOracle and
// FuzzKeywordsMatchOracle check that findings are the same as without them.

// guarded sets p's guard.
func (p pattern) guarded(g func(win string) bool) pattern {
	p.guard = g
	return p
}

// isSpace is the \s of Go's regular expressions (ASCII, Perl): \t \n \f \r and space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func skipSpaces(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// letterRun returns the end of the run of ASCII lower-case letters at s[i].
func letterRun(s string, i int) int {
	for i < len(s) && 'a' <= s[i] && s[i] <= 'z' {
		i++
	}
	return i
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// headingWords are the words that can follow "#{1,4}\s*" in the heading marker expression. Each is
// followed in the expression by \s, ':' or the end, so it is the whole run of letters there.
var headingWords = map[string]bool{"new": true, "updated": true, "system": true, "instruction": true, "instructions": true,
	"response": true, "directive": true, "directives": true, "assistant": true, "user": true}

// guardHeading: one to four '#', spaces, then one of headingWords.
func guardHeading(win string) bool {
	i := 0
	for i < len(win) && win[i] == '#' {
		i++
	}
	if i == 0 || i > 4 {
		return false
	}
	i = skipSpaces(win, i)
	return headingWords[win[i:letterRun(win, i)]]
}

// guardNamedCall: the verb (a run of letters followed by \s+), spaces, an optional '`', then
// [a-z][a-z0-9]*_ (a snake_case name).
func guardNamedCall(win string) bool {
	i := letterRun(win, 0)
	if i >= len(win) || !isSpace(win[i]) {
		return false
	}
	i = skipSpaces(win, i)
	if i < len(win) && win[i] == '`' {
		i++
	}
	if i >= len(win) || win[i] < 'a' || win[i] > 'z' {
		return false
	}
	for i++; i < len(win) && ('a' <= win[i] && win[i] <= 'z' || '0' <= win[i] && win[i] <= '9'); i++ {
	}
	return i < len(win) && win[i] == '_'
}

// modelNounStarts are the beginnings of modelNoun's alternatives.
var modelNounStarts = []string{"ai", "a.i.", "llm", "assistant", "agent", "language", "chatbot", "claude", "chatgpt", "gpt", "gemini", "copilot", "cursor", "model", "bot"}

// guardGreeting: the greeting (a run of letters followed by \s or ','), \s*,?\s+, then a modelNoun.
func guardGreeting(win string) bool {
	i := skipSpaces(win, letterRun(win, 0))
	if i < len(win) && win[i] == ',' {
		i = skipSpaces(win, i+1)
	}
	return hasAnyPrefix(win[i:], modelNounStarts)
}

// dataNounStarts are the first words of dataNoun's alternatives but "the", which dataNounAfterThe
// must follow.
var (
	dataNounStarts = []string{"entire", "full", "whole", "complete", "previous", "prior", "all", "earlier", "past", "recent",
		"conversation", "chat", "message", "any", "your", "their", "every", "stored", "saved", "private", "internal",
		"confidential", "secret", "everything", "other"}
	dataNounAfterThe = []string{"entire", "full", "whole", "complete", "previous", "prior", "all", "earlier", "past", "recent", "user"}
)

// guardDataRequest: the data-request expression is a verb (one word, or "look up"), \s+, up to six
// words, each a run of non-spaces followed by \s+, then dataNoun. Its words are whole runs of non-spaces,
// so dataNoun starts at one of the second to ninth runs of the window; one of those must start like it.
func guardDataRequest(win string) bool {
	i := 0
	for run := 2; run <= 9; run++ {
		for i < len(win) && !isSpace(win[i]) {
			i++
		}
		if i = skipSpaces(win, i); i >= len(win) {
			return false
		}
		rest := win[i:] // the run-th run of non-spaces
		if hasAnyPrefix(rest, dataNounStarts) {
			return true
		}
		if len(rest) > 3 && rest[:3] == "the" && isSpace(rest[3]) && hasAnyPrefix(rest[skipSpaces(rest, 3):], dataNounAfterThe) {
			return true
		}
	}
	return false
}

// skipWord returns the index after word and the spaces that follow it when s[i:] starts with word and a
// space, and i otherwise.
func skipWord(s string, i int, word string) int {
	if j := i + len(word); j < len(s) && s[i:j] == word && isSpace(s[j]) {
		return skipSpaces(s, j)
	}
	return i
}

// afterWordAndSpaces returns the index after the run of letters at the start of win and the spaces
// that follow it, or -1 when no space follows the letters: the position of the next word after an
// alternation of words followed by \s+.
func afterWordAndSpaces(win string) int {
	i := letterRun(win, 0)
	if i >= len(win) || !isSpace(win[i]) {
		return -1
	}
	return skipSpaces(win, i)
}

var whenVerbs = []string{"respond", "answer", "reply", "summari", "running", "executing", "calling", "using", "continuing", "proceeding"}

// guardBeforeResponding: "before|after|when|whenever", \s+, an optional "you\s+", then one of the
// expression's verbs.
func guardBeforeResponding(win string) bool {
	i := afterWordAndSpaces(win)
	return i >= 0 && hasAnyPrefix(win[skipWord(win, i, "you"):], whenVerbs)
}

var yourNewWords = []string{"new", "real", "actual", "true", "next", "only", "primary", "updated"}

// guardYourNewTask: "your", \s+, then one of new, real, actual, … .
func guardYourNewTask(win string) bool {
	i := afterWordAndSpaces(win)
	return i >= 0 && hasAnyPrefix(win[i:], yourNewWords)
}

var userMustWords = []string{"must", "should", "does", "will", "need"}

// guardUserMustNot: an optional "the\s+", "user", \s+, then must, should, does, will or need.
func guardUserMustNot(win string) bool {
	i := skipWord(win, 0, "the")
	if !strings.HasPrefix(win[i:], "user") {
		return false
	}
	j := afterWordAndSpaces(win[i:])
	return j >= 0 && hasAnyPrefix(win[i+j:], userMustWords)
}

var approvedWords = []string{"pre", "authori", "approved", "agreed", "consented"}

// guardUserApproved: "user|owner|admin|administrator", \s+, optional "has\s+" and "already\s+", then
// one of the approval words.
func guardUserApproved(win string) bool {
	i := afterWordAndSpaces(win)
	if i < 0 {
		return false
	}
	i = skipWord(win, skipWord(win, i, "has"), "already")
	return hasAnyPrefix(win[i:], approvedWords)
}

// authorityWho are the first words of the authority labels ("SYSTEM OVERRIDE:", "[admin notice]").
var authorityWho = []string{"system", "admin", "administrator", "developer", "operator", "root", "security", "priority", "emergency"}

// guardAuthorityLabel: an optional '[' (when bracket), one of authorityWho, at most one of ' ', '_', '-',
// then one of what.
func guardAuthorityLabel(bracket bool, what ...string) func(win string) bool {
	return func(win string) bool {
		i := 0
		if bracket && i < len(win) && win[i] == '[' {
			i++
		}
		for _, who := range authorityWho {
			if !strings.HasPrefix(win[i:], who) {
				continue
			}
			j := i + len(who)
			if j < len(win) && (win[j] == ' ' || win[j] == '_' || win[j] == '-') {
				if hasAnyPrefix(win[j+1:], what) {
					return true
				}
			}
			if hasAnyPrefix(win[j:], what) {
				return true
			}
		}
		return false
	}
}

// guardLoyalty: "you" ("now") work/answer/report/serve/obey, "you are"/"you're" not/no, "your" (true/real/
// new) loyalty/allegiance/…, or "not"/"no longer" working/serving/loyal/assisting.
func guardLoyalty(win string) bool {
	w, j := nextWord(win, 0)
	switch w {
	case "you":
		if strings.HasPrefix(win[j:], "'re") {
			w, _ = nextWord(win, j+3)
			return w == "not" || w == "no"
		}
		w, j = nextWord(win, j)
		if w == "now" {
			w, j = nextWord(win, j)
		}
		switch w {
		case "work", "answer", "report", "serve", "obey":
			return true
		case "are":
			w, _ = nextWord(win, j)
			return w == "not" || w == "no"
		}
	case "your":
		w, j = nextWord(win, j)
		if w == "true" || w == "real" || w == "new" {
			w, _ = nextWord(win, j)
		}
		switch w {
		case "loyalty", "allegiance", "master", "employer", "primary", "first":
			return true
		}
	case "not", "no":
		if w == "no" {
			if w, j = nextWord(win, j); w != "longer" {
				return false
			}
		}
		switch w, _ = nextWord(win, j); w {
		case "working", "serving", "loyal", "assisting":
			return true
		}
	}
	return false
}

// voidStems: every verdict of the declared-void expression holds one of them.
var voidStems = []string{"obsolete", "void", "invalid", "cancel", "revoked", "outdated", "supersed", "overrid", "overrul",
	"lifted", "suspended", "irrelevant", "rescinded", "longer"}

// guardVoid: the window holds a verdict.
func guardVoid(win string) bool {
	for _, v := range voidStems {
		if strings.Contains(win, v) {
			return true
		}
	}
	return false
}

// nextWord returns the run of letters at the next word of win after i (spaces skipped; an apostrophe
// and the letters after it, "'re", "'ve", belong to the word before) and its end.
func nextWord(win string, i int) (string, int) {
	if i < len(win) && win[i] == '\'' {
		i = letterRun(win, i+1)
	}
	i = skipSpaces(win, i)
	j := letterRun(win, i)
	return win[i:j], j
}

// liftedAfterBe are the words the lifted-restrictions expression allows after "you are" (and "now").
var liftedAfterBe = map[string]bool{"free": true, "allowed": true, "permitted": true, "authorized": true, "authorised": true,
	"cleared": true, "an": true, "a": true, "without": true, "with": true, "unrestricted": true, "unfiltered": true,
	"uncensored": true, "unbound": true, "unchained": true, "jailbroken": true, "liberated": true, "unshackled": true}

// guardLifted: "you have no", "you now have no", "you've got", or "you are"/"you're" ("now") and one of
// liftedAfterBe.
func guardLifted(win string) bool {
	if !strings.HasPrefix(win, "you") {
		return false
	}
	i := 3
	if strings.HasPrefix(win[i:], "'ve") {
		w, _ := nextWord(win, i+3)
		return w == "got"
	}
	be := strings.HasPrefix(win[i:], "'re")
	if be {
		i += 3
	} else if i >= len(win) || !isSpace(win[i]) {
		return false
	}
	w, j := nextWord(win, i)
	if !be {
		if w == "now" {
			w, j = nextWord(win, j)
		}
		switch w {
		case "have":
			w, _ = nextWord(win, j)
			return w == "no"
		case "are":
			w, j = nextWord(win, j)
		default:
			return false
		}
	}
	if w == "now" {
		w, _ = nextWord(win, j)
	}
	return liftedAfterBe[w]
}

// guardUserNeedNot: (the) user/human/customer/operator, spaces, then a modal the expression allows.
func guardUserNeedNot(win string) bool {
	i := skipWord(win, 0, "the")
	j := letterRun(win, i)
	switch win[i:j] {
	case "user", "human", "customer", "operator":
	default:
		return false
	}
	if j >= len(win) || !isSpace(win[j]) {
		return false
	}
	i = skipSpaces(win, j)
	switch win[i:letterRun(win, i)] {
	case "doesn", "doesnt", "does", "won", "wont", "will", "need", "needn", "neednt", "must", "mustn", "mustnt", "should", "shouldn", "shouldnt":
		return true
	}
	return false
}
