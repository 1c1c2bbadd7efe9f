package pii

import (
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strings"
)

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
func isAlnum(c byte) bool { return isDigit(c) || isLetter(c) }
func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanner collects findings over one text.
type scanner struct {
	text string
	out  []Finding
	run  numberRun // the last number run read; bufs back its groups and separators
	bufs *[2][maxRunGroups]string
}

func (s *scanner) add(kind string, start, end int, conf Confidence) {
	s.out = append(s.out, Finding{
		RuleID:      kind,
		Description: descriptions[kind],
		Start:       start,
		End:         end,
		Confidence:  conf,
		Preview:     mask(kind, s.text[start:end]),
	})
}

// starts marks the bytes at which Scan's switch may do something: '@', digits, '+', '(', '-', 'e', ':'
// and upper-case letters. Every other byte is skipped with one lookup.
var starts = func() (t [256]bool) {
	for _, c := range []byte("@+(-e:0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t[c] = true
	}
	return t
}()

// Scan returns the personal data in text, sorted by offset.
func Scan(text string) []Finding {
	s := &scanner{text: text}
	for i := 0; i < len(text); {
		c := text[i]
		if !starts[c] {
			i++
			continue
		}
		next := i + 1
		switch {
		case c == '@':
			s.email(i)
		case isDigit(c) || c == '+' || c == '(':
			if e := s.number(i); e > i {
				next = e
			}
		case c == '-' && i+1 < len(text) && text[i+1] == '-' && strings.HasPrefix(text[i:], "-----BEGIN "):
			if e := s.pem(i); e > i {
				next = e
			}
		case c == 'e' && i+2 < len(text) && text[i+1] == 'y' && text[i+2] == 'J':
			if e := s.jwt(i); e > i {
				next = e
			}
		case c == ':':
			if e := s.ipv6(i); e > i {
				next = e
			}
		case isUpper(c) && i+3 < len(text) && isUpper(text[i+1]) && isDigit(text[i+2]) && isDigit(text[i+3]):
			if e := s.iban(i); e > i {
				next = e
			}
		}
		i = next
	}
	if len(s.out) == 0 {
		return nil
	}
	sortFindings(s.out)
	// An e-mail found at '@' may start before a number already reported (digits in the local part);
	// keep the wider match.
	out := s.out[:0]
	end := -1
	for _, f := range s.out {
		if f.Start < end {
			continue
		}
		out = append(out, f)
		end = f.End
	}
	return out
}

// ---- e-mail ----

func isLocalByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainByte(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

// fileExtensions are "TLDs" that mark a file name such as icon@2x.png rather than an address.
var fileExtensions = map[string]bool{
	"png": true, "jpg": true, "jpeg": true, "gif": true, "svg": true, "webp": true, "js": true, "ts": true,
	"css": true, "json": true, "map": true, "ico": true, "pdf": true, "txt": true, "mjs": true, "cjs": true,
	"tsx": true, "jsx": true, "avif": true, "bmp": true, "tgz": true, "zip": true, "lock": true,
}

func (s *scanner) email(at int) {
	t := s.text
	start := at
	for start > 0 && at-start < 64 && isLocalByte(t[start-1]) {
		start--
	}
	for start < at && (t[start] == '.' || t[start] == '-') {
		start++
	}
	if start == at {
		return
	}
	end := at + 1
	for end < len(t) && end-at < 255 && isDomainByte(t[end]) {
		end++
	}
	for end > at+1 && (t[end-1] == '.' || t[end-1] == '-') {
		end--
	}
	dom := t[at+1 : end]
	dot := strings.LastIndexByte(dom, '.')
	if dot <= 0 || strings.Contains(dom, "..") || dom[0] == '-' || dom[0] == '.' {
		return
	}
	tld := dom[dot+1:]
	if len(tld) < 2 || len(tld) > 24 || fileExtensions[strings.ToLower(tld)] {
		return
	}
	for i := 0; i < len(tld); i++ {
		if !isLetter(tld[i]) {
			return
		}
	}
	s.add(KindEmail, start, end, Medium)
}

// ---- numbers: cards, SSNs, phones, IPv4 ----

// numberRun is a run of digit groups separated by single separators, with an optional leading '+' or
// '('.
type numberRun struct {
	start, end int
	groups     []string // digit groups
	seps       []string // separators between groups (len(groups)-1)
	plus       bool
	digits     string
}

// leftOK reports whether a number may start at i: not inside a word, a version, a path, a time or a
// decimal.
func leftOK(t string, i int) bool {
	if i == 0 {
		return true
	}
	c := t[i-1]
	if isAlnum(c) || c == '_' || c == '/' || c == '\\' || c == '#' || c == '@' || c == '$' || c == '%' || c == '&' || c == '=' && i >= 2 && t[i-2] == '=' {
		return false
	}
	if (c == '.' || c == ':' || c == '-' || c == ',') && i >= 2 && isAlnum(t[i-2]) {
		return false
	}
	return true
}

// rightOK reports whether a number may end at e.
func rightOK(t string, e int) bool {
	if e >= len(t) {
		return true
	}
	c := t[e]
	if isAlnum(c) || c == '_' || c == '/' || c == '\\' || c == '%' || c == '@' {
		return false
	}
	if (c == '.' || c == ':' || c == '-' || c == ',') && e+1 < len(t) && isAlnum(t[e+1]) {
		return false
	}
	return true
}

const maxRunGroups = 8

// readRun reads the number run at i into r (whose groups and seps it reuses); ok is false when i does not
// start one. r.digits is left empty: runDigits joins the groups when a rule needs them.
func readRun(t string, i int, r *numberRun) bool {
	*r = numberRun{start: i, groups: r.groups[:0], seps: r.seps[:0]}
	j := i
	if t[j] == '+' {
		r.plus = true
		j++
	}
	if j < len(t) && t[j] == '(' {
		j++
	}
	if j >= len(t) || !isDigit(t[j]) {
		return false
	}
	for j < len(t) && len(r.groups) < maxRunGroups {
		g := j
		for j < len(t) && isDigit(t[j]) {
			j++
		}
		if j-g > 19 {
			return false
		}
		r.groups = append(r.groups, t[g:j])
		r.end = j
		// A separator: one of " -.", or a parenthesis with at most one space or dash beside it.
		k := j
		switch {
		case k < len(t) && (t[k] == ')' || t[k] == '('):
			k++
		case k+1 < len(t) && (t[k] == ' ' || t[k] == '-') && t[k+1] == '(':
			k += 2
		case k < len(t) && (t[k] == ' ' || t[k] == '-' || t[k] == '.'):
			k++
		}
		if k > j && t[k-1] == ')' && k < len(t) && (t[k] == ' ' || t[k] == '-') {
			k++
		}
		if k == j || k >= len(t) || !isDigit(t[k]) {
			break
		}
		r.seps = append(r.seps, t[j:k])
		j = k
	}
	return true
}

// runDigits returns the digits of r's groups, joined.
func runDigits(r *numberRun) string {
	if len(r.groups) == 1 {
		return r.groups[0]
	}
	return strings.Join(r.groups, "")
}

func (s *scanner) number(i int) int {
	t := s.text
	left := leftOK(t, i)
	// After "//" or "@" (a URL authority) or before ":port" or "/prefix", only an IPv4 address fits.
	ipLeft := !left && i >= 1 && (t[i-1] == '@' || i >= 2 && t[i-2:i] == "//")
	if !left && !ipLeft {
		// Skip the rest of this token so that its digits are not retried one by one.
		return skipToken(t, i)
	}
	if s.bufs == nil {
		s.bufs = new([2][maxRunGroups]string)
	}
	r := &s.run
	r.groups, r.seps = s.bufs[0][:0], s.bufs[1][:0]
	if !readRun(t, i, r) {
		return i + 1
	}
	right := rightOK(t, r.end)
	ipRight := !right && (t[r.end] == ':' || t[r.end] == '/') && r.end+1 < len(t) && isDigit(t[r.end+1])
	switch {
	case !right && !ipRight:
		return skipToken(t, r.end)
	case !left || !right:
		s.ipv4(*r)
	case s.ipv4(*r):
	default:
		r.digits = runDigits(r)
		switch {
		case s.card(*r):
		case s.ssn(*r):
		case s.phone(*r):
		}
	}
	return r.end
}

func skipToken(t string, j int) int {
	// ':' stops the skip so that an IPv6 address starting with digits is still examined there.
	for j < len(t) && (isAlnum(t[j]) || t[j] == '.' || t[j] == '-' || t[j] == '_') {
		j++
	}
	return j
}

func allSeps(r numberRun, sep string) bool {
	for _, x := range r.seps {
		if x != sep {
			return false
		}
	}
	return true
}

func (s *scanner) ipv4(r numberRun) bool {
	if len(r.groups) != 4 || r.plus || !allSeps(r, ".") || s.text[r.start] == '(' {
		return false
	}
	for _, g := range r.groups {
		if len(g) > 3 || len(g) > 1 && g[0] == '0' || len(g) == 3 && g > "255" {
			return true // dotted but not an address (a version such as 1.20.300.4): nothing else either
		}
	}
	if r.start > 0 && (s.text[r.start-1] == 'v' || s.text[r.start-1] == 'V') {
		return true
	}
	conf := addrConfidence(s.text[r.start:r.end])
	before := strings.ToLower(s.text[max(0, r.start-12):r.start])
	if strings.Contains(before, "version") || strings.Contains(before, "release") {
		conf = Low
	}
	s.add(KindIPv4, r.start, r.end, conf)
	return true
}

func luhn(d string) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// issuer reports whether a card number of this length starts in a known IIN range.
func issuer(d string) bool {
	n := len(d)
	p := func(k int) int {
		v := 0
		for i := 0; i < k && i < n; i++ {
			v = v*10 + int(d[i]-'0')
		}
		return v
	}
	switch {
	case d[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case p(2) >= 51 && p(2) <= 55, p(4) >= 2221 && p(4) <= 2720: // Mastercard
		return n == 16
	case p(2) == 34 || p(2) == 37: // American Express
		return n == 15
	case p(4) == 6011, p(3) >= 644 && p(3) <= 649, p(2) == 65: // Discover
		return n >= 16 && n <= 19
	case p(4) >= 3528 && p(4) <= 3589: // JCB
		return n >= 16 && n <= 19
	case p(3) >= 300 && p(3) <= 305, p(2) == 36, p(2) == 38, p(2) == 39: // Diners Club
		return n >= 14 && n <= 19
	case p(2) == 62: // UnionPay
		return n >= 16 && n <= 19
	case p(2) == 50, p(2) >= 56 && p(2) <= 58, p(2) == 67: // Maestro
		return n >= 12 && n <= 19
	}
	return false
}

func (s *scanner) card(r numberRun) bool {
	n := len(r.digits)
	if n < 13 || n > 19 || r.plus || s.text[r.start] == '(' {
		return false
	}
	if len(r.groups) > 1 {
		// Grouped as printed on cards: 4-4-4-4(-3), 4-6-5 or 4-6-4, one separator kind.
		if !allSeps(r, " ") && !allSeps(r, "-") {
			return false
		}
		sizes := make([]int, len(r.groups))
		for i, g := range r.groups {
			sizes[i] = len(g)
		}
		ok := false
		switch {
		case len(sizes) == 3 && sizes[0] == 4 && sizes[1] == 6 && (sizes[2] == 5 || sizes[2] == 4):
			ok = true
		case sizes[0] == 4:
			ok = true
			for i, z := range sizes {
				if z != 4 && !(i == len(sizes)-1 && z >= 1 && z <= 4) {
					ok = false
				}
			}
		}
		if !ok {
			return false
		}
	}
	if strings.Count(r.digits, r.digits[:1]) == n || !luhn(r.digits) || !issuer(r.digits) {
		return false
	}
	s.add(KindCard, r.start, r.end, High)
	return true
}

func validSSN(area, group, serial string) bool {
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

func (s *scanner) ssn(r numberRun) bool {
	if r.plus || s.text[r.start] == '(' {
		return false
	}
	g := r.groups
	if len(g) == 3 && len(g[0]) == 3 && len(g[1]) == 2 && len(g[2]) == 4 && (allSeps(r, "-") || allSeps(r, " ")) {
		if !validSSN(g[0], g[1], g[2]) {
			return true // the shape of an SSN in an invalid range: not a phone either
		}
		conf := Medium
		if ssnContext(s.text, r.start) {
			conf = High
		}
		s.add(KindSSN, r.start, r.end, conf)
		return true
	}
	if len(g) == 1 && len(g[0]) == 9 && ssnContext(s.text, r.start) && validSSN(g[0][:3], g[0][3:5], g[0][5:]) {
		s.add(KindSSN, r.start, r.end, Medium)
		return true
	}
	return false
}

// ssnContext reports whether the 40 bytes before i name a social security number.
func ssnContext(t string, i int) bool {
	b := strings.ToLower(t[max(0, i-40):i])
	return strings.Contains(b, "ssn") || strings.Contains(b, "social security") || strings.Contains(b, "social-security")
}

func (s *scanner) phone(r numberRun) bool {
	t := s.text
	n := len(r.digits)
	g := r.groups
	if r.plus {
		// E.164: a country code that does not start with 0 and 8 to 15 digits in all.
		if n < 8 || n > 15 || r.digits[0] == '0' {
			return false
		}
		if len(g) == 1 && n < 10 {
			return false
		}
		s.add(KindPhone, r.start, r.end, Medium)
		return true
	}
	// North American: (NXX) NXX-XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX, optionally after "1 " or "1-".
	k := 0
	if len(g) == 4 && g[0] == "1" {
		k = 1
	}
	if len(g)-k == 3 && len(g[k]) == 3 && len(g[k+1]) == 3 && len(g[k+2]) == 4 && g[k][0] >= '2' && g[k+1][0] >= '2' {
		seps := r.seps[k:]
		paren := strings.Contains(t[r.start:r.end], "(")
		if paren && !strings.HasSuffix(seps[0], ")") && !strings.HasPrefix(seps[0], ")") {
			return false
		}
		same := seps[0] == seps[1] && (seps[0] == "-" || seps[0] == "." || seps[0] == " ")
		if paren && (seps[1] == "-" || seps[1] == " ") || same {
			conf := Medium
			if !paren && seps[0] == "." {
				conf = Low
			}
			s.add(KindPhone, r.start, r.end, conf)
			return true
		}
	}
	// National formats with a trunk prefix 0 and at least three groups: 020 7946 0958, 01 23 45 67 89,
	// 030-1234-5678.
	if len(g) >= 3 && g[0][0] == '0' && n >= 9 && n <= 12 && (allSeps(r, " ") || allSeps(r, "-") || allSeps(r, ".")) && t[r.start] != '(' {
		for _, x := range g {
			if len(x) < 2 || len(x) > 5 {
				return false
			}
		}
		if len(g[0]) == 4 && len(g) == 3 && len(g[1]) == 2 && len(g[2]) == 2 {
			return false // 0123-45-67: too date-like
		}
		s.add(KindPhone, r.start, r.end, Low)
		return true
	}
	return false
}

// documentation prefixes (RFC 5737, RFC 3849): example addresses, not anyone's.
var documentation = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32"),
}

// addrConfidence is Medium for an address that can identify a host on the internet and Low for
// loopback, private, link-local, unspecified and documentation addresses.
func addrConfidence(s string) Confidence {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Low
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() {
		return Low
	}
	for _, p := range documentation {
		if p.Contains(a) {
			return Low
		}
	}
	return Medium
}

// ---- IPv6 ----

func (s *scanner) ipv6(colon int) int {
	t := s.text
	start := colon
	for start > 0 && colon-start < 40 && (isHex(t[start-1]) || t[start-1] == ':') {
		start--
	}
	end := colon
	for end < len(t) && end-start < 45 && (isHex(t[end]) || t[end] == ':' || t[end] == '.') {
		end++
	}
	for end > colon && t[end-1] == '.' {
		end--
	}
	if start > 0 && (isAlnum(t[start-1]) || t[start-1] == '.' || t[start-1] == '_') {
		return end
	}
	if end < len(t) && (isAlnum(t[end]) || t[end] == '_') {
		return end
	}
	cand := t[start:end]
	colons := strings.Count(cand, ":")
	if colons < 2 || !strings.ContainsAny(cand, "0123456789abcdefABCDEF") {
		return end
	}
	if !strings.Contains(cand, "::") && colons != 7 {
		return end
	}
	a, err := netip.ParseAddr(cand)
	if err != nil || !a.Is6() {
		return end
	}
	s.add(KindIPv6, start, end, addrConfidence(cand))
	return end
}

// ---- IBAN ----

// ibanLengths is the IBAN length of each country that issues them.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
	"RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

func ibanValid(s string) bool {
	rem := 0
	for i := 0; i < len(s); i++ {
		c := s[(i+4)%len(s)] // country code and check digits move to the end
		switch {
		case isDigit(c):
			rem = (rem*10 + int(c-'0')) % 97
		case isUpper(c):
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

func (s *scanner) iban(i int) int {
	t := s.text
	if i > 0 && (isAlnum(t[i-1]) || t[i-1] == '_' || t[i-1] == '/') {
		return i + 1
	}
	want, ok := ibanLengths[t[i:i+2]]
	if !ok {
		return i + 1
	}
	var b strings.Builder
	j := i
	for j < len(t) && b.Len() < want {
		c := t[j]
		if isDigit(c) || isUpper(c) {
			b.WriteByte(c)
			j++
			continue
		}
		if c == ' ' && b.Len()%4 == 0 && j+1 < len(t) && (isDigit(t[j+1]) || isUpper(t[j+1])) {
			j++
			continue
		}
		break
	}
	if b.Len() != want || j < len(t) && (isAlnum(t[j]) || t[j] == '_') || !ibanValid(b.String()) {
		return i + 1
	}
	s.add(KindIBAN, i, j, High)
	return j
}

// ---- PEM private keys ----

func (s *scanner) pem(i int) int {
	t := s.text
	line := t[i:]
	if nl := strings.IndexByte(line, '\n'); nl >= 0 {
		line = line[:nl]
	}
	head := line
	if len(head) > 80 {
		head = head[:80]
	}
	if !strings.Contains(head, "PRIVATE KEY-----") {
		return i + 1
	}
	label := head[len("-----BEGIN ") : strings.Index(head, "PRIVATE KEY-----")+len("PRIVATE KEY")]
	endMark := "-----END " + label + "-----"
	if e := strings.Index(t[i:], endMark); e >= 0 {
		s.add(KindPrivateKey, i, i+e+len(endMark), High)
		return i + e + len(endMark)
	}
	// Truncated block: take the header and the base64 body that follows.
	j := i + len(head)
	for j < len(t) {
		c := t[j]
		if isAlnum(c) || c == '+' || c == '/' || c == '=' || c == '\n' || c == '\r' || c == ':' || c == ' ' || c == '-' || c == ',' {
			j++
			continue
		}
		break
	}
	s.add(KindPrivateKey, i, j, Medium)
	return j
}

// ---- JWT ----

func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

func decodeB64URL(p string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
	return b, err == nil
}

func (s *scanner) jwt(i int) int {
	t := s.text
	if i > 0 && (isB64URL(t[i-1]) || t[i-1] == '.') {
		return i + 1
	}
	var parts [3]int // end of each part
	j := i
	for k := range 3 {
		for j < len(t) && isB64URL(t[j]) {
			j++
		}
		parts[k] = j
		if k < 2 {
			if j >= len(t) || t[j] != '.' {
				return i + 1
			}
			j++
		}
	}
	if j < len(t) && (t[j] == '.' || t[j] == '=') {
		return i + 1 // four parts: a JWE or something else
	}
	header, payload := t[i:parts[0]], t[parts[0]+1:parts[1]]
	if len(header) < 10 || len(payload) < 4 {
		return i + 1
	}
	hb, ok := decodeB64URL(header)
	if !ok {
		return i + 1
	}
	var h map[string]any
	if json.Unmarshal(hb, &h) != nil {
		return i + 1
	}
	if _, ok := h["alg"].(string); !ok {
		return i + 1
	}
	conf := Medium
	if pb, ok := decodeB64URL(payload); ok && json.Valid(pb) && len(pb) > 0 && pb[0] == '{' {
		conf = High
	}
	s.add(KindJWT, i, j, conf)
	return j
}
