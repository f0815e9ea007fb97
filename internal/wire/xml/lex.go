package xml

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// scanQName scans a qualified name (Namespaces in XML §4: NCName or
// NCName ':' NCName) starting at i, within buf[:e], and returns the index
// after it (e if the data ends inside the name).
func (t *Tokenizer) scanQName(i, e int) (int, error) {
	b := t.buf[:e]
	j, colon := i, -1
	for {
		for j < e && nameChar[b[j]] {
			j++
		}
		if j >= e {
			return e, nil // cut off by the end of the data
		}
		c := b[j]
		if c == ':' {
			if colon >= 0 || j == i {
				return 0, t.errAt(CondNotWellFormed, j, "a name may contain at most one ':' and not start with it")
			}
			colon = j
			j++
			continue
		}
		if c < 0x80 {
			break
		}
		r, size, ok := decodeChar(b[j:])
		if !ok {
			if size == 1 && utf8.FullRune(b[j:]) || j+size < e {
				return 0, t.errAt(CondNotWellFormed, j, "invalid UTF-8 or character outside the XML Char range")
			}
			return e, nil // a multi-byte character cut off by the end of the data
		}
		if j == i || j == colon+1 {
			if !isNameStartRune(r) {
				return 0, t.errAt(CondNotWellFormed, j, "character not allowed at the start of a name")
			}
		} else if !isNameRune(r) {
			return 0, t.errAt(CondNotWellFormed, j, "character not allowed in a name")
		}
		j += size
	}
	if j == i {
		return 0, t.errAt(CondNotWellFormed, i, "expected a name")
	}
	if b[i] < 0x80 && !nameStart[b[i]] {
		return 0, t.errAt(CondNotWellFormed, i, "a name must start with a letter or '_'")
	}
	if colon >= 0 {
		if colon == j-1 {
			return 0, t.errAt(CondNotWellFormed, colon, "a name must not end with ':'")
		}
		if c := b[colon+1]; c < 0x80 && !nameStart[c] {
			return 0, t.errAt(CondNotWellFormed, colon+1, "a local name must start with a letter or '_'")
		}
	}
	return j, nil
}

// checkText validates character data buf[p:q] and reports whether
// Unescape must rewrite it (references or \r).
func (t *Tokenizer) checkText(p, q int) (bool, error) {
	b := t.buf[:q]
	esc := false
	for i := p; i < q; {
		// Fast path: 8 plain bytes at a time.
		for i+8 <= q && textPlain[b[i]] && textPlain[b[i+1]] && textPlain[b[i+2]] && textPlain[b[i+3]] &&
			textPlain[b[i+4]] && textPlain[b[i+5]] && textPlain[b[i+6]] && textPlain[b[i+7]] {
			i += 8
		}
		if i >= q {
			break
		}
		c := b[i]
		switch {
		case textPlain[c]:
			i++
		case c == '&':
			n, err := t.checkRef(i, q)
			if err != nil {
				return false, err
			}
			i += n
			esc = true
		case c == ']':
			if i+2 < q && b[i+1] == ']' && b[i+2] == '>' {
				return false, t.errAt(CondNotWellFormed, i, "']]>' in character data")
			}
			i++
		case c == '\r':
			esc = true
			i++
		case c >= 0x80:
			_, size, ok := decodeChar(b[i:q])
			if !ok {
				return false, t.errAt(CondNotWellFormed, i, "invalid UTF-8 or character outside the XML Char range")
			}
			i += size
		default:
			return false, t.errAt(CondNotWellFormed, i, "control character outside the XML Char range")
		}
	}
	return esc, nil
}

// checkAttr validates an attribute value buf[p:q]; whitespace other than
// ' ' and references need Unescape (attribute-value normalization).
func (t *Tokenizer) checkAttr(p, q int) (bool, error) {
	b := t.buf[:q]
	esc := false
	for i := p; i < q; {
		for i+4 <= q && attrPlain[b[i]] && attrPlain[b[i+1]] && attrPlain[b[i+2]] && attrPlain[b[i+3]] {
			i += 4
		}
		if i >= q {
			break
		}
		c := b[i]
		switch {
		case attrPlain[c]:
			i++
		case c == '&':
			n, err := t.checkRef(i, q)
			if err != nil {
				return false, err
			}
			i += n
			esc = true
		case c == '\t' || c == '\n' || c == '\r':
			esc = true
			i++
		case c == '<':
			return false, t.errAt(CondNotWellFormed, i, "'<' in an attribute value")
		case c >= 0x80:
			_, size, ok := decodeChar(b[i:q])
			if !ok {
				return false, t.errAt(CondNotWellFormed, i, "invalid UTF-8 or character outside the XML Char range")
			}
			i += size
		default:
			return false, t.errAt(CondNotWellFormed, i, "control character outside the XML Char range")
		}
	}
	return esc, nil
}

