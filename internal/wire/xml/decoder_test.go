package xml

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestNamespaces: resolution per Namespaces in XML §5 with the stream
// header's declarations in scope (RFC 6120 §4.8).
func TestNamespaces(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"default from header", `<message/>`, `{jabber:client}message[]`},
		{"stream prefix from header", `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`,
			`{http://etherx.jabber.org/streams}features[{urn:ietf:params:xml:ns:xmpp-tls}starttls[{urn:ietf:params:xml:ns:xmpp-tls}required[]]]`},
		{"redeclared default is inherited", `<iq><query xmlns='jabber:iq:roster'><item jid='a'/></query></iq>`,
			`{jabber:client}iq[{jabber:iq:roster}query[{jabber:iq:roster}item {}jid="a"[]]]`},
		{"scope ends with the element", `<iq><query xmlns='urn:a'/><x/></iq>`, `{jabber:client}iq[{urn:a}query[]{jabber:client}x[]]`},
		{"prefixed element", `<message xmlns:e='urn:e'><e:x e:a='1' a='2'/></message>`,
			`{jabber:client}message[{urn:e}x {urn:e}a="1" {}a="2"[]]`},
		{"prefix redeclared", `<a xmlns:p='urn:1'><p:b xmlns:p='urn:2'><p:c/></p:b><p:d/></a>`,
			`{jabber:client}a[{urn:2}b[{urn:2}c[]]{urn:1}d[]]`},
		{"stream prefix rebound inside stanza", `<a xmlns:stream='urn:s'><stream:b/></a>`, `{jabber:client}a[{urn:s}b[]]`},
		{"default undeclared", `<a><b xmlns=''><c/></b></a>`, `{jabber:client}a[{}b[{}c[]]]`},
		{"xml:lang", `<message xml:lang='fr'/>`, `{jabber:client}message {http://www.w3.org/XML/1998/namespace}lang="fr"[]`},
		{"declarations are not attributes", `<message xmlns='jabber:client' xmlns:x='urn:x' to='a'/>`, `{jabber:client}message {}to="a"[]`},
		{"text kept, CDATA merged", "<body>a&lt;<![CDATA[<b>]]>c\r\nd</body>", `{jabber:client}body["a<<b>c\nd"]`},
		{"mixed content", `<html xmlns='http://jabber.org/protocol/xhtml-im'><body>Hi <em>there</em>!</body></html>`,
			`{http://jabber.org/protocol/xhtml-im}html[{http://jabber.org/protocol/xhtml-im}body["Hi "{http://jabber.org/protocol/xhtml-im}em["there"]"!"]]`},
		{"empty CDATA", `<body>a<![CDATA[]]>b</body>`, `{jabber:client}body["ab"]`},
		{"only empty CDATA", `<body><![CDATA[]]></body>`, `{jabber:client}body[]`},
		{"attribute normalization", "<m a='x\ty\nz\r\nw' b='&#9;&#10;&#13;'/>", `{jabber:client}m {}a="x y z w" {}b="\t\n\r"[]`},
		{"line ends in text", "<b>1\r2\r\n3\n4&#13;</b>", `{jabber:client}b["1\n2\n3\n4\r"]`},
		{"non-ASCII", `<b>Größe 東京 😀 &#x1F600;</b>`, `{jabber:client}b["Größe 東京 😀 😀"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			els, err := decodeBody(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(els) != 1 || dump(els[0]) != tt.want {
				t.Fatalf("got %s\nwant %s", dump(els[0]), tt.want)
			}
		})
	}
}

func TestServerHeader(t *testing.T) {
	in := `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='a.example' to='b.example' version='1.0'><db:result to='b.example'>abc</db:result><message/></stream:stream>`
	_, els, err := decodeAll(strings.NewReader(in), Limits{})
	if !errors.Is(err, ErrStreamEnd) {
		t.Fatal(err)
	}
	if dump(els[0]) != `{jabber:server:dialback}result {}to="b.example"["abc"]` || dump(els[1]) != `{jabber:server}message[]` {
		t.Fatalf("got %s %s", dump(els[0]), dump(els[1]))
	}
}

// TestPartialReads: a reader returning 1 byte at a time (and one
// returning half of what is asked) yields exactly the same elements.
func TestPartialReads(t *testing.T) {
	s := recordedStream(300)
	_, want, err := decodeAll(bytes.NewReader(s), Limits{})
	if !errors.Is(err, ErrStreamEnd) {
		t.Fatal(err)
	}
	for name, r := range map[string]io.Reader{
		"one byte": iotest.OneByteReader(bytes.NewReader(s)),
		"half":     iotest.HalfReader(bytes.NewReader(s)),
		"data+EOF": iotest.DataErrReader(bytes.NewReader(s)),
	} {
		_, got, err := decodeAll(r, Limits{})
		if !errors.Is(err, ErrStreamEnd) {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d elements, want %d", name, len(got), len(want))
		}
		for i := range got {
			if !equal(got[i], want[i]) {
				t.Fatalf("%s: element %d = %s, want %s", name, i, dump(got[i]), dump(want[i]))
			}
		}
	}
}

// TestPartialReadsErrors: errors do not depend on how input is chunked
// (whether an error is found, and for these inputs which one).
func TestPartialReadsErrors(t *testing.T) {
	for _, body := range []string{`<message><body>a & b</body></message>`, `<a><b></a>`, "<a>\xff</a>", `<a><!-- x --></a>`, `<a x='1' x='2'/>`, `<p:a/>`} {
		_, err1 := decodeBody(body)
		_, _, err2 := decodeAll(iotest.OneByteReader(strings.NewReader(testHeader+body)), Limits{})
		if condition(err1) != condition(err2) || err1 == nil {
			t.Errorf("%q: whole %v, byte by byte %v", body, err1, err2)
		}
	}
}

// TestInteractive: over io.Pipe, ReadHeader and ReadElement return as
// soon as the header's or the element's last '>' has been written.
func TestInteractive(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	d := NewDecoder(pr, Limits{})
	type result struct {
		e        *Element
		err      error
		buffered int // read in the decoder's goroutine
	}
	res := make(chan result)
	go func() {
		h, err := d.ReadHeader()
		res <- result{h, err, d.Buffered()}
		for {
			e, err := d.ReadElement()
			res <- result{e, err, d.Buffered()}
			if err != nil {
				return
			}
		}
	}()
	wait := func() result {
		select {
		case r := <-res:
			return r
		case <-time.After(10 * time.Second): // deadlock guard, not a timing assertion
			t.Fatal("decoder waits for input beyond the element")
			return result{}
		}
	}
	write := func(s string) {
		go pw.Write([]byte(s))
	}
	write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`)
	if r := wait(); r.err != nil || r.e.Name != "stream" {
		t.Fatalf("header: %v", r.err)
	}
	for _, s := range []string{`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`, `<message><body>hi</body></message>`, "\n <iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>"} {
		write(s)
		r := wait()
		if r.err != nil {
			t.Fatalf("%s: %v", s, r.err)
		}
		if r.buffered != 0 {
			t.Fatalf("Buffered = %d", r.buffered)
		}
	}
	write(`</stream:stream>`)
	if r := wait(); !errors.Is(r.err, ErrStreamEnd) {
		t.Fatalf("end: %v", r.err)
	}
	pw.Close()
}

