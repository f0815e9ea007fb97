package jid

// The fast path accepts only pure-ASCII parts that full preparation would
// return unchanged, so skipping PRECIS and IDNA cannot change the result:
//
//   - localpart: printable ASCII 0x21-0x7E is PVALID in the IdentifierClass
//     (RFC 8264 §9.11); width mapping and NFC do not touch ASCII; case
//     mapping only touches 'A'-'Z', which we leave to the slow path; the
//     bidi rule only applies to strings with right-to-left characters.
//     The §3.3.1 forbidden characters are excluded.
//   - domainpart: lowercase LDH labels (a-z, 0-9, '-'), none empty, none
//     starting or ending with '-', none with "--" in positions 3-4 (so no
//     A-label to decode and nothing UTS #46 CheckHyphens rejects), and no
//     final dot. A dotted quad passes unchanged either way.
//   - resourcepart: 0x20-0x7E is allowed by the FreeformClass and left
//     unchanged by OpaqueString (its space mapping only touches non-ASCII
//     spaces).
//
// FuzzParse compares this path against the full preparation.

var localOK, resourceOK [256]bool

func init() {
	for c := 0x20; c <= 0x7e; c++ {
		resourceOK[c] = true
		if c > 0x20 && (c < 'A' || c > 'Z') {
			localOK[c] = true
		}
	}
	for _, c := range "\"&'/:<>@" {
		localOK[c] = false
	}
}

func isCanonicalLocal(s string) bool {
	if len(s) > MaxPartLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !localOK[s[i]] {
			return false
		}
	}
	return true // "" means no localpart, already checked by split
}

func isCanonicalResource(s string) bool {
	if len(s) > MaxPartLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !resourceOK[s[i]] {
			return false
		}
	}
	return true
}

func isCanonicalDomain(s string) bool {
	if len(s) == 0 || len(s) > MaxPartLen {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
			continue
		}
		label := s[start:i]
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' ||
			len(label) >= 4 && label[2] == '-' && label[3] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}
