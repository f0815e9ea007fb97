package xml

import "unicode/utf8"

// Byte classes for the ASCII fast paths. A byte that is "plain" needs no
// attention: it is a valid Char, not markup, and not rewritten by
// unescaping.
var (
	textPlain [256]bool // character data: everything but < & ] \r, controls, non-ASCII
	attrPlain [256]bool // attribute values: also \t \n are rewritten (normalized to spaces)
	nameStart [256]bool // ASCII NameStartChar minus ':' (QName rules handle it)
	nameByte  [256]bool // ASCII NameChar, ':' included
	nameChar  [256]bool // ASCII NameChar without ':'
)

func init() {
	for c := 0x20; c < 0x80; c++ {
		textPlain[c] = true
		attrPlain[c] = true
	}
	textPlain['\t'], textPlain['\n'] = true, true
	for _, c := range []byte{'<', '&', ']'} {
		textPlain[c] = false
	}
	for _, c := range []byte{'<', '&'} {
		attrPlain[c] = false
	}
	for c := 'a'; c <= 'z'; c++ {
		nameStart[c], nameStart[c-'a'+'A'] = true, true
	}
	nameStart['_'] = true
	nameByte = nameStart
	for c := '0'; c <= '9'; c++ {
		nameByte[c] = true
	}
	nameByte['-'], nameByte['.'] = true, true
	nameChar = nameByte
	nameByte[':'] = true
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// isChar is the XML 1.0 Char production for a decoded rune (utf8 decoding
// already rejects surrogates).
func isChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == '\t' || r == '\n' || r == '\r'
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	default:
		return r >= 0x10000 && r <= 0x10FFFF
	}
}

// isNameStartRune and isNameRune are XML 1.0 (5th ed.) §2.3 productions 4
// and 4a for non-ASCII runes.
func isNameStartRune(r rune) bool {
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	return false
}

func isNameRune(r rune) bool {
	return isNameStartRune(r) || r == 0xB7 || (r >= 0x300 && r <= 0x36F) || (r >= 0x203F && r <= 0x2040)
}

// decodeChar decodes one non-ASCII character; ok is false for invalid
// UTF-8 or a rune outside Char.
func decodeChar(b []byte) (r rune, size int, ok bool) {
	r, size = utf8.DecodeRune(b)
	if r == utf8.RuneError && size <= 1 {
		return r, 1, false
	}
	return r, size, isChar(r)
}
