package xml

import (
	"testing"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name     string
		e        *Element
		parentNS string
		want     string
	}{
		{"same namespace", New(NSClient, "presence"), NSClient, `<presence/>`},
		{"new namespace", New(NSClient, "message", "to", "a@b"), NSServer, `<message xmlns="jabber:client" to="a@b"/>`},
		{"child inherits", New(NSClient, "iq").Append(New("jabber:iq:roster", "query").Append(New("jabber:iq:roster", "item", "jid", "x"))), NSClient,
			`<iq><query xmlns="jabber:iq:roster"><item jid="x"/></query></iq>`},
		{"back to parent ns", New(NSClient, "iq").Append(New("urn:a", "a").Append(New(NSClient, "b"))), NSClient,
			`<iq><a xmlns="urn:a"><b xmlns="jabber:client"/></a></iq>`},
		{"no namespace under default", New(NSClient, "a").Append(New("", "b")), NSClient, `<a><b xmlns=""/></a>`},
		{"stream prefix", New(NSStream, "features").Append(New("urn:ietf:params:xml:ns:xmpp-tls", "starttls")), NSClient,
			`<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/></stream:features>`},
		{"stream child keeps parent default", New(NSStream, "error").Append(New("urn:ietf:params:xml:ns:xmpp-streams", "conflict"), New(NSClient, "x")), NSClient,
			`<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><x/></stream:error>`},
		{"xml:lang", &Element{Space: NSClient, Name: "message", Attrs: []Attr{{Space: NSXML, Name: "lang", Value: "en"}}}, NSClient, `<message xml:lang="en"/>`},
		{"generated prefixes", &Element{Space: NSClient, Name: "a", Attrs: []Attr{{Space: "urn:x", Name: "p", Value: "1"}, {Name: "q", Value: "2"}, {Space: "urn:y", Name: "p", Value: "3"}, {Space: "urn:x", Name: "r", Value: "4"}}}, NSClient,
			`<a xmlns:ns1="urn:x" xmlns:ns2="urn:y" ns1:p="1" q="2" ns2:p="3" ns1:r="4"/>`},
		{"escape text", New(NSClient, "body").SetText(`a<b>&"c' ]]> d` + "\r\n\t"), NSClient, `<body>a&lt;b&gt;&amp;"c' ]]&gt; d&#xD;` + "\n\t</body>"},
		{"escape attribute", New(NSClient, "a", "v", "<&>\"'\t\n\r"), NSClient, `<a v="&lt;&amp;&gt;&quot;&apos;&#x9;&#xA;&#xD;"/>`},
		{"invalid characters replaced", New(NSClient, "a", "v", "x\x00y").SetText("\xff\x01\uFFFE ok 東京"), NSClient, "<a v=\"x\uFFFDy\">\uFFFD\uFFFD\uFFFD ok 東京</a>"},
		{"empty text is no child", New(NSClient, "a").SetText(""), NSClient, `<a/>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Append(nil, tt.e, tt.parentNS)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if got := New("urn:x", "a").String(); got != `<a xmlns="urn:x"/>` {
		t.Errorf("String = %s", got)
	}
}

// roundTrip decodes body in a stream, serializes every element and decodes
// the result again; the trees must be equal.
func roundTrip(t testing.TB, body string) {
	els, err := decodeBody(body)
	if err != nil {
		return
	}
	var out []byte
	for _, e := range els {
		out = Append(out, e, NSClient)
	}
	again, err := decodeBody(string(out))
	if err != nil {
		t.Fatalf("re-decoding %q (from %q): %v", out, body, err)
	}
	if len(again) != len(els) {
		t.Fatalf("%d elements became %d: %q", len(els), len(again), out)
	}
	for i := range els {
		if !equal(els[i], again[i]) {
			t.Fatalf("round trip changed\n%s\ninto\n%s\nvia %q", dump(els[i]), dump(again[i]), out)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, body := range append(seedStanzas(),
		"<m a='x\ty\r\n' b='&#9;&#13;&#10;'>1\r\n2&#13;<![CDATA[<&>]]></m>",
		`<a xmlns:p='urn:p' xmlns:q='urn:q' p:x='1' q:x='2' x='3' xml:lang='de'><p:b/><c xmlns=''/></a>`,
		`<stream:features xmlns:x='urn:x'><x:y/></stream:features>`,
	) {
		roundTrip(t, body)
	}
	// A Decoded tree re-encoded with a different parent default namespace.
	els, _ := decodeBody(`<message><body>x</body></message>`)
	if got := string(Append(nil, els[0], NSServer)); got != `<message xmlns="jabber:client"><body>x</body></message>` {
		t.Errorf("got %s", got)
	}
}

// seedStanzas are realistic XMPP top-level elements, for round trips and
// as fuzz seeds.
func seedStanzas() []string {
	return []string{
		`<message from='juliet@example.com/balcony' to='romeo@example.net' type='chat' id='ktx72v49' xml:lang='en'><body>Art thou not Romeo, and a Montague?</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread></message>`,
		`<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>`,
		`<presence><show>dnd</show><status xml:lang='fr'>Occupé &amp; loin</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://psi-im.org' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>`,
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==</auth>`,
		`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
		`<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
		`<message type='error' id='1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>gone</text></error></message>`,
		`<message><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>Hi <strong>you</strong> &lt;3</p></body></html></message>`,
		`<r xmlns='urn:xmpp:sm:3'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='42'/>`,
		`<iq type='result' id='roster_1'><query xmlns='jabber:iq:roster' ver='ver7'><item jid='nurse@example.com' name='Nurse' subscription='both'><group>Servants</group></item></query></iq>`,
		"<message>\n  <body>pretty\n printed</body>\n</message>",
		`<message><body><![CDATA[if (a < b && c > d) {}]]></body></message>`,
	}
}

func TestSeedsDecode(t *testing.T) {
	for _, s := range seedStanzas() {
		if _, err := decodeBody(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}
