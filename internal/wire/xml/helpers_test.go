package xml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

const testHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>`

// decodeAll reads a header and every element from r; err is the error that
// ended the stream (ErrStreamEnd, io.EOF, *Error...).
func decodeAll(r io.Reader, lim Limits) (hdr *Element, els []*Element, err error) {
	d := NewDecoder(r, lim)
	if hdr, err = d.ReadHeader(); err != nil {
		return nil, nil, err
	}
	for {
		e, err := d.ReadElement()
		if err != nil {
			return hdr, els, err
		}
		els = append(els, e)
	}
}

// decodeBody decodes testHeader+body+</stream:stream> and returns the
// elements and the first error other than ErrStreamEnd.
func decodeBody(body string) ([]*Element, error) {
	_, els, err := decodeAll(strings.NewReader(testHeader+body+"</stream:stream>"), Limits{})
	if errors.Is(err, ErrStreamEnd) {
		err = nil
	}
	return els, err
}

func condition(err error) string {
	var xe *Error
	if errors.As(err, &xe) {
		return xe.Condition
	}
	if err == nil {
		return ""
	}
	return "io:" + err.Error()
}

// equal compares trees, treating nil and empty slices alike.
func equal(a, b *Element) bool {
	if a.Space != b.Space || a.Name != b.Name || len(a.Attrs) != len(b.Attrs) || len(a.Children) != len(b.Children) {
		return false
	}
	for i := range a.Attrs {
		if a.Attrs[i] != b.Attrs[i] {
			return false
		}
	}
	for i := range a.Children {
		switch x := a.Children[i].(type) {
		case Text:
			if y, ok := b.Children[i].(Text); !ok || x != y {
				return false
			}
		case *Element:
			if y, ok := b.Children[i].(*Element); !ok || !equal(x, y) {
				return false
			}
		}
	}
	return true
}

// dump renders a tree with resolved namespaces, for failure messages.
func dump(e *Element) string {
	var b strings.Builder
	var walk func(e *Element)
	walk = func(e *Element) {
		fmt.Fprintf(&b, "{%s}%s", e.Space, e.Name)
		for _, a := range e.Attrs {
			fmt.Fprintf(&b, " {%s}%s=%q", a.Space, a.Name, a.Value)
		}
		b.WriteString("[")
		for _, n := range e.Children {
			switch c := n.(type) {
			case Text:
				fmt.Fprintf(&b, "%q", string(c))
			case *Element:
				walk(c)
			}
		}
		b.WriteString("]")
	}
	walk(e)
	return b.String()
}

// recordedStream generates a realistic c2s stream: a header then n
// stanzas cycling through messages, iqs and presences (some with
// escapes, xml:lang, nested payloads and non-ASCII text).
func recordedStream(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString(testHeader)
	users := []string{"juliet@capulet.example/balcony", "romeo@montague.example/orchard", "nurse@capulet.example/chamber", "benvolio@montague.example/square"}
	bodies := []string{"Wherefore art thou, Romeo?", "Art thou not Romeo, and a Montague?", "Neither, fair saint, if either thee dislike.",
		"I take thee at thy word: call me but love &amp; I'll be new baptized", "Ça va? Größe, 東京, 😀 — fine", "x &lt; y &amp;&amp; y &gt; z"}
	for i := 0; i < n; i++ {
		from, to := users[rng.IntN(len(users))], users[rng.IntN(len(users))]
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "<message from='%s' to='%s' type='chat' id='m%d' xml:lang='en'><body>%s</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/></message>",
				from, to, i, bodies[rng.IntN(len(bodies))])
		case 1:
			if i%2 == 0 {
				fmt.Fprintf(&b, "<iq type='get' id='r%d' from='%s'><query xmlns='jabber:iq:roster' ver='ver%d'/></iq>", i, from, i)
			} else {
				fmt.Fprintf(&b, "<iq type='result' id='p%d' to='%s' from='capulet.example'><ping xmlns='urn:xmpp:ping'/></iq>", i, to)
			}
		default:
			fmt.Fprintf(&b, "<presence from='%s'><show>away</show><status>at the ball</status><priority>%d</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>",
				from, rng.IntN(10))
		}
		if i%10 == 0 {
			b.WriteString("\n ") // keepalive whitespace
		}
	}
	b.WriteString("</stream:stream>")
	return b.Bytes()
}
