package xml

import (
	"strconv"
	"unicode/utf8"
)

// Append appends e serialized as a child of an element whose default
// namespace is parentNS. xmlns="..." is written only where e.Space differs
// from the default in scope. Elements in NSStream get the "stream:" prefix
// and no declaration (the stream header declares it); NSXML attributes are
// written xml:NAME; other attribute namespaces get a prefix (ns1, ns2...)
// declared on the element that uses it. Text and values are escaped so that
// decoding gives the tree back: & < > always, " ' \t \n \r in attribute
// values, \r in text (as character references, which line-end
// normalization leaves alone). Characters that XML cannot carry (invalid
// UTF-8, controls, U+FFFE/U+FFFF) are written as U+FFFD, so the output is
// always well-formed. Empty elements are written <x/>.
func Append(buf []byte, e *Element, parentNS string) []byte {
	buf = append(buf, '<')
	inner := parentNS
	switch e.Space {
	case NSStream:
		buf = append(buf, "stream:"...)
	case NSXML:
		buf = append(buf, "xml:"...)
	}
	buf = append(buf, e.Name...)
	if e.Space != parentNS && e.Space != NSStream && e.Space != NSXML {
		buf = append(buf, ` xmlns="`...)
		buf = escape(buf, e.Space, true)
		buf = append(buf, '"')
		inner = e.Space
	}
	for i := range e.Attrs {
		if s := e.Attrs[i].Space; needsPrefix(s) && firstSpace(e.Attrs, i) {
			buf = append(buf, " xmlns:ns"...)
			buf = strconv.AppendInt(buf, int64(prefixNum(e.Attrs, i)), 10)
			buf = append(buf, `="`...)
			buf = escape(buf, s, true)
			buf = append(buf, '"')
		}
	}
	for i := range e.Attrs {
		a := &e.Attrs[i]
		buf = append(buf, ' ')
		switch {
		case a.Space == NSXML:
			buf = append(buf, "xml:"...)
		case needsPrefix(a.Space):
			buf = append(buf, "ns"...)
			buf = strconv.AppendInt(buf, int64(prefixNum(e.Attrs, i)), 10)
			buf = append(buf, ':')
		}
		buf = append(buf, a.Name...)
		buf = append(buf, `="`...)
		buf = escape(buf, a.Value, true)
		buf = append(buf, '"')
	}
	if len(e.Children) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	for _, n := range e.Children {
		switch c := n.(type) {
		case Text:
			buf = escape(buf, string(c), false)
		case Raw:
			buf = append(buf, c...)
		case *Element:
			if c != nil {
				buf = Append(buf, c, inner)
			}
		}
	}
	buf = append(buf, "</"...)
	switch e.Space {
	case NSStream:
		buf = append(buf, "stream:"...)
	case NSXML:
		buf = append(buf, "xml:"...)
	}
	buf = append(buf, e.Name...)
	return append(buf, '>')
}

// String returns e serialized standalone: Append(nil, e, "").
func (e *Element) String() string { return string(Append(nil, e, "")) }

func needsPrefix(space string) bool { return space != "" && space != NSXML }

// firstSpace reports whether attrs[i] is the first with its namespace.
func firstSpace(attrs []Attr, i int) bool {
	for j := 0; j < i; j++ {
		if attrs[j].Space == attrs[i].Space {
			return false
		}
	}
	return true
}

// prefixNum numbers the distinct prefixed namespaces in order, from 1.
func prefixNum(attrs []Attr, i int) int {
	n := 0
	for j := 0; j <= i; j++ {
		if needsPrefix(attrs[j].Space) && firstSpace(attrs, j) {
			n++
			if attrs[j].Space == attrs[i].Space {
				return n
			}
		}
	}
	return n
}

// escPlain marks bytes written as is in text; attrPlainOut in values.
var escPlain, escPlainAttr [256]bool

func init() {
	for c := 0x20; c < 0x80; c++ {
		escPlain[c], escPlainAttr[c] = true, true
	}
	escPlain['\t'], escPlain['\n'] = true, true
	for _, c := range []byte{'&', '<', '>'} {
		escPlain[c], escPlainAttr[c] = false, false
	}
	escPlainAttr['"'], escPlainAttr['\''] = false, false
}

func escape(buf []byte, s string, attr bool) []byte {
	plain := &escPlain
	if attr {
		plain = &escPlainAttr
	}
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		var rep string
		size := 1
		switch c {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			rep = "&quot;"
		case '\'':
			rep = "&apos;"
		case '\t':
			rep = "&#x9;"
		case '\n':
			rep = "&#xA;"
		case '\r':
			rep = "&#xD;"
		default:
			if c < 0x80 {
				rep = "\uFFFD"
				break
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			size = n
			if (r != utf8.RuneError || n > 1) && isChar(r) {
				i += n
				continue
			}
			rep = "\uFFFD"
		}
		buf = append(buf, s[last:i]...)
		buf = append(buf, rep...)
		i += size
		last = i
	}
	return append(buf, s[last:]...)
}
