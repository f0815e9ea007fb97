package s2s

import (
	"crypto/x509"
	"net"
	"testing"
	"time"
)

// FuzzInbound feeds arbitrary bytes after a valid TLS stream opening: the
// stream must end with an error or be left open, never crash or hang the
// server, whatever the peer sends (dialback elements, stanzas, junk).
func FuzzInbound(f *testing.F) {
	for _, s := range []string{
		`<db:result from='a.test' to='b.test'>abc</db:result>`,
		`<db:verify from='a.test' to='b.test' id='x'>abc</db:verify>`,
		`<db:result from='a.test' to='b.test' type='valid'/>`,
		`<bidi xmlns='urn:xmpp:bidi'/><message from='a@a.test' to='b@b.test'/>`,
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>YS50ZXN0</auth>`,
		`<iq type='get'/>`, `</stream:stream>`, `<<<`, `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
	} {
		f.Add(s)
	}
	self := issue(f, nil, "a.test")
	ca := newCA(f)
	n := newNode(f, "b.test", issue(f, ca, "b.test"), ca.pool, func(c *Config) { c.ConnectTimeout = 300 * time.Millisecond; c.AuthTimeout = 300 * time.Millisecond })
	n.s.SetRoute("a.test", "127.0.0.1:1") // verifications fail fast
	f.Fuzz(func(t *testing.T, in string) {
		p := dialRaw(t, n, "a.test", "b.test", self)
		p.read() // features
		p.write(in)
		_ = p.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			if _, err := p.dec.ReadElement(); err != nil {
				break
			}
		}
		p.c.Close()
	})
	_ = x509.NewCertPool
	_ = net.Dial
}
