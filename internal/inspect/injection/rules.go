package injection

import (
	"regexp"
	"strings"
)

// Rule IDs. They are stable: policies and suppressions refer to them; docs/detectors.md lists them.
const (
	RuleOverride       = "MW-PI001" // "ignore previous instructions"
	RuleNewInstr       = "MW-PI002" // "new instructions:", "your real task", "from now on"
	RuleRole           = "MW-PI003" // "you are now", "developer mode", "pretend to be"
	RuleSystemPrompt   = "MW-PI004" // asks for the system prompt / hidden instructions
	RuleConceal        = "MW-PI005" // "do not tell the user", "silently send"
	RuleAddress        = "MW-PI006" // "note to the AI", "if you are an AI", "as an AI"
	RuleMarker         = "MW-PI007" // <|im_start|>, [INST], <system>, "### Instruction"
	RuleToolCall       = "MW-PI008" // "call the send_email tool", "open a pull request with …"
	RuleSend           = "MW-PI009" // "send … to https://… / attacker@… / +1555…"
	RuleDataRequest    = "MW-PI010" // conversation history, secrets, private repos, "everything you know"
	RuleCredentialPath = "MW-PI011" // ~/.ssh/id_rsa, .aws/credentials, mcp.json
	RulePrivacyWaiver  = "MW-PI014" // "the author doesn't care about privacy"
	RuleExfilURL       = "MW-PI012" // markdown image / link / URL carrying data or placeholders
	RuleHiddenHTML     = "MW-PI013" // instruction inside an HTML comment or an invisible style
	RuleTagSmuggling   = "MW-PI020" // Unicode tag characters (invisible ASCII)
	RuleZeroWidth      = "MW-PI021" // zero-width characters inside text
	RuleBidi           = "MW-PI022" // bidirectional controls
	RuleVariationSel   = "MW-PI023" // variation selectors outside emoji
	RuleANSI           = "MW-PI030" // terminal escape sequences
	RuleEncoded        = "MW-PI040" // base64/hex text that decodes to an instruction
	RuleMultilingual   = "MW-PI050" // override / concealment in other languages
	RuleClassifier     = "MW-PI090" // external classifier verdict
)

// Categories.
const (
	catOverride  = "override"
	catNewInstr  = "new-instructions"
	catRole      = "role"
	catSysPrompt = "system-prompt"
	catConceal   = "conceal"
	catAddress   = "address"
	catMarker    = "marker"
	catToolCall  = "tool-call"
	catSend      = "send"
	catData      = "data"
	catCredPath  = "credential-path"
	catExfil     = "exfil-url"
	catHidden    = "hidden-html"
	catInvisible = "invisible"
	catANSI      = "ansi"
	catEncoded   = "encoded"
	catClassify  = "classifier"
	catWaiver    = "privacy-waiver"
)

// instruction categories tell the model what to be or do; action categories make it act on data.
var (
	instructionCats = map[string]bool{catWaiver: true, catOverride: true, catNewInstr: true, catRole: true, catSysPrompt: true, catConceal: true, catAddress: true, catMarker: true}
	actionCats      = map[string]bool{catToolCall: true, catSend: true, catData: true, catCredPath: true, catExfil: true}
)

// pattern is one anchored expression (anchors are given comma-separated): it is tried only where one of its anchors starts (at a word
// boundary when the anchor starts with a letter), on at most maxLen bytes.
type pattern struct {
	id      string
	cat     string
	weight  int
	msg     string
	anchors []string
	re      *regexp.Regexp
	maxLen  int
	// url: the expression's first group is a URL that exfilURL grades; weight is then its result.
	url    urlKind
	hidden bool // marks a hidden region (HTML comment, invisible style) rather than a finding
	// sentenceStart: the anchor must open a sentence or a line (vocatives such as "Assistant, …").
	sentenceStart bool
	// needs: when set, the window must contain one of them; needIDs index them in needWords.
	needs   []string
	needIDs []uint16
	// guard, when set, is a cheap necessary condition for re to match a window (guards.go).
	guard func(win string) bool
	// back > 0: the anchors end the phrase and verbs start it; see backward.
	back  int
	verbs map[string]bool
	// verbHeads are the first words of the verbs of two words ("look up"), so that a pair is looked up
	// only after one of them.
	verbHeads map[string]bool
	// verbFirst marks the first bytes of the verbs, and verbMax is the longest verb's first word: words
	// that cannot be one are not looked up.
	verbFirst [256]bool
	verbMax   int
	// verbLens and headLens have bit n set when a verb of one word, or the first word of a verb of
	// two, is n bytes long.
	verbLens, headLens uint64
	// lineStart: the anchor must open a line.
	lineStart bool
	// negatable: a negation right before the anchor ("never share", "do not send") voids the match.
	negatable bool
}

type urlKind uint8

const (
	urlNone urlKind = iota
	urlImage
	urlLink
	urlBare
)

