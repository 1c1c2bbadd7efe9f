package secrets

import (
	"bytes"
	"sync/atomic"
)

// The gateway runs several detectors (secrets, pii, injection) over the same tool result, one after the
// other, and each walks it: validation and string decoding cost about 1.5 ns per byte each time. WalkJSON
// therefore keeps the tokens of the last document it walked, with a copy of its bytes; a walk of equal
// bytes replays them. The entry is immutable and swapped atomically, so concurrent walks of different
// documents only evict each other; a document that changed in place is not equal to the copy, so it is
// walked again.
type walked struct {
	raw    string // a copy of the document
	valid  bool
	tokens []JSONToken // frames point into frames
	frames []frame
}

var lastWalk atomic.Pointer[walked]

// maxCachedWalk is the largest document whose walk is kept (its copy and tokens stay in memory).
const maxCachedWalk = 1 << 20

// WalkJSON calls visit for every object key and scalar value of raw, in document order. It returns
// false, having visited nothing, when raw is not valid JSON. The token passed to visit is only valid
// during the call.
func WalkJSON(raw []byte, visit func(t *JSONToken)) bool {
	if w := lastWalk.Load(); w != nil && w.raw == string(raw) {
		return w.replay(visit)
	}
	if len(raw) > maxCachedWalk {
		return walkJSON(raw, visit)
	}
	// Keeping tokens costs about as much as walking again when they are many and small (an API listing
	// of short fields): keep at most one per 48 bytes of document. Strings are at most half the quotes.
	limit := len(raw)/48 + 8
	if bytes.Count(raw, []byte{'"'})/2 > limit {
		return walkJSON(raw, visit)
	}
	w := &walked{raw: string(raw), tokens: make([]JSONToken, 0, min(limit, 64))}
	keep := true
	w.valid = validJSON(raw) && walkValid(raw, w.raw, func(t *JSONToken) {
		if keep {
			if len(w.tokens) == limit {
				keep, w.tokens, w.frames = false, nil, nil
			} else {
				c := *t
				at := len(w.frames)
				w.frames = append(w.frames, t.frames...)
				c.frames = w.frames[at:len(w.frames):len(w.frames)]
				w.tokens = append(w.tokens, c)
			}
		}
		visit(t)
	})
	if !keep {
		return w.valid
	}
	// frames may have moved while growing: point every token at the final array.
	at := 0
	for i := range w.tokens {
		n := len(w.tokens[i].frames)
		w.tokens[i].frames = w.frames[at : at+n : at+n]
		at += n
	}
	lastWalk.Store(w)
	return w.valid
}

func (w *walked) replay(visit func(t *JSONToken)) bool {
	if !w.valid {
		return false
	}
	for i := range w.tokens {
		t := w.tokens[i] // a copy: visit must not change the cached token
		visit(&t)
	}
	return true
}
