package destructive

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// sqlDialect selects the lexical rules of the SQL tokenizer. The rules differ in
// ways an attacker can exploit (nested comments, backslash escapes, MySQL
// executable comments), so when the dialect is unknown the text is read under
// every dialect and the findings are merged.
type sqlDialect int

const (
	dialectPostgres sqlDialect = iota
	dialectMySQL
)

func (d sqlDialect) String() string {
	if d == dialectMySQL {
		return "mysql"
	}
	return "postgres"
}

type sqlTokKind int

const (
	tokWord   sqlTokKind = iota // bare keyword or identifier (Text is lower-cased)
	tokQIdent                   // "quoted" or `backtick` identifier (Text is the unquoted name)
	tokString                   // string literal of any form (Text is the content)
	tokNumber
	tokParam // $1, ?, :name
	tokPunct // ( ) ; , . and operators
)

type sqlToken struct {
	kind sqlTokKind
	text string
	pos  int // byte offset in the source
}

// sqlLexResult is the output of one tokenizer run.
type sqlLexResult struct {
	tokens []sqlToken
	// unterminated is set when a string, quoted identifier or comment ran to the
	// end of the input.
	unterminated bool
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$'
}

func isSQLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// lexSQL tokenizes src under dialect d. It never fails: malformed input is
// reported through unterminated and whatever tokens were recognised.
func lexSQL(src string, d sqlDialect) sqlLexResult {
	var res sqlLexResult
	i := 0
	n := len(src)
	mysqlExec := 0 // depth of open MySQL /*! executable comments
	for i < n {
		c := src[i]
		switch {
		case isSQLSpace(c):
			i++
		case c >= 0x80 && unicodeSpaceAt(src, i) > 0:
			// Unicode spaces (NBSP, U+2000…, ideographic space) and zero-width
			// characters separate words: some servers accept them as
			// whitespace, and reading them so can only find more keywords.
			i += unicodeSpaceAt(src, i)
		case c == '#' && d == dialectMySQL:
			// MySQL line comment.
			for i < n && src[i] != '\n' {
				i++
			}
		case c == '-' && i+1 < n && src[i+1] == '-' &&
			(d == dialectPostgres || i+2 >= n || isSQLSpace(src[i+2]) || src[i+2] < 0x20):
			// Line comment. MySQL requires whitespace after "--".
			for i < n && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < n && src[i+1] == '*':
			if d == dialectMySQL && i+2 < n && src[i+2] == '!' {
				// MySQL executable comment: the content is code.
				i += 3
				for i < n && src[i] >= '0' && src[i] <= '9' {
					i++
				}
				mysqlExec++
				continue
			}
			j, ok := skipBlockComment(src, i, d == dialectPostgres)
			if !ok {
				res.unterminated = true
			}
			i = j
		case c == '*' && mysqlExec > 0 && i+1 < n && src[i+1] == '/':
			mysqlExec--
			i += 2
		case c == '\'':
			s, j, ok := lexQuoted(src, i, '\'', d == dialectMySQL)
			if !ok {
				res.unterminated = true
			}
			res.tokens = append(res.tokens, sqlToken{kind: tokString, text: s, pos: i})
			i = j
		case c == '"':
			s, j, ok := lexQuoted(src, i, '"', d == dialectMySQL)
			if !ok {
				res.unterminated = true
			}
			k := tokQIdent
			if d == dialectMySQL {
				k = tokString
			}
			res.tokens = append(res.tokens, sqlToken{kind: k, text: s, pos: i})
			i = j
		case c == '`' && d == dialectMySQL:
			s, j, ok := lexQuoted(src, i, '`', false)
			if !ok {
				res.unterminated = true
			}
			res.tokens = append(res.tokens, sqlToken{kind: tokQIdent, text: s, pos: i})
			i = j
		case c == '$' && d == dialectPostgres && i+1 < n && (src[i+1] == '$' || isIdentStart(src[i+1])):
			// Dollar-quoted string $tag$...$tag$ (the tag may be empty).
			j := i + 1
			for j < n && src[j] != '$' && isIdentChar(src[j]) {
				j++
			}
			if j < n && src[j] == '$' {
				tag := src[i : j+1]
				end := strings.Index(src[j+1:], tag)
				if end < 0 {
					res.unterminated = true
					res.tokens = append(res.tokens, sqlToken{kind: tokString, text: src[j+1:], pos: i})
					i = n
				} else {
					res.tokens = append(res.tokens, sqlToken{kind: tokString, text: src[j+1 : j+1+end], pos: i})
					i = j + 1 + end + len(tag)
				}
				continue
			}
			// "$name" without a closing "$": a parameter-like token.
			res.tokens = append(res.tokens, sqlToken{kind: tokParam, text: src[i:j], pos: i})
			i = j
		case c == '$' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9':
			j := i + 1
			for j < n && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			res.tokens = append(res.tokens, sqlToken{kind: tokParam, text: src[i:j], pos: i})
			i = j
		case c == '?':
			res.tokens = append(res.tokens, sqlToken{kind: tokParam, text: "?", pos: i})
			i++
		case isIdentStart(c):
			j := i + 1
			for j < n && isIdentChar(src[j]) && (src[j] < 0x80 || unicodeSpaceAt(src, j) == 0) {
				j++
			}
			word := src[i:j]
			// Prefixed strings: E'..' (Postgres escapes), N'..', X'..', B'..', U&'..'.
			if j < n && src[j] == '\'' && len(word) == 1 {
				lw := strings.ToLower(word)
				if lw == "e" || lw == "n" || lw == "x" || lw == "b" {
					s, k, ok := lexQuoted(src, j, '\'', lw == "e" || d == dialectMySQL)
					if !ok {
						res.unterminated = true
					}
					res.tokens = append(res.tokens, sqlToken{kind: tokString, text: s, pos: i})
					i = k
					continue
				}
			}
			res.tokens = append(res.tokens, sqlToken{kind: tokWord, text: strings.ToLower(word), pos: i})
			i = j
		case c >= '0' && c <= '9' || (c == '.' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9'):
			j := i + 1
			for j < n && (isIdentChar(src[j]) || src[j] == '.') {
				j++
			}
			res.tokens = append(res.tokens, sqlToken{kind: tokNumber, text: src[i:j], pos: i})
			i = j
		case c == ':' && i+1 < n && isIdentStart(src[i+1]) && (i == 0 || src[i-1] != ':'):
			j := i + 1
			for j < n && isIdentChar(src[j]) {
				j++
			}
			res.tokens = append(res.tokens, sqlToken{kind: tokParam, text: src[i:j], pos: i})
			i = j
		default:
			res.tokens = append(res.tokens, sqlToken{kind: tokPunct, text: string(c), pos: i})
			i++
		}
	}
	return res
}

// skipBlockComment returns the offset after the comment starting at i.
func skipBlockComment(src string, i int, nested bool) (int, bool) {
	depth := 0
	n := len(src)
	for i < n {
		if i+1 < n && src[i] == '/' && src[i+1] == '*' {
			if depth == 0 || nested {
				depth++
			}
			i += 2
			continue
		}
		if i+1 < n && src[i] == '*' && src[i+1] == '/' {
			depth--
			i += 2
			if depth == 0 {
				return i, true
			}
			continue
		}
		i++
	}
	return n, false
}

// lexQuoted reads a quoted run starting at src[i] == q. A doubled quote stands
// for one quote; with backslash, "\x" escapes x.
func lexQuoted(src string, i int, q byte, backslash bool) (string, int, bool) {
	var b strings.Builder
	n := len(src)
	i++
	for i < n {
		c := src[i]
		if backslash && c == '\\' && i+1 < n {
			b.WriteByte(src[i+1])
			i += 2
			continue
		}
		if c == q {
			if i+1 < n && src[i+1] == q {
				b.WriteByte(q)
				i += 2
				continue
			}
			return b.String(), i + 1, true
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), n, false
}

// unicodeSpaceAt returns the byte length of the Unicode space or zero-width
// character at src[i], or 0.
func unicodeSpaceAt(src string, i int) int {
	r, size := utf8.DecodeRuneInString(src[i:])
	switch {
	case r == utf8.RuneError:
		return 0
	case unicode.IsSpace(r), r == '\u200b', r == '\u200c', r == '\u200d', r == '\u2060', r == '\ufeff', r == '\u180e':
		return size
	}
	return 0
}
