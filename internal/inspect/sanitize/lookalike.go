package sanitize

// Latin returns the ASCII letter that the lower-case Cyrillic or Greek letter r renders like ("ignоre" with
// a Cyrillic о reads as "ignore"), and whether there is one. It is the one table of these look-alikes:
// policy names, the destructive classifier's tool names and the injection detector all read through it.
func Latin(r rune) (byte, bool) {
	a, ok := latinLookalikes[r]
	return a, ok
}

var latinLookalikes = map[rune]byte{
	// Cyrillic
	'а': 'a', 'в': 'b', 'с': 'c', 'ԁ': 'd', 'е': 'e', 'ё': 'e', 'г': 'r', 'һ': 'h', 'і': 'i', 'ї': 'i',
	'ј': 'j', 'к': 'k', 'ӏ': 'l', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'ѕ': 's', 'т': 't',
	'у': 'y', 'ѵ': 'v', 'ԝ': 'w', 'х': 'x', 'ү': 'y',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x', 'γ': 'y', 'ω': 'w', 'ϲ': 'c', 'ϳ': 'j', 'ς': 's',
}
