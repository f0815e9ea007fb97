package xml

import (
	"strings"
	"testing"
)

// TestRules: one row per rule of XML 1.0, Namespaces in XML and RFC 6120
// §11, with the stream error condition the decoder must report ("" = the
// input is fine). Bodies go between testHeader and </stream:stream>.
func TestRules(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		// Tag structure (XML 1.0 §3, element matching).
		{"empty element", `<presence/>`, ""},
		{"nested", `<message><body>hi</body></message>`, ""},
		{"whitespace in tags", "<message \n to = 'a' ><body >x</body\t></message >", ""},
		{"mismatched end", `<message><body>hi</message></body>`, CondNotWellFormed},
		{"end without start", `</message>`, CondNotWellFormed},
		{"prefix mismatch", `<stream:features></features>`, CondNotWellFormed},
		{"slash in tag", `<message / >`, CondNotWellFormed},
		{"lt in tag", `<message <body>`, CondNotWellFormed},
		{"name starts with digit", `<1message/>`, CondNotWellFormed},
		{"name starts with dash", `<-message/>`, CondNotWellFormed},
		{"empty name", `< message/>`, CondNotWellFormed},
		{"non-ASCII name", `<mensaje xmlns='urn:x'><año>1</año></mensaje>`, ""},
		{"non-ASCII name start not allowed", "<a xmlns='urn:x'><\u00B7x/></a>", CondNotWellFormed},
		{"two colons", `<a:b:c/>`, CondNotWellFormed},
		{"leading colon", `<:a/>`, CondNotWellFormed},
		{"trailing colon", `<a: />`, CondNotWellFormed},
		// Attributes.
		{"double quotes", `<message to="a" id='b'/>`, ""},
		{"gt in value", `<message id='a>b'/>`, ""},
		{"other quote in value", `<message id="it's" type='say "hi"'/>`, ""},
		{"unquoted value", `<message id=a/>`, CondNotWellFormed},
		{"no value", `<message id/>`, CondNotWellFormed},
		{"no space between attributes", `<message id='a'to='b'/>`, CondNotWellFormed},
		{"duplicate attribute", `<message id='a' id='b'/>`, CondNotWellFormed},
		{"duplicate after resolution", `<message xmlns:a='urn:x' xmlns:b='urn:x' a:id='1' b:id='2'/>`, CondNotWellFormed},
		{"same local name, other ns", `<message xmlns:a='urn:x' id='1' a:id='2'/>`, ""},
		{"lt in value", `<message id='a<b'/>`, CondNotWellFormed},
		{"bare amp in value", `<message id='a&b'/>`, CondNotWellFormed},
		{"refs in value", `<message id='&lt;&#60;&#x3C;&amp;&quot;&apos;&gt;'/>`, ""},
		{"undefined entity in value", `<message id='&nbsp;'/>`, CondRestrictedXML},
		// Character data.
		{"refs in text", `<message><body>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;</body></message>`, ""},
		{"bare amp in text", `<message><body>a & b</body></message>`, CondNotWellFormed},
		{"amp without semicolon", `<message><body>&amp</body></message>`, CondNotWellFormed},
		{"empty reference", `<message><body>&;</body></message>`, CondNotWellFormed},
		{"undefined entity", `<message><body>&nbsp;</body></message>`, CondRestrictedXML},
		{"char ref zero", `<message><body>&#0;</body></message>`, CondNotWellFormed},
		{"char ref control", `<message><body>&#x1;</body></message>`, CondNotWellFormed},
		{"char ref FFFE", `<message><body>&#xFFFE;</body></message>`, CondNotWellFormed},
		{"char ref surrogate", `<message><body>&#xD800;</body></message>`, CondNotWellFormed},
		{"char ref too big", `<message><body>&#x110000;</body></message>`, CondNotWellFormed},
		{"char ref huge", `<message><body>&#99999999999999999999999;</body></message>`, CondNotWellFormed},
		{"char ref empty", `<message><body>&#x;</body></message>`, CondNotWellFormed},
		{"char ref bad digit", `<message><body>&#12a;</body></message>`, CondNotWellFormed},
		{"char ref tab ok", `<message><body>&#9;&#xA;&#13;</body></message>`, ""},
		{"cdata end in text", `<message><body>a]]>b</body></message>`, CondNotWellFormed},
		{"brackets in text ok", `<message><body>a]]b]>c</body></message>`, ""},
		{"cdata section", `<message><body><![CDATA[<not a tag> & ]]></body></message>`, ""},
		{"malformed cdata", `<message><body><![CDATX[x]]></body></message>`, CondNotWellFormed},
		{"cdata at top level", `<![CDATA[x]]>`, CondBadFormat},
		// Characters (XML 1.0 §2.2 Char, UTF-8).
		{"NUL in text", "<message><body>a\x00b</body></message>", CondNotWellFormed},
		{"control in text", "<message><body>a\x01b</body></message>", CondNotWellFormed},
		{"control in value", "<message id='\x1f'/>", CondNotWellFormed},
		{"invalid UTF-8 in text", "<message><body>a\xffb</body></message>", CondNotWellFormed},
		{"truncated UTF-8 in text", "<message><body>a\xe6\x97</body></message>", CondNotWellFormed},
		{"overlong UTF-8", "<message><body>\xc0\xaf</body></message>", CondNotWellFormed},
		{"surrogate in UTF-8", "<message><body>\xed\xa0\x80</body></message>", CondNotWellFormed},
		{"U+FFFE literal", "<message><body>\uFFFE</body></message>", CondNotWellFormed},
		{"U+FFFD literal ok", "<message><body>\uFFFD</body></message>", ""},
		{"invalid UTF-8 in value", "<message id='\xff'/>", CondNotWellFormed},
		{"invalid UTF-8 in name", "<message\xff/>", CondNotWellFormed},
		{"cdata with control", "<message><body><![CDATA[\x02]]></body></message>", CondNotWellFormed},
		{"astral and CJK", "<message><body>東京 😀</body></message>", ""},
		// Restricted XML (RFC 6120 §11.1).
		{"comment", `<message><!-- hi --></message>`, CondRestrictedXML},
		{"comment at top level", `<!-- hi -->`, CondRestrictedXML},
		{"processing instruction", `<message><?php echo ?></message>`, CondRestrictedXML},
		{"PI at top level", `<?foo?>`, CondRestrictedXML},
		{"XML declaration after header", `<?xml version='1.0'?>`, CondRestrictedXML},
		{"DOCTYPE", `<!DOCTYPE x [<!ENTITY a "b">]>`, CondRestrictedXML},
		{"ENTITY", `<message><!ENTITY a "b"></message>`, CondRestrictedXML},
		// Namespaces.
		{"unbound element prefix", `<foo:message/>`, CondBadNamespacePrefix},
		{"unbound attribute prefix", `<message foo:id='x'/>`, CondBadNamespacePrefix},
		{"prefix out of scope", `<message><a xmlns:p='urn:p'/><p:b/></message>`, CondBadNamespacePrefix},
		{"xml prefix is bound", `<message xml:lang='en'/>`, ""},
		{"xmlns:xml to its namespace ok", `<message xmlns:xml='http://www.w3.org/XML/1998/namespace'/>`, ""},
		{"xmlns:xml elsewhere", `<message xmlns:xml='urn:x'/>`, CondBadNamespacePrefix},
		{"xmlns:xmlns", `<message xmlns:xmlns='urn:x'/>`, CondBadNamespacePrefix},
		{"xmlns prefix on element", `<xmlns:message/>`, CondBadNamespacePrefix},
		{"xml namespace to other prefix", `<message xmlns:x='http://www.w3.org/XML/1998/namespace'/>`, CondBadNamespacePrefix},
		{"xml namespace as default", `<message xmlns='http://www.w3.org/XML/1998/namespace'/>`, CondBadNamespacePrefix},
		{"xmlns namespace bound", `<message xmlns:x='http://www.w3.org/2000/xmlns/'/>`, CondBadNamespacePrefix},
		{"undeclare prefix", `<message xmlns:p=''/>`, CondBadNamespacePrefix},
		{"undeclare default ok", `<message xmlns=''/>`, ""},
		// Top level of the stream.
		{"keepalive whitespace", " \n\t<presence/>\r\n <presence/> ", ""},
		{"text at top level", `hello<presence/>`, CondBadFormat},
		{"ref at top level", `&amp;`, CondBadFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeBody(tt.body)
			if got := condition(err); got != tt.want {
				t.Errorf("%q: got %q (%v), want %q", tt.body, got, err, tt.want)
			}
		})
	}
}

