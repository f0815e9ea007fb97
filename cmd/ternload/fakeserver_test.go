package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/xml"
	"github.com/xdg-go/scram"
)

// fakeServer is just enough of an XMPP server (RFC 6120/6121, XEP-0077)
// to drive the client end to end: STARTTLS, SCRAM/PLAIN, bind, roster,
// presence, registration and message routing between bound resources.
type fakeServer struct {
	t      *testing.T
	ln     net.Listener
	mechs  []string
	domain string
	tls    *tls.Config

	mu            sync.Mutex
	throttleEvery int // >0: every throttleEvery-th registration is refused with type='wait'
	regCount      int
	users         map[string]string
	online        map[string]*fakeConn // bare JID -> last bound session
	wg            sync.WaitGroup
}

type fakeConn struct {
	mu sync.Mutex
	nc net.Conn
}

func (c *fakeConn) send(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = io.WriteString(c.nc, s)
}

func newFakeServer(t *testing.T, mechs ...string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, mechs: mechs, domain: "bench.test",
		tls: selfSigned(t, "bench.test"), users: map[string]string{}, online: map[string]*fakeConn{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(nc) }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); s.wg.Wait() })
	return s
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

func selfSigned(t *testing.T, name string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

const fakeHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
	"xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='bench.test' id='x'>"

func (s *fakeServer) serve(nc net.Conn) {
	fc := &fakeConn{nc: nc}
	defer func() { _ = fc.nc.Close() }()
	dec := xml.NewDecoder(nc, xml.DefaultLimits)
	if _, err := dec.ReadHeader(); err != nil {
		return
	}
	fc.send(fakeHeader + "<stream:features><starttls xmlns='" + nsTLS + "'><required/></starttls></stream:features>")
	if el, err := dec.ReadElement(); err != nil || el.Name != "starttls" {
		return
	}
	fc.send("<proceed xmlns='" + nsTLS + "'/>")
	tc := tls.Server(nc, s.tls)
	if err := tc.Handshake(); err != nil {
		return
	}
	fc.nc = tc
	dec.Reset(tc)
	if _, err := dec.ReadHeader(); err != nil {
		return
	}
	var mechs strings.Builder
	for _, m := range s.mechs {
		mechs.WriteString("<mechanism>" + m + "</mechanism>")
	}
	fc.send(fakeHeader + "<stream:features><mechanisms xmlns='" + nsSASL + "'>" + mechs.String() +
		"</mechanisms><register xmlns='" + nsFeatReg + "'/></stream:features>")
	user := ""
	var conv *scram.ServerConversation
	for {
		el, err := dec.ReadElement()
		if err != nil {
			return
		}
		switch {
		case el.Name == "iq" && el.Child(nsRegister, "query") != nil:
			q := el.Child(nsRegister, "query")
			u, p := q.ChildText("", "username"), q.ChildText("", "password")
			s.mu.Lock()
			s.regCount++
			throttle := s.throttleEvery > 0 && s.regCount%s.throttleEvery == 0
			_, exists := s.users[u]
			if !exists && !throttle {
				s.users[u] = p
			}
			s.mu.Unlock()
			if throttle {
				fc.send("<iq type='error' id='" + el.Attr("id") + "'><error type='wait'><resource-constraint xmlns='" + nsStanzas + "'/></error></iq>")
			} else if exists {
				fc.send("<iq type='error' id='" + el.Attr("id") + "'><error type='cancel'><conflict xmlns='" + nsStanzas + "'/></error></iq>")
			} else {
				fc.send("<iq type='result' id='" + el.Attr("id") + "'/>")
			}
		case el.Name == "auth" || el.Name == "response":
			data, _ := base64.StdEncoding.DecodeString(el.Text())
			if el.Name == "auth" && el.Attr("mechanism") == "PLAIN" {
				parts := strings.Split(string(data), "\x00")
				s.mu.Lock()
				ok := len(parts) == 3 && s.users[parts[1]] == parts[2] && parts[2] != ""
				s.mu.Unlock()
				if !ok {
					fc.send("<failure xmlns='" + nsSASL + "'><not-authorized/></failure>")
					continue
				}
				user = parts[1]
			} else {
				if el.Name == "auth" {
					conv = s.scramServer(el.Attr("mechanism")).NewConversation()
				}
				out, err := conv.Step(string(data))
				if err != nil {
					fc.send("<failure xmlns='" + nsSASL + "'><not-authorized/></failure>")
					continue
				}
				if !conv.Done() {
					fc.send("<challenge xmlns='" + nsSASL + "'>" + b64(out) + "</challenge>")
					continue
				}
				user = conv.Username()
				fc.send("<success xmlns='" + nsSASL + "'>" + b64(out) + "</success>")
				goto authed
			}
			fc.send("<success xmlns='" + nsSASL + "'/>")
			goto authed
		}
	}
authed:
	dec.Reset(fc.nc)
	if _, err := dec.ReadHeader(); err != nil {
		return
	}
	fc.send(fakeHeader + "<stream:features><bind xmlns='" + nsBind + "'/></stream:features>")
	bare := user + "@" + s.domain
	for {
		el, err := dec.ReadElement()
		if err != nil {
			s.mu.Lock()
			if s.online[bare] == fc {
				delete(s.online, bare)
			}
			s.mu.Unlock()
			return
		}
		switch el.Name {
		case "iq":
			switch {
			case el.Child(nsBind, "bind") != nil:
				res := el.Child(nsBind, "bind").ChildText("", "resource")
				if res == "" {
					res = "gen"
				}
				s.mu.Lock()
				s.online[bare] = fc
				s.mu.Unlock()
				fc.send("<iq type='result' id='" + el.Attr("id") + "'><bind xmlns='" + nsBind + "'><jid>" +
					bare + "/" + res + "</jid></bind></iq>")
			case el.Child(nsRoster, "query") != nil:
				fc.send("<iq type='result' id='" + el.Attr("id") + "'><query xmlns='" + nsRoster + "'/></iq>")
			}
		case "message":
			s.mu.Lock()
			to := s.online[el.Attr("to")]
			s.mu.Unlock()
			el.SetAttr("from", bare+"/r")
			if to != nil {
				to.send(string(xml.Append(nil, el, xml.NSClient)))
			}
		}
	}
}

// scramServer derives credentials from the stored plain password, as a
// server with SCRAM-hashed storage would have stored them.
func (s *fakeServer) scramServer(mech string) *scram.Server {
	h := scram.SHA1
	if mech == "SCRAM-SHA-256" {
		h = scram.SHA256
	}
	srv, err := h.NewServer(func(user string) (scram.StoredCredentials, error) {
		s.mu.Lock()
		pass := s.users[user]
		s.mu.Unlock()
		c, err := h.NewClient(user, pass, "")
		if err != nil {
			return scram.StoredCredentials{}, err
		}
		return c.GetStoredCredentials(scram.KeyFactors{Salt: "saltsaltsalt", Iters: 4096}), nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return srv
}