// checkCDATA validates a CDATA section's content: characters only.
func (t *Tokenizer) checkCDATA(p, q int) (bool, error) {
	b := t.buf[:q]
	esc := false
	for i := p; i < q; {
		c := b[i]
		switch {
		case c >= 0x20 && c < 0x80, c == '\t', c == '\n':
			i++
		case c == '\r':
			esc = true
			i++
		case c >= 0x80:
			_, size, ok := decodeChar(b[i:q])
			if !ok {
				return false, t.errAt(CondNotWellFormed, i, "invalid UTF-8 or character outside the XML Char range")
			}
			i += size
		default:
			return false, t.errAt(CondNotWellFormed, i, "control character outside the XML Char range")
		}
	}
	return esc, nil
}

// checkRef validates the reference at buf[i] == '&' (ending before q) and
// returns its length. Only the five predefined entities and character
// references to Chars exist in XMPP (RFC 6120 §11.1).
func (t *Tokenizer) checkRef(i, q int) (int, error) {
	b := t.buf[:q]
	j := i + 1
	if j < q && b[j] == '#' {
		j++
		hex := j < q && b[j] == 'x'
		if hex {
			j++
		}
		start, v := j, 0
		for ; j < q && b[j] != ';'; j++ {
			d := digitVal(b[j], hex)
			if d < 0 {
				return 0, t.errAt(CondNotWellFormed, i, "malformed character reference")
			}
			if hex {
				v = v*16 + d
			} else {
				v = v*10 + d
			}
			if v > 0x10FFFF {
				v = 0x110000 // stays invalid, cannot overflow
			}
		}
		if j == start || j >= q {
			return 0, t.errAt(CondNotWellFormed, i, "malformed character reference")
		}
		if !isChar(rune(v)) {
			return 0, t.errAt(CondNotWellFormed, i, "character reference to a character outside the XML Char range")
		}
		return j + 1 - i, nil
	}
	for j < q && b[j] != ';' && (nameByte[b[j]] || b[j] >= 0x80) {
		j++
	}
	if j >= q || b[j] != ';' || j == i+1 {
		return 0, t.errAt(CondNotWellFormed, i, "'&' must start a reference such as &amp;")
	}
	switch string(b[i+1 : j]) {
	case "lt", "gt", "amp", "apos", "quot":
		return j + 1 - i, nil
	}
	return 0, t.errAt(CondRestrictedXML, i, "undefined entity &"+string(b[i+1:j])+"; (only &lt; &gt; &amp; &apos; &quot; exist in XMPP)")
}

func digitVal(c byte, hex bool) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case hex && c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case hex && c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// xmlDecl checks the XML declaration's pseudo-attributes in buf[i:q]
// (XML 1.0 §2.8): version 1.x required, encoding UTF-8 only (RFC 6120
// §11.6), standalone yes/no.
func (t *Tokenizer) xmlDecl(i, q int) error {
	b := t.buf[:q]
	bad := func(at int, msg string) error { return t.errAt(CondNotWellFormed, at, "XML declaration: "+msg) }
	order := []string{"version", "encoding", "standalone"}
	next := 0
	for {
		k := i
		for k < q && isSpace(b[k]) {
			k++
		}
		if k == q {
			break
		}
		if k == i {
			return bad(k, "pseudo-attributes must be separated by whitespace")
		}
		n := k
		for n < q && b[n] >= 'a' && b[n] <= 'z' {
			n++
		}
		name := string(b[k:n])
		for next < len(order) && order[next] != name {
			if next == 0 {
				return bad(k, "version must come first")
			}
			next++
		}
		if next == len(order) {
			return bad(k, "unknown or misplaced pseudo-attribute "+name)
		}
		next++
		for n < q && isSpace(b[n]) {
			n++
		}
		if n == q || b[n] != '=' {
			return bad(n, "expected '='")
		}
		n++
		for n < q && isSpace(b[n]) {
			n++
		}
		if n == q || (b[n] != '"' && b[n] != '\'') {
			return bad(n, "expected a quoted value")
		}
		e := bytes.IndexByte(b[n+1:q], b[n])
		if e < 0 {
			return bad(n, "unterminated value")
		}
		val := string(b[n+1 : n+1+e])
		switch name {
		case "version":
			if len(val) < 3 || !strings.HasPrefix(val, "1.") || strings.Trim(val[2:], "0123456789") != "" {
				return bad(n, "version must be 1.0")
			}
		case "encoding":
			if !strings.EqualFold(val, "UTF-8") {
				return t.errAt(CondUnsupportedEncoding, n, "encoding "+val+" is not supported: XMPP streams are UTF-8 (RFC 6120 §11.6)")
			}
		case "standalone":
			if val != "yes" && val != "no" {
				return bad(n, "standalone must be yes or no")
			}
		}
		i = n + 2 + e
	}
	if next == 0 {
		return bad(i, "version is required")
	}
	return nil
}