func TestStreamEndAndEOF(t *testing.T) {
	tests := []struct {
		name, body string
		n          int
		want       error
	}{
		{"closed", `<presence/></stream:stream>`, 1, ErrStreamEnd},
		{"EOF between stanzas", `<presence/> `, 1, io.EOF},
		{"EOF inside a stanza", `<presence><show>`, 0, io.ErrUnexpectedEOF},
		{"EOF inside a tag", `<presence from='a`, 0, io.ErrUnexpectedEOF},
		{"closed then more", `</stream:stream><presence/>`, 0, ErrStreamEnd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(testHeader+tt.body), Limits{})
			if _, err := d.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tt.n; i++ {
				if _, err := d.ReadElement(); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // errors are sticky
				if _, err := d.ReadElement(); !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
			}
		})
	}
	d := NewDecoder(strings.NewReader(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadElement(); !errors.Is(err, ErrStreamEnd) {
		t.Fatalf("empty stream: %v", err)
	}
}

func TestRawAndBuffered(t *testing.T) {
	body := "<message to='a'>\n<body>x &amp; y</body></message>  <presence/>"
	d := NewDecoder(strings.NewReader(testHeader+body), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadElement(); err != nil {
		t.Fatal(err)
	}
	if got := string(d.Raw()); got != "<message to='a'>\n<body>x &amp; y</body></message>" {
		t.Errorf("Raw = %q", got)
	}
	if d.Buffered() != len("  <presence/>") {
		t.Errorf("Buffered = %d", d.Buffered())
	}
	if _, err := d.ReadElement(); err != nil || string(d.Raw()) != "<presence/>" {
		t.Errorf("Raw = %q, %v", d.Raw(), err)
	}
}

// TestBufferedAfterSpace: whitespace after <starttls/> is dropped (go-xmpp
// sends a newline); anything else stays and counts (RFC 6120 §5.4.3.3).
func TestBufferedAfterSpace(t *testing.T) {
	for _, tc := range []struct {
		after string
		want  int
	}{{"", 0}, {"\n", 0}, {" \r\n\t ", 0}, {"<message/>", 10}, {"\n<a/>", 4}, {"\nx", 1}} {
		d := NewDecoder(strings.NewReader(testHeader+"<starttls/>"+tc.after), Limits{})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ReadElement(); err != nil {
			t.Fatal(err)
		}
		if got := d.BufferedAfterSpace(); got != tc.want {
			t.Errorf("after %q: BufferedAfterSpace = %d; want %d", tc.after, got, tc.want)
		}
	}
}

// TestReset: a stream restart drops buffered input and the old header's
// declarations (RFC 6120 §4.3.3).
func TestReset(t *testing.T) {
	d := NewDecoder(strings.NewReader(testHeader+"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><leftover/>"), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadElement(); err != nil {
		t.Fatal(err)
	}
	if d.Buffered() == 0 {
		t.Fatal("expected pipelined bytes to be buffered")
	}
	d.Reset(strings.NewReader(`<?xml version='1.0'?><s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:server'><message/><stream:x/>`))
	if d.Buffered() != 0 || d.DefaultNS() != "" {
		t.Fatal("Reset kept state")
	}
	h, err := d.ReadHeader()
	if err != nil || h.Space != NSStream || d.DefaultNS() != NSServer {
		t.Fatalf("header %v %v", h, err)
	}
	if e, err := d.ReadElement(); err != nil || e.Space != NSServer {
		t.Fatalf("element %v %v", e, err)
	}
	// The old header's stream: prefix is gone.
	if _, err := d.ReadElement(); condition(err) != CondBadNamespacePrefix {
		t.Fatalf("got %v", err)
	}
	// ReadElement before ReadHeader, ReadHeader twice.
	d.Reset(strings.NewReader(testHeader))
	if _, err := d.ReadElement(); err == nil {
		t.Fatal("ReadElement before ReadHeader")
	}
	d.ReadHeader()
	if _, err := d.ReadHeader(); err == nil {
		t.Fatal("ReadHeader twice")
	}
}

func TestLimits(t *testing.T) {
	lim := Limits{MaxStanzaBytes: 100, MaxDepth: 3, MaxAttrs: 5} // the header has 5
	tests := []struct {
		name, body, want string
	}{
		{"stanza at limit", `<message><body>` + strings.Repeat("a", 100-len(`<message><body></body></message>`)) + `</body></message>`, ""},
		{"stanza over limit", `<message><body>` + strings.Repeat("a", 101-len(`<message><body></body></message>`)) + `</body></message>`, CondPolicyViolation},
		{"huge text", `<message><body>` + strings.Repeat("a", 100000), CondPolicyViolation},
		{"huge tag", `<message to='` + strings.Repeat("a", 100000), CondPolicyViolation},
		{"whitespace does not count", strings.Repeat(" ", 1000) + `<a/>` + strings.Repeat("\n", 1000) + `<a/>`, ""},
		{"depth at limit", `<a><b><c/></b></a>`, ""},
		{"depth over limit", `<a><b><c><d/></c></b></a>`, CondPolicyViolation},
		{"attrs at limit", `<a x='1' y='2' z='3' w='4' xmlns:p='urn:p'/>`, ""},
		{"attrs over limit", `<a x='1' y='2' z='3' w='4' v='5' xmlns:p='urn:p'/>`, CondPolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(testHeader + tt.body + "</stream:stream>"),
				iotest.OneByteReader(strings.NewReader(testHeader + tt.body + "</stream:stream>"))} {
				_, _, err := decodeAll(r, lim)
				if errors.Is(err, ErrStreamEnd) {
					err = nil
				}
				if got := condition(err); got != tt.want {
					t.Fatalf("got %q (%v), want %q", got, err, tt.want)
				}
			}
		})
	}
	// SetLimits applies from the next element on.
	d := NewDecoder(strings.NewReader(testHeader+`<a><b/></a><a><b/></a>`), Limits{})
	d.ReadHeader()
	if _, err := d.ReadElement(); err != nil {
		t.Fatal(err)
	}
	d.SetLimits(Limits{MaxDepth: 1})
	if _, err := d.ReadElement(); condition(err) != CondPolicyViolation {
		t.Fatalf("got %v", err)
	}
	if DefaultLimits.MaxStanzaBytes != 256<<10 || DefaultLimits.MaxHeaderBytes != 4<<10 || DefaultLimits.MaxDepth != 64 || DefaultLimits.MaxAttrs != 64 {
		t.Fatal("DefaultLimits changed")
	}
}

// TestBufferShrinks: a large stanza grows the buffer; idle, it is small
// again (memory per idle session).
func TestBufferShrinks(t *testing.T) {
	big := `<message><body>` + strings.Repeat("x", 100000) + `</body></message>`
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(testHeader + big))
		pw.Write([]byte(`<presence/>`))
	}()
	d := NewDecoder(pr, Limits{})
	d.ReadHeader()
	e, err := d.ReadElement()
	if err != nil || len(e.ChildText("", "body")) != 100000 {
		t.Fatal(err)
	}
	if cap(d.t.buf) < 100000 {
		t.Fatalf("buffer did not grow: %d", cap(d.t.buf))
	}
	if _, err := d.ReadElement(); err != nil {
		t.Fatal(err)
	}
	if cap(d.t.buf) > maxIdleBuf {
		t.Fatalf("buffer kept at %d bytes after a large stanza", cap(d.t.buf))
	}
	pw.Close()
}

func TestErrorString(t *testing.T) {
	_, err := decodeBody(`<a><b></a>`)
	var xe *Error
	if !errors.As(err, &xe) || xe.Offset != int64(len(testHeader)+6) || !strings.Contains(err.Error(), "not-well-formed at byte") {
		t.Fatalf("%#v %v", xe, err)
	}
}
