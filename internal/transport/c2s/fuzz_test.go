package c2s_test

import (
	"bytes"
	"encoding/base64"
	stdxml "encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// FuzzPreAuth drives a real session with arbitrary bytes from a client
// that then stops sending (half-close): before authentication, whatever
// the bytes, the server must not panic, must end the stream within a
// deadline, and must end it well-formed (RFC 6120 §4.4, §4.9): its header,
// elements, at most one stream error as the last of them, the close tag.
func FuzzPreAuth(f *testing.F) {
	first := base64.StdEncoding.EncodeToString([]byte("n,,n=alice,r=abcdefghijklmnop"))
	for _, s := range []string{
		"",
		header,
		header + "</stream:stream>",
		header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" + first + "</auth>",
		header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>" + first + "</auth><response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>Yz1iaXdzLHI9eA==</response>",
		header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" + first + "</auth><abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
		header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHg=</auth>",
		header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-NONE'/>",
		header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
		header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\x16\x03\x01\x00\x05hello",
		header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><auth/>",
		header + "<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>",
		header + "<iq type='set' id='r2'><query xmlns='jabber:iq:register'><username>x</username></query></iq>",
		header + "<iq type='get' id='v'><query xmlns='jabber:iq:version'/></iq>",
		header + "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
		header + "<message to='bob@example.org'><body>hi</body></message>",
		header + "<presence/>",
		header + "<enable xmlns='urn:xmpp:sm:3'/>",
		header + "<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>",
		header + "<a xmlns='urn:xmpp:sm:3' h='4294967296'/>",
		header + "  \n <mess",
		header + "text at the top",
		header + "<![CDATA[x]]>",
		header + "<?pi x?>",
		header + "<!-- c --><presence/>",
		header + "<a><b><c><d><e><f><g><h><i><j><k><l><m><n><o><p><q><r><s><t><u><v><w><x><y><z>",
		header + "</stream:stream><message/>",
		header + "<stream:stream>",
		"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='elsewhere.example' version='1.0'>",
		"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "' version='0.9'>",
		"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "'>",
		"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
		"<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' version='1.0'>",
		"<stream xmlns='jabber:client' version='1.0'>",
		"<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
		"\xfe\xff\x00<\x00s",
		"<!DOCTYPE stream><stream:stream/>",
		"<message/>",
		"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	s := newTestServer(f, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := s.dial()
		defer c.Close()
		c.Write(in)
		c.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("the stream did not end within 5s after the input ended (%v); got %q", err, out)
		}
		if len(out) == 0 {
			return // no stream was opened: closing TCP is all there is to do
		}
		if err := checkEnd(out); err != nil {
			t.Fatalf("%v\ninput:  %q\noutput: %q", err, in, out)
		}
	})
}

// streamErrors are RFC 6120 §4.9.3's conditions.
var streamErrors = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`bad-format bad-namespace-prefix conflict connection-timeout host-gone
		host-unknown improper-addressing internal-server-error invalid-from invalid-namespace invalid-xml
		not-authorized not-well-formed policy-violation remote-connection-failed reset resource-constraint
		restricted-xml see-other-host system-shutdown undefined-condition unsupported-encoding
		unsupported-feature unsupported-stanza-type unsupported-version`) {
		streamErrors[c] = true
	}
}

// checkEnd checks the whole output of a server stream with encoding/xml
// (not tern's own decoder): one <stream:stream> root, a stream error only
// as its last child and with one defined condition, then the close tag and
// nothing more. After <proceed/> the bytes belong to TLS: not checked.
func checkEnd(out []byte) error {
	d := stdxml.NewDecoder(bytes.NewReader(out))
	depth, lastWasError := 0, false
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("server output is not a well-formed closed stream at byte %d: %v", d.InputOffset(), err)
		}
		switch tok := tok.(type) {
		case stdxml.StartElement:
			depth++
			switch {
			case depth == 1 && (tok.Name.Space != xml.NSStream || tok.Name.Local != "stream"):
				return fmt.Errorf("the root is <%s xmlns=%q>, not <stream:stream>", tok.Name.Local, tok.Name.Space)
			case depth == 2 && lastWasError:
				return fmt.Errorf("<%s/> after the stream error", tok.Name.Local)
			case depth == 2 && tok.Name.Space == stream.NSTLS && tok.Name.Local == "proceed":
				return nil
			case depth == 2 && tok.Name.Space == xml.NSStream && tok.Name.Local == "error":
				lastWasError = true
				if err := checkStreamError(d, tok); err != nil {
					return err
				}
				depth--
			}
		case stdxml.EndElement:
			depth--
			if depth == 0 {
				rest := out[d.InputOffset():]
				if len(bytes.TrimSpace(rest)) > 0 {
					return fmt.Errorf("%q after the close tag", rest)
				}
				return nil
			}
		}
	}
}

func checkStreamError(d *stdxml.Decoder, start stdxml.StartElement) error {
	var e struct {
		Inner []struct {
			XMLName stdxml.Name
		} `xml:",any"`
	}
	if err := d.DecodeElement(&e, &start); err != nil {
		return err
	}
	conds := 0
	for _, c := range e.Inner {
		if c.XMLName.Space == stream.NSStreamErrors && c.XMLName.Local != "text" {
			if !streamErrors[c.XMLName.Local] {
				return fmt.Errorf("stream error condition %q is not one of RFC 6120 §4.9.3", c.XMLName.Local)
			}
			conds++
		}
	}
	if conds != 1 {
		return errors.New("a stream error needs exactly one condition")
	}
	return nil
}

// A client that stops before its header is complete gets a lone
// </stream:stream>: a close for a stream the server never opened (RFC 6120
// §4.4 closes an open stream). Known bug, left to the write-path rewrite
// (closeLocked should send no close tag while its header is unsent, or
// the header first as it does for an error); remove the Skip with the fix.
func TestCloseBeforeHeader(t *testing.T) {
	s := newTestServer(t, nil)
	for _, in := range []string{"", "<?xml version='1.0'?><stream:str"} {
		c := s.dial()
		c.Write([]byte(in))
		c.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, _ := io.ReadAll(c)
		c.Close()
		if len(out) > 0 {
			if err := checkEnd(out); err != nil {
				t.Errorf("input %q: %v (output %q)", in, err, out)
			}
		}
	}
}
