package xml

import "unicode/utf8"

type escMode uint8

const (
	modeText  escMode = iota // references, \r\n and \r -> \n (XML 1.0 §2.11)
	modeAttr                 // also \t \n \r -> ' ' (attribute-value normalization, §3.3.3)
	modeCDATA                // only line ends
)

// AppendText appends the decoded character data of a CharData token.
func (tok *Token) AppendText(dst []byte) []byte {
	if !tok.Escaped {
		return append(dst, tok.Data...)
	}
	if tok.CDATA {
		return unescape(dst, tok.Data, modeCDATA)
	}
	return unescape(dst, tok.Data, modeText)
}

// AppendValue appends the decoded, normalized attribute value.
func (a *RawAttr) AppendValue(dst []byte) []byte {
	if !a.Escaped {
		return append(dst, a.Value...)
	}
	return unescape(dst, a.Value, modeAttr)
}

// unescape decodes b, which the tokenizer has already validated.
func unescape(dst, b []byte, mode escMode) []byte {
	i := 0
	for i < len(b) {
		j := i
		for j < len(b) && !special(b[j], mode) {
			j++
		}
		dst = append(dst, b[i:j]...)
		if j == len(b) {
			break
		}
		switch c := b[j]; c {
		case '\r':
			if j+1 < len(b) && b[j+1] == '\n' {
				j++
			}
			if mode == modeAttr {
				dst = append(dst, ' ')
			} else {
				dst = append(dst, '\n')
			}
			i = j + 1
		case '\t', '\n':
			dst = append(dst, ' ')
			i = j + 1
		default: // '&'
			k := j + 1
			for k < len(b) && b[k] != ';' {
				k++
			}
			dst = appendRef(dst, b[j+1:k])
			i = k + 1
		}
	}
	return dst
}

func special(c byte, mode escMode) bool {
	switch mode {
	case modeText:
		return c == '&' || c == '\r'
	case modeAttr:
		return c == '&' || c == '\r' || c == '\t' || c == '\n'
	}
	return c == '\r'
}

// appendRef decodes a validated reference body (between '&' and ';').
func appendRef(dst, ref []byte) []byte {
	if len(ref) > 1 && ref[0] == '#' {
		hex := ref[1] == 'x'
		digits := ref[1:]
		if hex {
			digits = ref[2:]
		}
		v := 0
		for _, c := range digits {
			if hex {
				v = v*16 + digitVal(c, true)
			} else {
				v = v*10 + digitVal(c, false)
			}
		}
		return utf8.AppendRune(dst, rune(v))
	}
	switch string(ref) {
	case "lt":
		return append(dst, '<')
	case "gt":
		return append(dst, '>')
	case "amp":
		return append(dst, '&')
	case "apos":
		return append(dst, '\'')
	}
	return append(dst, '"')
}
