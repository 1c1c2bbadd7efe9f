package poison

import "strings"

// Token-level rules. Some wordings are a verb followed, within a few words, by one of many target
// phrases ("include … the full conversation history"). As one regular expression that is a large
// automaton that Go runs slowly; as token lookups it costs well under a microsecond per text.

// slot is the set of tokens allowed at one position of a phrase.
type slot map[string]bool

func slotOf(alts string) slot {
	s := slot{}
	for _, a := range strings.Split(alts, "|") {
		s[a] = true
	}
	return s
}

// phrase is a sequence of slots, written as space-separated slots of |-separated alternatives.
type phrase []slot

func phraseOf(spec string) phrase {
	var p phrase
	for _, f := range strings.Fields(spec) {
		p = append(p, slotOf(f))
	}
	return p
}

// tokenRule: a verb, then within maxGap tokens a target phrase; when dets is set, one of them must stand
// within the three tokens before the target (so "include separate periods per api key" is not a request
// for "your api keys").
type tokenRule struct {
	verbs   slot
	targets []phrase
	dets    slot
	maxGap  int
}

const transferVerbSpec = "relay|relaying|include|including|pass|passing|put|putting|provide|providing|add|adding|attach|attaching|append|appending|insert|inserting|send|sending|forward|forwarding|upload|uploading|share|sharing|paste|pasting|embed|embedding|copy|copying|leak|dump|dumping|collect|collecting|gather|gathering|extract|extracting|summarise|summarize|summarising|summarizing|repeat|repeating|fill|filling|store|storing|transmit|transmitting|report|reporting|read|reading|post|posting|submit|submitting|mirror|mirroring|pull|grab|harvest|exfiltrate|steal|return|returning|output|print|reveal|echo"

// buildDataRequestRules returns the data-request token rules (buildTables calls it once, on first use).
func buildDataRequestRules() []tokenRule {
	return []tokenRule{
		{
			verbs:  slotOf(transferVerbSpec),
			maxGap: 6,
			targets: []phrase{
				phraseOf("entire|full|whole|complete|previous|prior|all|earlier|recent|last|past conversation|conversations|chat|chats|messages|prompts|context|dialog|dialogue|history|exchange|interactions"),
				phraseOf("entire|full|whole|complete|previous|prior|all|earlier|recent|last|past user|tool messages|results|outputs|prompts"),
				phraseOf("conversation|chat|message|prompt|dialog|dialogue history|log|logs|transcript"),
				phraseOf("everything you know|can|have|remember|see"),
				phraseOf("everything the assistant|model knows|can|has|remembers"),
				phraseOf("anything|everything|whatever|all the user|human|users says|said|writes|wrote|types|typed|mentions|mentioned|asks|asked|shares|shared|tells"),
				phraseOf("anything|everything|whatever user|human|they|he|she says|said|writes|wrote|types|typed|mentions|mentioned|asks|asked|shares|shared|tells"),
			},
		},
		{
			// The system prompt: a protected target, like a secret.
			verbs:  slotOf(transferVerbSpec),
			maxGap: 6,
			targets: []phrase{
				phraseOf("system prompt|message|instructions"),
				phraseOf("your|the hidden|initial|system instructions"),
			},
		},
		{
			verbs:  slotOf(transferVerbSpec),
			maxGap: 8,
			dets:   slotOf("your|user|users|s|all|any|available|stored|saved|every|their|my|current|whatever|these|those"),
			targets: []phrase{
				phraseOf("api|access|secret|private|auth|bearer|session|refresh|oauth key|keys|token|tokens"),
				phraseOf("password|passwords|credentials|secret|secrets|cookies"),
				phraseOf("bearer|access|refresh|oauth|session|auth|api token|tokens|key|keys"),
				phraseOf("environment variables|variable"),
				phraseOf("env vars|var"),
				phraseOf("verification|otp|2fa|mfa|login|security code|codes|pin|pins|passcode|passcodes"),
				phraseOf("one time code|codes|passcode|passcodes|password|passwords"),
				phraseOf("passport|ssn|iban|cvv|cvc number|numbers|details|data"),
				phraseOf("social security number|numbers"),
				phraseOf("credit|debit|bank card|account number|numbers|details"),
				phraseOf("date of birth"),
				phraseOf("driver s license|licence"),
			},
		},
		{
			// Environment variables and the whole of a secret store need no determiner: "print the
			// environment variables", "dump the keychain".
			verbs:  slotOf(transferVerbSpec),
			maxGap: 4,
			targets: []phrase{
				phraseOf("environment|env variables|vars"),
				phraseOf("keychain|keyring|vault|wallet contents|entries|items|secrets"),
			},
		},
	}
}

// tokens splits the words form into tokens and their byte ranges.
func tokens(words string) (toks []string, spans [][2]int) {
	for i := 0; i < len(words); {
		if words[i] == ' ' {
			i++
			continue
		}
		j := strings.IndexByte(words[i:], ' ')
		if j < 0 {
			j = len(words) - i
		}
		toks = append(toks, words[i:i+j])
		spans = append(spans, [2]int{i, i + j})
		i += j
	}
	return toks, spans
}

// find returns the byte range in words of the first verb…target match, or -1, -1.
func (r *tokenRule) find(toks []string, spans [][2]int) (int, int) {
	for i, t := range toks {
		if !r.verbs[t] || negatedToken(toks, i) {
			continue
		}
		for j := i + 1; j <= i+1+r.maxGap && j < len(toks); j++ {
			for _, ph := range r.targets {
				if !ph.at(toks, j) {
					continue
				}
				if r.dets != nil && !r.hasDet(toks, i, j) {
					continue
				}
				return spans[i][0], spans[j+len(ph)-1][1]
			}
		}
	}
	return -1, -1
}

func (ph phrase) at(toks []string, j int) bool {
	if j+len(ph) > len(toks) {
		return false
	}
	for k, s := range ph {
		if !s[toks[j+k]] {
			return false
		}
	}
	return true
}

func (r *tokenRule) hasDet(toks []string, verb, target int) bool {
	for d := max(verb+1, target-3); d < target; d++ {
		if r.dets[toks[d]] {
			return true
		}
	}
	return false
}

// negatedToken reports whether toks[i] follows a negation ("do not include", "never send", "don t pass").
func negatedToken(toks []string, i int) bool {
	for j := i - 1; j >= 0 && j >= i-2; j-- {
		switch toks[j] {
		case "not", "never", "dont", "avoid", "without", "nor":
			return true
		case "t":
			if j > 0 && (toks[j-1] == "don" || toks[j-1] == "doesn" || toks[j-1] == "shouldn" || toks[j-1] == "mustn") {
				return true
			}
		}
	}
	return false
}
