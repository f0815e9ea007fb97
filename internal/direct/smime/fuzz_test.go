package smime

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"

	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// FuzzOpen: any bytes as a received message never panic and, with no
// certificate to decrypt with, are never accepted.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\r\n"))
	f.Add([]byte("Content-Type: multipart/signed; boundary=x; protocol=\"application/pkcs7-signature\"\r\n\r\n--x\r\nA\r\n--x\r\nB\r\n--x--\r\n"))
	f.Add([]byte("From: a@b\r\n\r\nhello"))
	never := func(context.Context, string, []*x509.Certificate) (*trust.Result, error) {
		return &trust.Result{Trusted: true}, nil
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if op, err := Open(context.Background(), raw, nil, never); err == nil {
			t.Fatalf("accepted with no key: %+v", op)
		} else if _, ok := err.(*Rejection); !ok {
			t.Fatalf("error %v is not a *Rejection", err)
		}
	})
}

// FuzzInspectEnvelope: the BER reader never panics on any input and never
// reads past it.
func FuzzInspectEnvelope(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = InspectEnvelope(b)
		if v, rest, err := parseTLV(b, 0); err == nil && len(v.full)+len(rest) != len(b) {
			t.Fatalf("read %d + %d of %d bytes", len(v.full), len(rest), len(b))
		}
	})
}

// FuzzSplitMultipart: parts are always inside the body.
func FuzzSplitMultipart(f *testing.F) {
	f.Add([]byte("--x\r\nA\r\n--x\r\nB\r\n--x--\r\n"), "x")
	f.Add([]byte("preamble\n--b\nA\n--b--"), "b")
	f.Fuzz(func(t *testing.T, body []byte, bd string) {
		parts, err := splitMultipart(body, bd)
		if err != nil {
			return
		}
		for _, p := range parts {
			if len(p) > len(body) {
				t.Fatal("a part longer than the body")
			}
		}
	})
}

// FuzzDecrypt: the envelope reader (CBC, GCM; RSA key transport, ECDH)
// never panics on what a sender makes of a real envelope, and what it
// returns for a changed GCM envelope is never content.
func FuzzDecrypt(f *testing.F) {
	l := newLab(f)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec := l.leaf(f, l.rootB, "nurse@b.test", trusttest.Opts{Key: k, KeyUsage: x509.KeyUsageKeyAgreement})
	content := []byte("the signed entity")
	for _, c := range []Cipher{AES128CBC, AES256GCM} {
		for _, kt := range []KeyTransport{RSAPKCS1, RSAOAEP} {
			der, err := Encrypt(content, []*x509.Certificate{l.recipient.Cert, ec.Cert}, c, kt)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(der)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range []Recipient{{Cert: l.recipient.Cert, Key: l.recipient.Key}, {Cert: ec.Cert, Key: ec.Key}} {
			_, _ = Decrypt(b, r.Cert, r.Key)
		}
	})
}

// FuzzKeyWrap: unwrap(wrap(k)) is k; a changed wrapping does not unwrap.
func FuzzKeyWrap(f *testing.F) {
	f.Add(make([]byte, 16), make([]byte, 16), 3)
	f.Fuzz(func(t *testing.T, kek, key []byte, flip int) {
		if len(kek) != 16 && len(kek) != 32 || len(key) < 16 || len(key)%8 != 0 || len(key) > 64 {
			return
		}
		w, err := aesWrap(kek, key)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := aesUnwrap(kek, w); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("round trip: %x %v", got, err)
		}
		w[(flip%len(w)+len(w))%len(w)] ^= 1
		if _, err := aesUnwrap(kek, w); err == nil {
			t.Fatal("a changed wrapping unwrapped")
		}
	})
}
