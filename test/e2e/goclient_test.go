package e2e

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/version"
)

// TestChatDiscoPingVersionMellium logs two users in with mellium.im/xmpp (STARTTLS, then each
// SASL mechanism on its own), exchanges chat messages, and queries the server with
// disco#info (XEP-0030), ping (XEP-0199) and software version (XEP-0092).
func TestChatDiscoPingVersionMellium(t *testing.T) {
	rows := []struct {
		name string
		mech sasl.Mechanism
	}{
		{"scram-sha-256-plus", sasl.ScramSha256Plus}, // tls-exporter on TLS 1.3 (RFC 9266)
		{"scram-sha-256", sasl.ScramSha256},
		{"scram-sha-1", sasl.ScramSha1},
		{"plain", sasl.Plain},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			forEachServer(t, func(t *testing.T, srv *target) {
				srv.require(t, row.mech.Name)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				alice := dialMellium(ctx, t, srv, srv.users[0], row.mech)
				bob := dialMellium(ctx, t, srv, srv.users[1], row.mech)

				// Full JIDs: a message to a bound resource is delivered whether or not its initial
				// presence has been processed yet (RFC 6121 §8.5.3.1), so the test has no race.
				chat(ctx, t, alice, bob, "hello bob from mellium")
				chat(ctx, t, bob, alice, "hello alice from mellium")

				server := jid.MustParse(srv.domain)
				di, err := disco.GetInfo(ctx, "", server, alice.s)
				if err != nil {
					t.Fatalf("disco#info to %s: %v", server, err)
				}
				if !slices.ContainsFunc(di.Identity, func(id info.Identity) bool {
					return id.Category == "server" && id.Type == "im"
				}) {
					t.Errorf("disco#info identities %+v: want category=server type=im (XEP-0030 §3.1, registry)", di.Identity)
				}
				var features []string
				for _, f := range di.Features {
					features = append(features, f.Var)
				}
				for _, want := range []string{"http://jabber.org/protocol/disco#info", "urn:xmpp:ping", "jabber:iq:version"} {
					if !slices.Contains(features, want) {
						t.Errorf("disco#info features %v: missing %s", features, want)
					}
				}

				// ping.Send treats service-unavailable as success; a server must answer with a result.
				if err := alice.s.UnmarshalIQ(ctx, ping.IQ{IQ: stanza.IQ{Type: stanza.GetIQ, To: server}}.TokenReader(), nil); err != nil {
					t.Errorf("ping %s: %v; want an empty result (XEP-0199 §4.2)", server, err)
				}
				v, err := version.Get(ctx, alice.s, server)
				switch {
				case err != nil:
					t.Errorf("software version of %s: %v", server, err)
				case v.Name == "" || v.Version == "":
					t.Errorf("software version of %s = %+v; want name and version (XEP-0092 §2)", server, v)
				default:
					t.Logf("%s says it is %s %s", srv.name, v.Name, v.Version)
				}
			})
		})
	}
}

// melliumClient is a logged-in session whose received chat messages arrive on msgs.
type melliumClient struct {
	s    *xmpp.Session
	msgs chan chatMessage
}

type chatMessage struct {
	stanza.Message
	Body string `xml:"body"`
}

// dialMellium connects to srv.c2s, negotiates STARTTLS (certificate not verified: it is
// self-signed), authenticates with exactly mech, binds a resource and serves the session
// until cleanup.
func dialMellium(ctx context.Context, t *testing.T, srv *target, user string, mech sasl.Mechanism) *melliumClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", srv.c2s, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", srv.c2s, err)
	}
	tlsCfg := &tls.Config{ServerName: srv.domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	s, err := xmpp.NewClientSession(ctx, jid.MustParse(user), conn,
		xmpp.StartTLS(tlsCfg), xmpp.SASL("", srv.password, mech), xmpp.BindResource())
	if err != nil {
		conn.Close()
		t.Fatalf("%s: log in %s with %s: %v", srv.name, user, mech.Name, err)
	}
	c := &melliumClient{s: s, msgs: make(chan chatMessage, 16)}
	served := make(chan error, 1)
	go func() { served <- s.Serve(xmpp.HandlerFunc(c.handle)) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-served:
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				t.Logf("%s: session of %s ended with %v", srv.name, user, err)
			}
		case <-time.After(stopTimeout):
			t.Errorf("%s: the server did not close %s's stream within %s of ours (RFC 6120 §4.4)", srv.name, user, stopTimeout)
		}
		conn.Close()
	})
	if err := s.Send(ctx, stanza.Presence{Type: stanza.AvailablePresence}.Wrap(nil)); err != nil {
		t.Fatalf("initial presence of %s: %v", user, err)
	}
	return c
}

// handle queues chat messages with a body; mellium answers unhandled IQs with an error itself.
func (c *melliumClient) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local != "message" {
		return nil
	}
	// Re-emit the start element: Go 1.26's decoder rejects an end element it never saw start,
	// which breaks the DecodeElement(&v, start) pattern of mellium's own examples.
	var m chatMessage
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	if err := d.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if m.Body != "" {
		select {
		case c.msgs <- m:
		default: // the test reads one message at a time; extra ones fail its checks anyway
		}
	}
	return nil
}

// chat sends body from one client to the other's full JID and waits for it.
func chat(ctx context.Context, t *testing.T, from, to *melliumClient, body string) {
	t.Helper()
	msg := chatMessage{Message: stanza.Message{To: to.s.LocalAddr(), Type: stanza.ChatMessage}, Body: body}
	if err := from.s.Encode(ctx, msg); err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	select {
	case m := <-to.msgs:
		if m.Body != body || !m.From.Equal(from.s.LocalAddr()) {
			t.Errorf("received %q from %s; want %q from %s (RFC 6120 §8.1.2.1 stamps the full JID)",
				m.Body, m.From, body, from.s.LocalAddr())
		}
	case <-ctx.Done():
		t.Fatalf("%s did not receive %q from %s: %v", to.s.LocalAddr(), body, from.s.LocalAddr(), ctx.Err())
	}
}
