package smime

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

var sizes = []int{4 << 10, 1 << 20, 10 << 20}

// BenchmarkSeal: a Direct message with one attachment of each size,
// wrapped, signed (SHA-256, RSA-2048) and encrypted (AES-128-CBC, RSA
// key transport) to one RSA-2048 recipient. Compare BenchmarkOpenSSLSeal.
func BenchmarkSeal(b *testing.B) {
	l := newLab(b)
	for _, n := range sizes {
		data := make([]byte, n)
		rand.Read(data)
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				m := testMessage()
				m.Parts[1].Data = data
				if _, err := Seal(m, Signer{Cert: l.sender.Cert, Key: l.sender.Key}, []*x509.Certificate{l.recipient.Cert}, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenSSLSeal: the same with `openssl cms -sign` then `openssl
// cms -encrypt -aes128` on the message Seal wraps (two processes per
// message, as a script would run them).
func BenchmarkOpenSSLSeal(b *testing.B) {
	ossl, err := exec.LookPath("openssl")
	if err != nil {
		b.Skip("openssl not installed")
	}
	l := newLab(b)
	sc := l.write(b, "s.pem", trusttest.PEM(l.sender.Cert))
	sk := l.write(b, "s.key", keyPEM(b, l.sender.Key))
	rc := l.write(b, "r.pem", trusttest.PEM(l.recipient.Cert))
	for _, n := range sizes {
		data := make([]byte, n)
		rand.Read(data)
		m := testMessage()
		m.Parts[1].Data = data
		inner, err := m.Bytes()
		if err != nil {
			b.Fatal(err)
		}
		ent := append([]byte("Content-Type: message/rfc822\r\n\r\n"), inner...)
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				sign := exec.Command(ossl, "cms", "-sign", "-md", "sha256", "-signer", sc, "-inkey", sk)
				sign.Stdin = bytes.NewReader(ent)
				signed, err := sign.Output()
				if err != nil {
					b.Fatal(err)
				}
				enc := exec.Command(ossl, "cms", "-encrypt", "-aes128", rc)
				enc.Stdin = bytes.NewReader(signed)
				if _, err := enc.Output(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen: the receive path on what Seal made (decrypt, verify,
// policy, the signer validated against the lab's anchors).
func BenchmarkOpen(b *testing.B) {
	l := newLab(b)
	for _, n := range sizes {
		data := make([]byte, n)
		rand.Read(data)
		m := testMessage()
		m.Parts[1].Data = data
		raw, err := Seal(m, Signer{Cert: l.sender.Cert, Key: l.sender.Key}, []*x509.Certificate{l.recipient.Cert}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := Open(b.Context(), raw, l.rcpt(), l.verifier()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealStream: SealStream of a document read from a file (10 and
// 50 MiB), written to io.Discard; B/op and the heap show what it holds.
func BenchmarkSealStream(b *testing.B) {
	l := newLab(b)
	for _, n := range []int{10 << 20, 50 << 20} {
		data := make([]byte, n)
		rand.Read(data)
		path := l.write(b, fmt.Sprintf("doc-%d", n), data)
		data = nil
		b.Run(fmt.Sprintf("%dMiB", n>>20), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			tmp := b.TempDir()
			for b.Loop() {
				m := &Message{From: "drjones@a.test", To: []string{"nurse@b.test"}, Subject: "Imaging",
					Parts: []Part{{Data: []byte("The scan.\n")}, {Filename: "scan.pdf", Path: path}}}
				if _, err := SealStream(io.Discard, m, Signer{Cert: l.sender.Cert, Key: l.sender.Key}, []*x509.Certificate{l.recipient.Cert}, Options{}, tmp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenFile: OpenFile of what SealStream made from a 10 and a 50
// MiB document (the receive path a message fetched by reference takes);
// B/op shows what it holds.
func BenchmarkOpenFile(b *testing.B) {
	l := newLab(b)
	for _, n := range []int{10 << 20, 50 << 20} {
		path := l.streamSealed(b, n)
		b.Run(fmt.Sprintf("%dMiB", n>>20), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			tmp := b.TempDir()
			for b.Loop() {
				op, err := OpenFile(b.Context(), path, l.rcpt(), l.verifier(), tmp)
				if err != nil {
					b.Fatal(err)
				}
				op.Close()
			}
		})
	}
}

// BenchmarkOpenSSLOpen: `openssl cms -decrypt` then `openssl cms -verify`
// (against the same anchor) on what Seal made, piped from Go. Compare
// BenchmarkOpen.
func BenchmarkOpenSSLOpen(b *testing.B) {
	ossl, err := exec.LookPath("openssl")
	if err != nil {
		b.Skip("openssl not installed")
	}
	l := newLab(b)
	rc := l.write(b, "r.pem", trusttest.PEM(l.recipient.Cert))
	rk := l.write(b, "r.key", keyPEM(b, l.recipient.Key))
	ca := l.write(b, "ca.pem", trusttest.PEM(l.rootA.Cert))
	for _, n := range sizes {
		data := make([]byte, n)
		rand.Read(data)
		m := testMessage()
		m.Parts[1].Data = data
		raw, err := Seal(m, Signer{Cert: l.sender.Cert, Key: l.sender.Key}, []*x509.Certificate{l.recipient.Cert}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				dec := exec.Command(ossl, "cms", "-decrypt", "-recip", rc, "-inkey", rk)
				dec.Stdin = bytes.NewReader(raw)
				signed, err := dec.Output()
				if err != nil {
					b.Fatal(err)
				}
				ver := exec.Command(ossl, "cms", "-verify", "-CAfile", ca, "-purpose", "any")
				ver.Stdin = bytes.NewReader(signed)
				if out, err := ver.CombinedOutput(); err != nil {
					b.Fatalf("%v: %.300s", err, out)
				}
			}
		})
	}
}

// streamSealed seals an n-byte document with SealStream into a file.
func (l *lab) streamSealed(t testing.TB, n int) string {
	data := make([]byte, n)
	rand.Read(data)
	doc := l.write(t, fmt.Sprintf("doc-%d", n), data)
	out := l.write(t, fmt.Sprintf("sealed-%d.eml", n), nil)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := &Message{From: "drjones@a.test", To: []string{"nurse@b.test"}, Subject: "Imaging",
		Parts: []Part{{Data: []byte("The scan.\n")}, {Filename: "scan.pdf", Path: doc}}}
	if _, err := SealStream(f, m, Signer{Cert: l.sender.Cert, Key: l.sender.Key}, []*x509.Certificate{l.recipient.Cert}, Options{}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return out
}
