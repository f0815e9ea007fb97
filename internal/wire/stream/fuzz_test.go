package stream

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// conditions are RFC 6120 §4.9.3's stream error conditions.
var conditions = strings.Fields(`bad-format bad-namespace-prefix conflict connection-timeout host-gone
	host-unknown improper-addressing internal-server-error invalid-from invalid-namespace invalid-xml
	not-authorized not-well-formed policy-violation remote-connection-failed reset resource-constraint
	restricted-xml see-other-host system-shutdown undefined-condition unsupported-encoding
	unsupported-feature unsupported-stanza-type unsupported-version`)

func defined(cond string) bool {
	for _, c := range conditions {
		if c == cond {
			return true
		}
	}
	return false
}

// readHeader decodes a stream header as c2s and s2s do.
func readHeader(in []byte, wantNS string) (Header, *xml.Element, *Error, error) {
	return readHeaderLimit(in, wantNS, 4<<10)
}

func readHeaderLimit(in []byte, wantNS string, limit int) (Header, *xml.Element, *Error, error) {
	d := xml.NewDecoder(bytes.NewReader(in), xml.Limits{MaxHeaderBytes: limit})
	root, err := d.ReadHeader()
	if err != nil {
		return Header{}, nil, nil, err
	}
	h, serr := ParseHeader(root, d.DefaultNS(), wantNS)
	return h, root, serr, nil
}

// FuzzReadHeader: on any input the decoder's ReadHeader and ParseHeader
// never panic; a decoder error maps to a defined stream error condition
// (RFC 6120 §4.9.3) or is the input's end; ParseHeader's errors are
// defined conditions too; a header that parses survives Append and a
// second parse unchanged.
func FuzzReadHeader(f *testing.F) {
	for _, s := range []string{
		"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0' xml:lang='en'>",
		`<?xml version="1.0" encoding="UTF-8"?><stream:stream to="example.org" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" version="1.0">`,
		"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='a.example' to='b.example' version='1.0'>",
		"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org'>",
		"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='2.0'>",
		"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.x'>",
		"<stream xmlns='http://etherx.jabber.org/streams' version='1.0'>",
		"<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0' id='a&amp;b' to='&#x41;'>",
		"<stream:stream xmlns:stream='urn:other' version='1.0'>",
		"<stream:stream version='1.0'>",
		"<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream/>",
		"\xef\xbb\xbf<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
		"\xfe\xff\x00<\x00s",
		"<!DOCTYPE x><stream:stream/>",
		"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' a='1' a='2'>",
		"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='\t\n'>",
		"<message/>", "<", "", "text",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, root, serr, err := readHeader(in, xml.NSClient)
		if err != nil {
			var xe *xml.Error
			switch {
			case errors.As(err, &xe):
				if se := FromXML(err); se == nil || !defined(se.Condition) {
					t.Fatalf("decoder error %v maps to %v: not a defined stream error", err, se)
				}
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			default:
				t.Fatalf("unexpected error %T: %v", err, err)
			}
			return
		}
		if serr != nil {
			if !defined(serr.Condition) {
				t.Fatalf("ParseHeader error %v: not a defined condition", serr)
			}
			return
		}
		if root.Space != xml.NSStream || root.Name != "stream" {
			t.Fatalf("accepted root <%s xmlns=%q>", root.Name, root.Space)
		}
		roundTrip(t, h)
	})
}

// FuzzHeaderRoundTrip: a header built from any attribute values that XML
// can carry comes back from Append, ReadHeader and ParseHeader the same.
func FuzzHeaderRoundTrip(f *testing.F) {
	f.Add(false, "example.org", "", "", "1.0", "en")
	f.Add(true, "b.example", "a.example", "5d9f0e1a2b3c", "1.0", "de-CH")
	f.Add(false, "a&b<c>'d\"", "x", "id'\"", "1.23", "")
	f.Add(false, "tab\there", "new\nline", "cr\rx", "1.0", "é")
	f.Add(false, "0", "0", "0", "0."+strings.Repeat("o", 4100), "A") // longer than the 4 KB header limit
	f.Fuzz(func(t *testing.T, server bool, to, from, id, version, lang string) {
		for _, v := range []string{to, from, id, version, lang} {
			if !xmlChars(v) {
				return // XML cannot carry it: nothing to round-trip
			}
		}
		h := Header{NS: xml.NSClient, To: to, From: from, ID: id, Version: version, Lang: lang}
		if server {
			h.NS = xml.NSServer
			h.Extra = []xml.Attr{{Name: "xmlns:db", Value: "jabber:server:dialback"}}
		}
		roundTrip(t, h)
	})
}

// roundTrip appends h and parses it back, expecting the same fields. The
// header limit is lifted to the appended size: escaping can make the
// appended header longer than the input, and the limit has its own tests.
func roundTrip(t *testing.T, h Header) {
	t.Helper()
	b := h.Append(nil)
	got, _, _, err := readHeaderLimit(b, h.NS, max(4<<10, len(b)+1))
	if err != nil {
		t.Fatalf("Append(%+v) = %q, which does not parse: %v", h, b, err)
	}
	if got.NS != h.NS || got.To != h.To || got.From != h.From || got.ID != h.ID || got.Version != h.Version || got.Lang != h.Lang {
		t.Fatalf("round trip of %q:\n got %+v\nwant %+v", b, got, h)
	}
}

// xmlChars reports whether s is UTF-8 made of XML 1.0 Chars.
func xmlChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !(r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return false
		}
	}
	return true
}
