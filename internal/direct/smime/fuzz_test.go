package smime

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"io"
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

// FuzzStreamEnvelope: the streaming CMS reader never panics, never reads
// past its input, and reads an envelope's recipientInfos and algorithm as
// the in-memory reader does.
func FuzzStreamEnvelope(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00,
		0x31, 0x00, 0x30, 0x80, 0x06, 0x00, 0x30, 0x02, 0x06, 0x00, 0xa0, 0x80, 0x04, 0x02, 1, 2, 0x04, 0x01, 3, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &derReader{r: bufio.NewReader(bytes.NewReader(b))}
		s, err := d.envelope()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, s.content)
		if n > int64(len(b)) || d.n > int64(len(b)) {
			t.Fatalf("read %d content bytes, %d in all, of %d", n, d.n, len(b))
		}
		if env, err := InspectEnvelope(b); err == nil {
			got, err := envelopeOf(s.ris, s.alg)
			if err != nil || !got.Cipher.Equal(env.Cipher) || got.Recipients != env.Recipients {
				t.Fatalf("streamed %+v (%v), in memory %+v", got, err, env)
			}
		}
	})
}

// FuzzSplitAt: the multipart parts found by offset are the ones
// splitMultipart cuts from memory (the signature covers those bytes).
func FuzzSplitAt(f *testing.F) {
	f.Add([]byte("pre\r\n--b\r\nA\r\n--b\r\n\r\n--b \t\r\nC\n--b--\r\n"), "b")
	f.Add([]byte("--b\nx\r\r\n--b\r\n--b--"), "b")
	f.Fuzz(func(t *testing.T, body []byte, bd string) {
		want, werr := splitMultipart(body, bd)
		got, gerr := splitAt(bytes.NewReader(body), 0, bd)
		if (werr == nil) != (gerr == nil) {
			if gerr != nil && len(want) > 16 {
				return // splitAt stops at 16 parts
			}
			t.Fatalf("splitMultipart: %v; splitAt: %v", werr, gerr)
		}
		if len(got) != len(want) {
			t.Fatalf("%d parts, want %d", len(got), len(want))
		}
		for i, p := range got {
			if !bytes.Equal(body[p[0]:p[1]], want[i]) {
				t.Fatalf("part %d: %q, want %q", i, body[p[0]:p[1]], want[i])
			}
		}
	})
}

// TestSplitAtLongLines: lines longer than the reader's buffer, and a CR
// that ends one buffer before the LF that starts the next.
func TestSplitAtLongLines(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 64<<10-1)
	for _, body := range [][]byte{
		cat([]byte("--b\r\n"), long, []byte("\r\n--b\r\nsig\r\n--b--\r\n")),
		cat([]byte("--b\r\n"), long, long, []byte("\r\n--b\r\n--b--")),
		cat([]byte("--b\r\n"), long[:64<<10-6], []byte("\r\n--b\r\n--b--")), // the CR last in the first buffer
		cat([]byte("--b\r\n"), long, []byte("--b\r\n--b\r\n--b--")),
	} {
		want, werr := splitMultipart(body, "b")
		got, gerr := splitAt(bytes.NewReader(body), 0, "b")
		if werr != nil || gerr != nil || len(got) != len(want) {
			t.Fatalf("%d parts (%v), want %d (%v)", len(got), gerr, len(want), werr)
		}
		for i, p := range got {
			if !bytes.Equal(body[p[0]:p[1]], want[i]) {
				t.Fatalf("part %d: %d bytes, want %d", i, p[1]-p[0], len(want[i]))
			}
		}
	}
}

// TestSplitAtLongPadding: a delimiter padded past its line limit is
// content both in memory and from a file (the review's 70 KiB of spaces).
func TestSplitAtLongPadding(t *testing.T) {
	pad := bytes.Repeat([]byte(" "), 70<<10)
	for _, body := range [][]byte{
		cat([]byte("--b\r\nA\r\n--b"), pad, []byte("\r\nB\r\n--b--\r\n")),
		cat([]byte("--b\r\nA\r\n--b"), pad[:maxDelimLine-3], []byte("\r\nB\r\n--b--\r\n")),
	} {
		want, werr := splitMultipart(body, "b")
		got, gerr := splitAt(bytes.NewReader(body), 0, "b")
		if (werr == nil) != (gerr == nil) || len(got) != len(want) {
			t.Fatalf("%d parts (%v), want %d (%v)", len(got), gerr, len(want), werr)
		}
	}
}
