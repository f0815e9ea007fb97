package sasl

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

const testDomain = "example.com"

var testSecret = []byte("0123456789abcdef-test-secret")

// accounts is an in-memory Lookup.
type accounts struct {
	mu    sync.Mutex
	users map[string]storage.User
	err   error // returned for every lookup when set
	calls []string
}

func newAccounts(t testing.TB, creds ...string) *accounts {
	a := &accounts{users: map[string]storage.User{}}
	for i := 0; i < len(creds); i += 2 {
		u, err := NewUser(testDomain, creds[i], creds[i+1])
		if err != nil {
			t.Fatalf("NewUser(%q): %v", creds[i], err)
		}
		a.users[u.Username] = u
	}
	return a
}

func (a *accounts) lookup(_ context.Context, username string) (storage.User, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, username)
	if a.err != nil {
		return storage.User{}, a.err
	}
	u, ok := a.users[username]
	if !ok {
		return storage.User{}, storage.ErrNotFound
	}
	return u, nil
}

func (a *accounts) config(cs *tls.ConnectionState, cert *x509.Certificate, plusOffered bool) Config {
	return Config{Domain: testDomain, Lookup: a.lookup, TLS: cs, PlusOffered: plusOffered,
		Secret: testSecret, Certificate: cert, AllowPlain: true}
}

// testCert makes a self-signed server certificate signed with alg.
func testCert(t testing.TB, alg x509.SignatureAlgorithm) tls.Certificate {
	t.Helper()
	var key crypto.Signer
	var err error
	if alg == x509.PureEd25519 {
		_, key, err = ed25519.GenerateKey(rand.Reader)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(1),
		DNSNames:           []string{testDomain},
		NotBefore:          time.Now().Add(-time.Hour),
		NotAfter:           time.Now().Add(time.Hour),
		SignatureAlgorithm: alg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// tlsPair runs a real TLS handshake over loopback TCP with the given
// maximum version and returns both sides' connection states.
func tlsPair(t testing.TB, cert tls.Certificate, maxVersion uint16) (srv, cli tls.ConnectionState) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   *tls.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			ch <- res{nil, err}
			return
		}
		c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, MaxVersion: maxVersion})
		ch <- res{c, c.Handshake()}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion, ServerName: testDomain})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { c.Close(); r.c.Close() })
	return r.c.ConnectionState(), c.ConnectionState()
}

// condition returns err's RFC 6120 condition, "" for nil and "!notfailure"
// for an error that is not a *Failure.
func condition(err error) string {
	if err == nil {
		return ""
	}
	var f *Failure
	if !errors.As(err, &f) {
		return "!notfailure: " + err.Error()
	}
	return f.Condition
}
