package trust

import (
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// FuzzParseBundle: bundles come from the network; the parser must never
// panic, and nothing signed is accepted without the signing certificate.
func FuzzParseBundle(f *testing.F) {
	root := trusttest.NewRoot(f, "Fuzz Root", trusttest.Opts{})
	signer := trusttest.NewRoot(f, "Fuzz Signer", trusttest.Opts{})
	p7b := trusttest.P7B(f, root.Cert)
	f.Add(p7b)
	f.Add(trusttest.PEM(root.Cert))
	f.Add(pemBlock("PKCS7", p7b))
	f.Add(trusttest.SignedBundle(f, p7b, signer.Cert, signer.Key))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0x00, 0x00})
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseBundle(data, nil, now)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
		if certs, err := ParseBundle(data, signer.Cert, now); err == nil && len(certs) == 0 {
			t.Fatal("signed: no error and no certificate")
		}
		parseCerts(data)
	})
}
