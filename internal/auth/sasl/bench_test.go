package sasl

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/xdg-go/scram"
)

// BenchmarkScramSHA256Server measures the server side of one full
// SCRAM-SHA-256 login: NewSession, lookup (in memory), client-first,
// client-final and the proof check. The client messages are computed once
// with fixed nonces, so no client PBKDF2 is timed.
func BenchmarkScramSHA256Server(b *testing.B) {
	acc := newAccounts(b, "juliet", password)
	cfg := acc.config(nil, nil, false)
	const cnonce, snonce = "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j"
	cl, err := scram.SHA256.NewClient("juliet", password, "")
	if err != nil {
		b.Fatal(err)
	}
	conv := cl.WithNonceGenerator(func() string { return cnonce }).NewConversation()
	first, _ := conv.Step("")
	newSess := func() *scramSession {
		s, err := NewSession(ScramSHA256, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ss := s.(*scramSession)
		ss.nonce = func() string { return snonce }
		return ss
	}
	s := newSess()
	out, _, err := s.Step(context.Background(), []byte(first))
	if err != nil {
		b.Fatal(err)
	}
	final, err := conv.Step(string(out))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := newSess()
		if _, _, err := s.Step(context.Background(), []byte(first)); err != nil {
			b.Fatal(err)
		}
		if _, done, err := s.Step(context.Background(), []byte(final)); err != nil || !done {
			b.Fatal(done, err)
		}
	}
}

// BenchmarkPlainServer is one PLAIN login: dominated by PBKDF2 (4096 rounds).
func BenchmarkPlainServer(b *testing.B) {
	acc := newAccounts(b, "juliet", password)
	cfg := acc.config(nil, nil, false)
	cfg.TLS = &tls.ConnectionState{} // PLAIN only checks that TLS is on
	msg := []byte("\x00juliet\x00" + password)
	b.ReportAllocs()
	for b.Loop() {
		s, err := NewSession(Plain, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, done, err := s.Step(context.Background(), msg); err != nil || !done {
			b.Fatal(done, err)
		}
	}
}