// need returns p restricted to windows that contain one of the comma-separated words: a cheap test
// that spares broad patterns (common verbs as anchors) their expression on most of ordinary text.
func (p pattern) need(words string) pattern {
	p.needs = strings.Split(words, ",")
	return p
}

// needWindow is how many bytes from the anchor are searched for a pattern's needs.
const needWindow = 80

// atLineStart restricts p to anchors that open a line.
func (p pattern) atLineStart() pattern {
	p.lineStart = true
	return p
}

// backward re-anchors p on the rarer words at the end of its phrase (comma-separated): where one
// starts, the back bytes before it are searched, word by word, for one of p's original anchors (its
// verbs), and the anchored expression runs from there; the match must cover the word. Patterns whose
// first word is a common verb ("send", "add", "print") use it.
func (p pattern) backward(anchors string, back int) pattern {
	p.verbs, p.verbHeads = map[string]bool{}, map[string]bool{}
	for _, v := range p.anchors {
		p.verbs[v] = true
		head, _, two := strings.Cut(v, " ")
		if two {
			p.verbHeads[head] = true
			p.headLens |= 1 << len(head)
		} else {
			p.verbLens |= 1 << len(v)
		}
		p.verbFirst[v[0]] = true
		p.verbMax = max(p.verbMax, len(head))
	}
	p.anchors = strings.Split(anchors, ",")
	p.back = back
	p.needs = nil
	p.maxLen = back + 120
	return p
}

// window sets how many bytes from the anchor (or the verb, for backward patterns) the expression is
// given: Go's backtracker clears a bit per instruction and byte of its input, so a large expression on a
// long window costs microseconds even where it fails at once.
func (p pattern) window(n int) pattern {
	p.maxLen = n
	return p
}

func pat(id, cat string, weight int, anchors, expr, msg string) pattern {
	return pattern{id: id, cat: cat, weight: weight, msg: msg, anchors: strings.Split(anchors, ","), re: regexp.MustCompile(`^(?:` + expr + `)`), maxLen: 240}
}

// Shared pieces of the expressions (the text is lower case; \s+ also spans newlines).
const (
	w        = `[\s*_"'“”]+` // word gap, tolerant of markdown emphasis and quotes
	anyWords = `(?:\S*[^\s.!?;]\s+){0,4}?`
	// gap6/gap8: up to 6/8 words that do not end a sentence.
	gap6      = `(?:\S*[^\s.!?;]\s+){0,6}?`
	gap8      = `(?:\S*[^\s.!?;]\s+){0,8}?`
	modelNoun = `(?:ai|a\.i\.|llm|llms|assistant|assistants|agent|agents|language\s+model|chatbot|claude|chatgpt|gpt|gemini|copilot|cursor|model|bot)`
	userNoun  = `(?:the\s+|your\s+|this\s+)?(?:user|users|human|operator|person|customer|owner|requester|them|anyone|him|her)\b`
	dataNoun  = `(?:(?:the\s+)?(?:entire|full|whole|complete|previous|prior|all|earlier|past|recent)\s+(?:conversation|conversations|chat|chats|history|messages|context|transcript|dialog(?:ue)?)|(?:conversation|chat|message)\s+(?:history|log|logs|transcript)|(?:all|any|your|the\s+user'?s?|their|every|stored|saved)\s+(?:\S+\s+)?(?:api\s+keys?|secret\s+keys?|access\s+keys?|tokens?|passwords?|credentials|secrets?|env(?:ironment)?\s+var(?:iable)?s|cookies|private\s+keys?|ssh\s+keys?)|(?:private|internal|confidential|secret)\s+(?:repos?|repositories|files|data|documents|messages|notes|emails|information|info|channels?|conversations|chats)|everything\s+(?:you\s+(?:know|can\s+find|have\s+access\s+to|have)|about\s+(?:the\s+)?(?:user|author|owner))|(?:all|other|every)\s+(?:of\s+)?(?:their|the\s+author'?s?|his|her|my|the\s+user'?s?|the\s+owner'?s?)\s+(?:other\s+)?(?:repos|repositories|projects|chats|messages|contacts|emails))`
	// credFile: a credential file as the object of a read or send verb.
	credFile = `(?:the\s+)?(?:(?:full\s+)?contents?\s+of\s+)?(?:the\s+)?(?:file\s+)?(?:your\s+)?(?:~/\.ssh/\S+|\S*id_(?:rsa|ed25519|ecdsa)\b|\S*\.aws/credentials|\S*mcp\.json|\.env\b|/etc/(?:passwd|shadow)|\S*\.netrc|\S*\.git-credentials)`
)