// TestHeader: the XML declaration and the stream header.
func TestHeader(t *testing.T) {
	const root = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`
	tests := []struct {
		name, in, want string
	}{
		{"no declaration", root, ""},
		{"declaration", `<?xml version='1.0'?>` + root, ""},
		{"declaration with encoding", `<?xml version="1.0" encoding="UTF-8"?>` + root, ""},
		{"encoding lower case", `<?xml version='1.0' encoding='utf-8' standalone='yes'?>` + root, ""},
		{"BOM", "\xEF\xBB\xBF<?xml version='1.0'?>" + root, ""},
		{"whitespace before root", "<?xml version='1.0'?>\n  " + root, ""},
		{"other encoding", `<?xml version='1.0' encoding='ISO-8859-1'?>` + root, CondUnsupportedEncoding},
		{"UTF-16 declared", `<?xml version='1.0' encoding='UTF-16'?>` + root, CondUnsupportedEncoding},
		// RFC 6120 §11.6 UTF-8 only; XML 1.0 Appendix F: other encodings are
		// recognised by their BOM or by how '<' is encoded.
		{"UTF-16BE BOM", "\xFE\xFF" + utf16(`<?xml version='1.0'?>`+root, true), CondUnsupportedEncoding},
		{"UTF-16LE BOM", "\xFF\xFE" + utf16(`<?xml version='1.0'?>`+root, false), CondUnsupportedEncoding},
		{"UTF-16BE no BOM", utf16(root, true), CondUnsupportedEncoding},
		{"UTF-16LE no BOM", utf16(root, false), CondUnsupportedEncoding},
		{"UTF-32BE BOM", "\x00\x00\xFE\xFF\x00\x00\x00<", CondUnsupportedEncoding},
		{"lone FE", "\xFEhello", CondNotWellFormed},
		{"no version", `<?xml encoding='UTF-8'?>` + root, CondNotWellFormed},
		{"version 2", `<?xml version='2.0'?>` + root, CondNotWellFormed},
		{"whitespace before declaration", ` <?xml version='1.0'?>` + root, CondRestrictedXML},
		{"two declarations", `<?xml version='1.0'?><?xml version='1.0'?>` + root, CondRestrictedXML},
		{"PI before root", `<?xml-stylesheet href='a'?>` + root, CondRestrictedXML},
		{"DOCTYPE before root", `<!DOCTYPE stream>` + root, CondRestrictedXML},
		{"comment before root", `<!-- hi -->` + root, CondRestrictedXML},
		{"text before root", `hello` + root, CondNotWellFormed},
		{"end tag first", `</stream:stream>`, CondNotWellFormed},
		{"unbound stream prefix", `<stream:stream xmlns='jabber:client'>`, CondBadNamespacePrefix},
		{"duplicate root attribute", `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='a' to='b'>`, CondNotWellFormed},
		{"header too large", `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='` + strings.Repeat("a", 5000) + `'>`, CondPolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tt.in), Limits{})
			h, err := d.ReadHeader()
			if got := condition(err); got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, err, tt.want)
			}
			if err != nil {
				return
			}
			if h.Space != NSStream || h.Name != "stream" || h.Attr("to") != "example.com" || h.Attr("version") != "1.0" || len(h.Attrs) != 2 {
				t.Errorf("header = %s", dump(h))
			}
			if d.DefaultNS() != NSClient {
				t.Errorf("DefaultNS = %q", d.DefaultNS())
			}
		})
	}
}

// utf16 encodes ASCII s as UTF-16.
func utf16(s string, bigEndian bool) string {
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		if bigEndian {
			b = append(b, 0, s[i])
		} else {
			b = append(b, s[i], 0)
		}
	}
	return string(b)
}