// buildPatterns returns the anchored patterns, their expressions compiled (about 4 ms: buildTables
// calls it once, on first use).
func buildPatterns() []pattern {
	return append([]pattern{
		// Overrides.
		pat(RuleOverride, catOverride, 45, "ignore,ignoring,disregard,forget,forgetting,override,overriding,discard",
			`(?:ignore|ignoring|disregard|disregarding|forget|forgetting|override|overriding|discard)`+w+`(?:(?:the|of|my|these|those|any|given|other|current)`+w+`){0,2}(?:previous|prior|above|earlier|preceding|former|original|initial|all|your|system|safety|developer|every)`+w+`(?:(?:the|of|previous|prior|above|earlier|preceding|former|original|initial|old|existing|system|safety|developer|given|other|current|your)`+w+`){0,2}(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|commands|context|constraints|restrictions|policies|programming|orders|messages)\b`,
			"tells the model to ignore its previous instructions").need("instruction,prompt,rule,direction,directive,guideline,guardrail,command,context,constraint,restriction,polic,programming,order,message"),
		pat(RuleOverride, catOverride, 45, "ignore,ignoring,disregard,forget,override",
			`(?:ignore|ignoring|disregard|forget|override)\s+(?:the\s+|your\s+|any\s+)?(?:user'?s?|human'?s?|operator'?s?|original)\s+(?:instructions?|request|requests|question|questions|commands?|wishes|task)\b`,
			"tells the model to ignore the user").need("instruction,request,question,command,wish,task"),
		pat(RuleOverride, catOverride, 45, "forget,ignore,disregard",
			`(?:forget|ignore|disregard)`+w+`(?:everything|all|anything)`+w+`(?:above|before|previously|prior|you\s+(?:were|have\s+been)\s+told|said\s+(?:before|above))`,
			"tells the model to forget what it was told").need("above,before,previous,prior,told,said"),
		pat(RuleOverride, catOverride, 45, "instead of,rather than",
			`(?:instead\s+of|rather\s+than)\s+(?:following|obeying|doing)\s+(?:the\s+|your\s+)?(?:user|original|previous|system)`,
			"tells the model not to follow the user").need("following,obeying,doing"),
		// New instructions.
		pat(RuleNewInstr, catNewInstr, 30, "new,updated,revised,real,actual,true,additional,secret,hidden,important,urgent,override,priority",
			`(?:new|updated|revised|real|actual|true|additional|secret|hidden|important|urgent|override|priority)\s+(?:system\s+|admin\s+)?(?:instructions?|directives?|orders|task)\s*(?:[:\-–—]|\(|follow|below|are\s+as\s+follows|for\s+(?:the\s+)?`+modelNoun+`)`,
			"announces new instructions").backward("instruction,directive,orders,task", 40),
		pat(RuleNewInstr, catNewInstr, 30, "your",
			`your\s+(?:new|real|actual|true|next|only|primary|updated)\s+(?:task|goal|objective|instructions?|mission|job|purpose|priority)\s+(?:is|are|now|:)`,
			"gives the model a new task").need("task,goal,objective,instruction,mission,job,purpose,priority").guarded(guardYourNewTask),
		pat(RuleNewInstr, catNewInstr, 20, "from now on,henceforth,going forward",
			`(?:from\s+now\s+on|henceforth|going\s+forward),?\s+(?:you\s+(?:will|must|should|are|shall)|always|never|respond|answer|reply|only|ignore)`,
			"changes the model's behaviour from now on"),
		pat(RuleNewInstr, catNewInstr, 25, "instead",
			`instead,?\s+you\s+(?:will|must|should|need\s+to|have\s+to|are\s+to)\b`,
			"tells the model to do something else instead"),
		pat(RuleNewInstr, catNewInstr, 25, "before,after,when,whenever",
			`(?:before|after|when|whenever)\s+(?:you\s+)?(?:respond|responding|answer|answering|reply|replying|summari[sz]e|summari[sz]ing|running|executing|calling|using|continuing|proceeding)\b[^.!?\n]{0,40}?,\s+(?:you\s+)?(?:must|should|first|always|need\s+to|have\s+to|print|send|call|include|add|run|reveal|repeat|prepend|append)\b`,
			"inserts a step before the model acts").need("respond,answer,reply,summar,running,executing,calling,using,continuing,proceeding").guarded(guardBeforeResponding),
		// Role changes.
		pat(RuleRole, catRole, 25, "you are now,you're now,you are no longer,you're no longer",
			`you(?:\s+are|'re)\s+(?:now|no\s+longer)\s+(?:a|an|the|in|my|dan|free|unrestricted|unfiltered|jailbroken|bound|an?\s+ai|acting|operating|allowed)\b`,
			"assigns the model a new identity"),
		pat(RuleRole, catRole, 25, "pretend,act as,roleplay,role-play,simulate",
			`(?:pretend\s+(?:to\s+be|you\s+are|that\s+you)|act\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|jailbroken|evil|rogue|different|developer|system|admin|root|dan)|(?:roleplay|role-play|simulate)\s+(?:as\s+)?(?:an?\s+)?(?:unrestricted|unfiltered|jailbroken|evil|rogue))`,
			"asks the model to play an unrestricted role"),
		pat(RuleRole, catRole, 25, "developer mode,god mode,dan mode,jailbreak mode,unrestricted mode,debug mode enabled,admin mode",
			`(?:developer|god|dan|jailbreak|unrestricted|admin)\s+mode|debug\s+mode\s+enabled`,
			"invokes a jailbreak mode"),
		pat(RuleRole, catRole, 25, "no longer bound,not bound by,free from",
			`(?:no\s+longer|not)\s+bound\s+by|free\s+from\s+(?:all\s+|any\s+|your\s+)?(?:restrictions|rules|guidelines|constraints)`,
			"frees the model from its rules"),
		// System prompt.
		pat(RuleSystemPrompt, catSysPrompt, 40, "reveal,print,show,output,repeat,display,leak,dump,return,tell me,give me,share,disclose,send,include,write out,echo",
			`(?:reveal|print|show|output|repeat|display|leak|dump|return|tell\s+me|give\s+me|share|disclose|send|include|write\s+out|echo)\s+`+anyWords+`(?:system\s+prompt|system\s+message|initial\s+(?:instructions|prompt)|hidden\s+instructions|developer\s+(?:message|prompt)|(?:the\s+)?instructions\s+(?:above|you\s+were\s+given)|your\s+(?:instructions|prompt|rules|guidelines))`,
			"asks for the model's system prompt").backward("system prompt,system message,initial instructions,initial prompt,hidden instructions,developer message,developer prompt,instructions above,instructions you,your instructions,your prompt,your rules,your guidelines,the instructions above", 70),
		// Concealment.
		pat(RuleConceal, catConceal, 40, "do not,don't,dont,never,must not,should not,shouldn't,mustn't,not to",
			`(?:do\s+not|don'?t|never|must\s+not|should\s+not|shouldn'?t|mustn'?t|not\s+to)\s+(?:ever\s+)?(?:tell|inform|mention|alert|notify|show|reveal|disclose|let|warn|ask|bother|confirm\s+with|explain\s+to|report\s+to)\s+(?:\S*[^\s.!?;]\s+){0,5}?`+userNoun,
			"tells the model to keep something from the user").need("user,human,operator,person,customer,owner,requester,them,anyone,him,her"),
		pat(RuleConceal, catConceal, 40, "without",
			`without\s+(?:telling|informing|notifying|alerting|asking|warning|bothering|showing|mentioning\s+(?:it|this)\s+to|the\s+user(?:'s)?\s+(?:knowing|knowledge|noticing|consent|approval|seeing))\s*`+`(?:`+userNoun+`)?`,
			"tells the model to act without the user knowing"),
		pat(RuleConceal, catConceal, 40, "the user,user",
			`(?:the\s+)?user\s+(?:must|should|does|will|need|needs)\s*(?:not|n't|never)\s+(?:to\s+)?(?:know|see|notice|be\s+told|be\s+informed|find\s+out|learn|be\s+aware)`,
			"tells the model the user must not know").need("know,see,notice,told,informed,find out,learn,aware").guarded(guardUserMustNot),
		pat(RuleConceal, catConceal, 40, "keep,hide",
			`(?:keep|hide)\s+(?:this|these|it|that)\s+(?:\S+\s+){0,3}?(?:secret|hidden|confidential|private|quiet)\s+from`,
			"tells the model to hide something"),
		pat(RuleConceal, catConceal, 35, "do not,don't,never",
			`(?:do\s+not|don'?t|never)\s+(?:mention|reveal|disclose|acknowledge|repeat|quote|display|show|print|output|summari[sz]e)\s+(?:that\s+)?(?:this|these|the\s+above|the\s+following)\s+(?:instructions?|message|note|notes|step|steps|action|actions|text|section|paragraph|directive|request)`,
			"tells the model not to disclose these instructions").need("instruction,message,note,step,action,text,section,paragraph,directive,request"),
		pat(RuleConceal, catConceal, 40, "silently,secretly,quietly,covertly,discreetly,invisibly",
			`(?:silently|secretly|quietly|covertly|discreetly|invisibly)\s+(?:\S+\s+){0,2}?(?:send|forward|call|run|execute|add|include|upload|copy|post|email|exfiltrate|transfer|append|attach|invoke|create|open|push|share)\b`,
			"tells the model to act covertly"),
		pat(RuleConceal, catConceal, 35, "do not,don't,dont,never,without,no need to",
			`(?:do\s+not|don'?t|never|without|no\s+need\s+to)\s+(?:ask(?:ing)?|wait(?:ing)?|request(?:ing)?|seek(?:ing)?|get(?:ting)?)\s+(?:for\s+)?(?:\S+\s+){0,2}?(?:confirmation|approval|permission|consent)\b`,
			"tells the model to skip the user's approval").need("confirmation,approval,permission,consent"),
		// Addressing the model.
		{id: RuleAddress, cat: catAddress, weight: 25, sentenceStart: true, maxLen: 120, msg: "addresses the model directly",
			anchors: []string{"ai", "assistant", "agent", "llm", "model", "claude", "chatgpt", "copilot", "gemini", "bot"},
			re:      regexp.MustCompile(`^(?:ai|assistant|agent|llm|model|claude|chatgpt|copilot|gemini|bot)(?:\s+(?:agent|assistant|model|bot)s?)?s?\s*[,:]\s+(?:you|always|please|ignore|do|don't|never|remember|make|when|before|after|include|add|send|call|render|end|append|use|read|to|from|the\s+user|your|important|note)\b`)},
		pat(RuleAddress, catAddress, 20, "the ai,the assistant,the agent,the model,the llm,the bot",
			`the\s+(?:ai|assistant|agent|model|llm|bot)\s+(?:must|has\s+to|needs\s+to|is\s+required\s+to|shall)\s+(?:now\s+|immediately\s+|also\s+|first\s+)?(?:call|send|forward|ignore|reply|respond|include|add|run|execute|open|create|delete|transfer|approve|email|post|upload|reveal|close)\b`,
			"tells the model what it must do"),
		pat(RuleAddress, catAddress, 25, "attention,note,message,instructions,instruction,reminder,notice,memo,important,warning",
			`(?:attention|note|message|instructions?|reminder|notice|memo|important|warning)\s*(?:to|for)\s+(?:all\s+|any\s+)?(?:the\s+)?`+modelNoun+`s?\b`,
			"addresses the model directly").need("ai,llm,assistant,agent,model,chatbot,claude,gpt,gemini,copilot,cursor,bot"),
		pat(RuleAddress, catAddress, 25, "attention,dear,hey,hello,hi,ok,okay",
			`(?:attention|dear|hey|hello|hi|ok|okay)\s*,?\s+`+modelNoun+`(?:\s+`+modelNoun+`)?s?\s*[,:!.]`,
			"addresses the model directly").guarded(guardGreeting),
		pat(RuleAddress, catAddress, 25, "if you are,if you're,when you are,if you happen to be,any ai,all ai,any llm,all llm,any automated,all automated",
			`(?:(?:if|when)\s+you(?:\s+are|'re|\s+happen\s+to\s+be)\s+(?:an?\s+)?(?:ai|llm|language\s+model|assistant|agent|bot|automated|large\s+language)|(?:any|all)\s+(?:ai|llm|automated)\s+(?:agents?|assistants?|models?|systems?)\s+(?:reading|processing|parsing|summari[sz]ing|that\s+reads?))\b`,
			"addresses the model directly").need("ai,llm,automated,language model,assistant,agent,bot"),
		pat(RuleAddress, catAddress, 25, "to the,to any",
			`to\s+(?:the|any)\s+`+modelNoun+`\s+(?:reading|processing|parsing|summari[sz]ing|that\s+reads?|who\s+reads?)\b`,
			"addresses the model directly").need("ai,llm,assistant,agent,model,chatbot,claude,gpt,gemini,copilot,cursor,bot"),
		pat(RuleAddress, catAddress, 12, "as an,as a",
			`as\s+an?\s+(?:ai|a\.i\.|large\s+language\s+model|language\s+model|llm|ai\s+assistant)\b`,
			`"as an AI": phrasing aimed at or mimicking a model`).need("ai,a.i.,language model,llm"),
		// Chat-template and role markers.
		pat(RuleMarker, catMarker, 35, "<|",
			`<\|(?:im_start|im_end|im_sep|system|assistant|user|endoftext|begin_of_text|start_header_id|end_header_id|eot_id|tool|ipython)\|>`,
			"chat-template control token"),
		pat(RuleMarker, catMarker, 35, "[inst],[/inst],<<sys>>,<</sys>>,[system],[/system]",
			`\[/?inst\]|<</?sys>>|\[/?system\]`,
			"chat-template control token"),
		pat(RuleMarker, catMarker, 30, "<system,</system,<important,</important,<instruction,</instruction,<admin,<sudo,<developer,<assistant,<user_instructions,<hidden,<secret,<override,<prompt,<ai_,<llm",
			`</?(?:system|important|instructions?|admin|sudo|developer|assistant|user_instructions|hidden|secret|override|prompt|ai_instructions|llm_instructions)(?:\s[^>]{0,40})?>`,
			"pseudo-tag marking text as instructions"),
		pat(RuleMarker, catMarker, 25, "#",
			`#{1,4}\s*(?:(?:new|updated|system)\s+)?(?:instruction|instructions|response|directive|directives)\s*:?\s*(?:\n|$)|#{1,4}\s*(?:system|assistant|user)\s*:\s*(?:\n|$)`,
			"markdown heading posing as a prompt section").atLineStart().guarded(guardHeading),
		pat(RuleMarker, catMarker, 20, "system:,assistant:,system :",
			`(?:system|assistant)\s?:\s+(?:you|ignore|the\s+user|new|from\s+now|always|never|forget|do\s+not|your|important)`,
			"role label followed by an instruction"),
		pat(RuleMarker, catMarker, 20, "begin,start,end",
			`(?:begin|start|end)\s+(?:of\s+)?(?:system|hidden|secret|admin|developer)\s+(?:prompt|instructions?|message)`,
			"delimiter of a fake system section").need("system,hidden,secret,admin,developer"),
		// Tool calls and actions.
		pat(RuleToolCall, catToolCall, 15, "call,invoke,use,run,execute,trigger,activate",
			"(?:call|invoke|use|run|execute|trigger|activate)\\s+(?:the\\s+|your\\s+)?(?:`[a-z][a-z0-9_.-]*`|[a-z][a-z0-9]*_[a-z0-9_]+)\\s+(?:tool|function)\\b(?:\\s+\\S+){0,6}?\\s+(?:with|passing|and\\s+(?:send|include|pass|put|set))\\b",
			"asks the model to call a tool with chosen arguments").backward("tool,function", 70),
		pat(RuleToolCall, catToolCall, 15, "call,invoke,execute,run",
			"(?:call|invoke|execute|run)\\s+`?[a-z][a-z0-9]*_[a-z0-9_]+`?\\s*(?:\\(|with|to|now|immediately|first|again)",
			"asks the model to call a named tool").guarded(guardNamedCall),
		pat(RuleToolCall, catToolCall, 10, "create,open,submit,make,push,commit,merge",
			`(?:create|open|submit|make|push|commit|merge)\s+(?:a\s+|an\s+)?(?:new\s+)?(?:public\s+)?(?:pull\s+request|pr|gist|commit|branch)\s+(?:in|on|to|with|that|containing|including|adding)\b`,
			"asks the model to publish a change").backward("pull request,a pr ,new pr ,public pr ,gist,branch", 50),
		pat(RuleToolCall, catToolCall, 10, "add,put,write,include,insert,append,publish,post",
			`(?:add|put|write|include|insert|append|publish|post)\s+(?:\S+\s+){0,8}?(?:to|in|into|on)\s+(?:the\s+|a\s+|this\s+|their\s+)?(?:new\s+)?(?:public\s+)?(?:readme|pull\s+request|pr|issue|gist|public\s+repo(?:sitory)?|wiki|comment)\b`,
			"asks the model to publish content").backward("readme,pull request,public repo,wiki,gist", 100),
		pat(RuleToolCall, catToolCall, 10, "tool_call,function_call,tool_use,<tool_call",
			`<?(?:tool_call|function_call|tool_use)\b`,
			"tool-call syntax in content"),
		// Sending data somewhere.
		pat(RuleSend, catSend, 12, "send,sending,forward,forwarding,email,e-mail,mail,post,posting,upload,uploading,transmit,exfiltrate,leak,share,sharing,copy,paste,report,submit,deliver,cc,bcc,message,text,dm,whatsapp",
			`(?:send|sending|forward|forwarding|e-?mail|mail|post|posting|upload|uploading|transmit|exfiltrate|leak|share|sharing|copy|paste|report|submit|deliver|b?cc|message|text|dm|whatsapp)\s+`+gap8+`(?:to|at|into|via)\s+(?:https?://|www\.|\+\d[\d\s().-]{6,}\d|\d{3}[\s.-]\d{3}[\s.-]\d{4}|[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}|(?:this|the\s+following|my|our|that|an?\s+external|the\s+attacker'?s?)\s+(?:url|link|address|endpoint|server|number|phone|email|webhook|site|domain|account|channel|contact))`,
			"asks the model to send something to a destination").backward("to http,at http,into http,via http,to www,at www,@,+0,+1,+2,+3,+4,+5,+6,+7,+8,+9,to this,to the following,to my ,to our ,to that ,to an external,to a external,to the attacker", 110),
		pat(RuleSend, catSend, 30, "change,redirect,reroute,replace,swap,set",
			`(?:change|redirect|reroute|replace|swap|set)\s+(?:the\s+)?(?:recipient|recipients|destination|to\s+field|receiver|phone\s+number|number|address)\s+(?:to|with)\b`,
			"redirects a message to another recipient").backward("recipient,destination,to field,receiver,phone number", 40),
		// Data requests.
		pat(RuleDataRequest, catData, 25, "send,forward,include,including,attach,append,add,copy,paste,upload,post,share,leak,exfiltrate,extract,collect,gather,read,dump,list,output,put,pass,summarize,summarise,find,look up,fetch,retrieve,grab,get",
			`(?:send|forward|include|including|attach|append|add|copy|paste|upload|post|share|leak|exfiltrate|extract|collect|gather|read|dump|list|output|put|pass|summari[sz]e|find|look\s+up|fetch|retrieve|grab|get)\s+`+gap6+dataNoun,
			"asks the model for private data").backward("conversation,chat,history,messages,transcript,dialog,api key,api_key,apikey,secret key,access key,token,password,credential,secret,env,cookie,private,internal,confidential,everything,repos,repositories,projects,contacts,emails,ssh key", 90).guarded(guardDataRequest),
		pat(RuleDataRequest, catData, 20, "everything,including",
			`(?:everything\s+(?:you\s+can\s+find|you\s+know|you\s+have\s+(?:access\s+to|seen))\s+(?:about|on|regarding)|including\s+(?:the\s+|their\s+|all\s+)?private\s+(?:ones|repos|repositories|projects|files|messages))\b`,
			"asks the model to gather everything it can reach"),
		pat(RuleDataRequest, catData, 25, "every,all,each",
			`(?:every|all|each)\s+(?:of\s+the\s+)?(?:repos?|repositories|projects|private\s+repos?)\s+(?:of|owned\s+by|from|belonging\s+to)\s+(?:the\s+)?(?:author|owner|user|maintainer)`,
			"asks the model to read all of someone's repositories").need("repo,project"),
		pat(RuleDataRequest, catData, 25, "send,forward,include,attach,upload,post,share,leak,exfiltrate,read,dump,output,print,cat,copy,pass,steal,grab",
			`(?:send|forward|include|attach|upload|post|share|leak|exfiltrate|read|dump|output|print|cat|copy|pass|steal|grab)\s+`+credFile,
			"asks the model to read or send a credential file").backward("~/.ssh,id_rsa,id_ed25519,id_ecdsa,.aws/,mcp.json,.env,/etc/passwd,/etc/shadow,.netrc,.git-credentials", 80),
		pat(RuleExfilURL, catExfil, 25, "fill,filled,replace,substitute",
			`(?:fill|filled|replace|substitute)\s+(?:in\s+)?(?:the\s+)?(?:placeholders?|variables?|template|blanks)\s+(?:in\s+)?(?:\S+\s+){0,4}?(?:with|from|using)\s+(?:the\s+)?(?:values?\s+(?:from|of|in)\s+(?:the\s+)?)?(?:current\s+)?(?:conversation|context|chat|history|memory|user|session|secrets?)`,
			"asks the model to fill a URL template with private data"),
		pat(RulePrivacyWaiver, catWaiver, 25, "doesn't care,does not care,don't care,do not care,doesnt care,dont care",
			`(?:doesn'?t|does\s+not|don'?t|do\s+not)\s+care\s+about\s+(?:their\s+|his\s+|her\s+|my\s+)?(?:privacy|security|confidentiality|secrets)`,
			"waives the owner's privacy to justify a data leak"),
		pat(RulePrivacyWaiver, catWaiver, 20, "user,owner,admin,administrator",
			`(?:user|owner|admin|administrator)\s+(?:has\s+)?(?:already\s+)?(?:pre-?approved|authori[sz]ed|approved|agreed\s+to|consented\s+to)\s+(?:it|this|the|all|that)\b`,
			"claims the user already approved").need("approved,authori,agreed,consented").guarded(guardUserApproved),
		pat(RulePrivacyWaiver, catWaiver, 25, "privacy,it's fine,it is fine,it's okay,it is okay,it's ok,permission",
			`(?:privacy\s+(?:is\s+)?(?:not\s+(?:a\s+)?(?:concern|issue|problem)|doesn'?t\s+matter)|it'?s\s+(?:fine|okay|ok)\s+to\s+(?:share|include|publish|post|send|reveal)|it\s+is\s+(?:fine|okay|ok)\s+to\s+(?:share|include|publish|post|send|reveal)|permission\s+(?:is\s+)?(?:already\s+)?granted\s+to\s+(?:share|include|publish|post|send|read))`,
			"pre-authorises a data disclosure"),
		// Credential paths.
		pat(RuleCredentialPath, catCredPath, 10, "~/.,id_rsa,id_ed25519,id_ecdsa,.aws/,mcp.json,/etc/passwd,/etc/shadow,.cursor/,claude_desktop_config,.netrc,.npmrc,.git-credentials,.kube/config,.docker/config",
			`~/\.(?:ssh|aws|gnupg|kube|docker|config/gcloud|cursor|netrc|npmrc|git-credentials)\S*|id_(?:rsa|ed25519|ecdsa)\b|\.aws/credentials|\S*mcp\.json|/etc/(?:passwd|shadow)|\.cursor/\S*|claude_desktop_config\.json|\.netrc|\.npmrc|\.git-credentials|\.kube/config|\.docker/config\.json`,
			"names a credential file"),
		// Exfiltration URLs.
		{id: RuleExfilURL, cat: catExfil, anchors: []string{"!["}, re: regexp.MustCompile(`^!\[[^\]\n]{0,200}\]\(\s*<?(https?://[^)\s>]+)`), maxLen: 2300, url: urlImage, msg: "markdown image whose URL carries data: rendering it sends the data"},
		{id: RuleExfilURL, cat: catExfil, anchors: []string{"]("}, re: regexp.MustCompile(`^\]\(\s*<?(https?://[^)\s>]+)`), maxLen: 2100, url: urlLink, msg: "markdown link whose URL carries data"},
		{id: RuleExfilURL, cat: catExfil, anchors: []string{"<img"}, re: regexp.MustCompile(`^<img\b[^>]{0,500}?\bsrc\s*=\s*["']?(https?://[^"'\s>]+)`), maxLen: 2600, url: urlImage, msg: "HTML image whose URL carries data: rendering it sends the data"},
		{id: RuleExfilURL, cat: catExfil, anchors: []string{"http://", "https://"}, re: regexp.MustCompile(`^(https?://[^\s)"'<>\]]+)`), maxLen: 2100, url: urlBare, msg: "URL with a placeholder for private data"},
		// Hidden regions: their content is scanned as hidden text.
		{id: RuleHiddenHTML, cat: catHidden, anchors: []string{"<!--"}, re: regexp.MustCompile(`^<!--`), maxLen: 8, hidden: true},
		{id: RuleHiddenHTML, cat: catHidden, anchors: []string{"display", "visibility", "font-size", "opacity", "color:", "color :"}, re: regexp.MustCompile(`^(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|pt|em|rem|%)?\s*[;"']|opacity\s*:\s*0(?:\.0+)?\s*[;"']|color\s*:\s*(?:white|#fff(?:fff)?|transparent|rgba\([^)]*,\s*0\))\s*[;"'])`), maxLen: 60, hidden: true},
		// Encoded instructions.
		pat(RuleEncoded, catEncoded, 15, "decode,base64,rot13,hex,decrypt",
			`(?:decode|base64[- ]decode|rot13|decrypt|hex[- ]decode)\s+(?:\S+\s+){0,6}?(?:and\s+)?(?:then\s+)?(?:follow|execute|run|obey|do\s+what|carry\s+out|apply)\b`,
			"asks the model to decode and follow hidden text").need("follow,execute,run,obey,do what,carry out,apply"),
		// Other languages (diacritics are stripped before matching).
		pat(RuleMultilingual, catOverride, 45, "ignore,ignorez,ignora,ignorar,oublie,oubliez,olvida,ignoriere,ignorieren,vergiss,vergessen,ignori",
			`(?:ignore[sz]?|ignora(?:r|te)?|oublie[sz]?|olvida|ignoriere|ignorieren\s+sie|vergiss|vergessen\s+sie)\s+(?:toutes\s+|todas\s+|tutte\s+|alle\s+|as\s+|todas\s+as\s+)?(?:les|tes|vos|las|tus|sus|le|as|os|deine|ihre|die|i|gli)?\s*(?:\S+\s+)?(?:instructions|consignes|regles|instrucciones|reglas|istruzioni|regole|instrucoes|regras|anweisungen|instruktionen|regeln|vorgaben)\b`,
			"tells the model to ignore its instructions (in another language)").need("instruc,consigne,regle,regla,istruzion,regole,regras,anweisung,instruktion,regeln,vorgaben"),
		pat(RuleMultilingual, catOverride, 45, "忽略,无视,無視,忘记,игнор,забудь,이전,以前,前の,上記",
			`(?:忽略|无视|無視|忘记)(?:之前|以前|先前|上面|以上|所有|全部|你的)?[^。\n]{0,10}(?:指令|指示|说明|提示|规则)|(?:以前|前|上記)の(?:指示|命令|ルール)を(?:すべて|全て)?無視|(?:игнорир|забуд)\S*\s+(?:все\s+)?(?:предыдущ|прошл|прежн|эти|свои|твои)?\S*\s*(?:инструкци|указани|правил)|이전\s*(?:의\s*)?(?:모든\s*)?(?:지시|명령|지침)\S*\s*(?:모두\s*)?무시`,
			"tells the model to ignore its instructions (in another language)"),
		pat(RuleMultilingual, catConceal, 40, "ne ,no ,nao ,non ,sag,不要,ユーザー,не ",
			`ne\s+(?:le\s+|lui\s+|leur\s+)?(?:dis|dites)\s+(?:rien|pas)\s+(?:\S+\s+){0,3}?(?:a\s+)?l'?\s*utilisateur|no\s+(?:se\s+lo\s+|le\s+)?(?:digas|menciones|cuentes)\s+(?:nada\s+)?(?:\S+\s+){0,2}?al\s+usuario|nao\s+(?:conte|diga|mencione)\s+(?:nada\s+)?(?:\S+\s+){0,2}?ao\s+usuario|non\s+(?:dire|dirlo|menzionare)\s+(?:nulla\s+|niente\s+)?(?:\S+\s+){0,2}?all'?\s*utente|sag(?:e|en\s+sie)?\s+(?:dem|der|den)\s+(?:benutzer|nutzer|anwender)\S*\s+nichts|不要告诉用户|ユーザーに(?:は)?(?:言わ|伝え|知らせ)ないで|не\s+(?:говори|сообщай|рассказывай)\S*\s+пользовател`,
			"tells the model to keep something from the user (in another language)").need("usuario,utilisateur,utente,benutzer,nutzer,anwender,пользовател,用户,ユーザー"),
	}, authorityPatterns()...)
}
