package ca

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/tern-xmpp/tern/internal/pki/keypair"
)

func TestDomainCertificates(t *testing.T) {
	for _, tt := range []struct {
		name         string
		caKey, leaf  KeyType
		intermediate bool
	}{
		{"rsa", RSA2048, RSA2048, false},
		{"ecdsa-intermediate", ECDSAP256, ECDSAP256, true},
		{"mixed", ECDSAP256, RSA2048, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := Init(dir, Options{Name: "orga", Key: tt.caKey, Intermediate: tt.intermediate})
			if err != nil {
				t.Fatal(err)
			}
			is, err := c.IssueDomain("A.Example", []string{"groupchat", "ftproxystream"}, tt.leaf, 0)
			if err != nil {
				t.Fatal(err)
			}
			p, err := keypair.LoadPEMFiles(is.CertPath, is.KeyPath, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			wantLen := 1
			if tt.intermediate {
				wantLen = 2
			}
			if len(p.Chain) != wantLen {
				t.Fatalf("chain of %d, want %d", len(p.Chain), wantLen)
			}
			if ps := keypair.CheckDirectDomainCert(p.Chain, "a.example", []string{"groupchat", "ftproxystream"}, time.Now()); len(ps) != 0 {
				t.Errorf("issued certificate has problems: %v", ps)
			}
			leaf := p.Leaf()
			if got := leaf.CRLDistributionPoints; len(got) != 1 || got[0] != "http://127.0.0.1:5280/pki/orga/crl.der" {
				t.Errorf("CRL DP = %v", got)
			}
			if got := leaf.IssuingCertificateURL; len(got) != 1 || got[0] != "http://127.0.0.1:5280/pki/orga/ca.der" {
				t.Errorf("AIA = %v", got)
			}
			_, isRSA := leaf.PublicKey.(*rsa.PublicKey)
			if isRSA != (tt.leaf == RSA2048) {
				t.Errorf("leaf key %T", leaf.PublicKey)
			}
			roots := x509.NewCertPool()
			roots.AddCert(c.Root())
			inter := x509.NewCertPool()
			for _, x := range p.Chain[1:] {
				inter.AddCert(x)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "groupchat.a.example",
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("verify: %v", err)
			}
			for _, f := range []string{"ca.key", is.KeyFile} {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v mode %v", f, err, fi.Mode())
				}
			}
			if tt.intermediate {
				if fi, err := os.Stat(filepath.Join(dir, "root.key")); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("root.key: %v", err)
				}
				if c.Certificate().CRLDistributionPoints[0] != "http://127.0.0.1:5280/pki/orga/root-crl.der" {
					t.Errorf("intermediate CRL DP %v", c.Certificate().CRLDistributionPoints)
				}
			}
			// Bundle: the root, certs-only PKCS#7.
			b, _ := os.ReadFile(filepath.Join(dir, "bundle.p7b"))
			p7, err := pkcs7.Parse(b)
			if err != nil || len(p7.Certificates) != 1 || !p7.Certificates[0].Equal(c.Root()) {
				t.Errorf("bundle: %v %v", err, p7)
			}
			// A second issue for the same domain gets its own files.
			is2, err := c.IssueDomain("a.example", nil, tt.leaf, 0)
			if err != nil || is2.CertPath == is.CertPath || is2.Serial == is.Serial {
				t.Errorf("second issue: %v %s %s", err, is2.CertPath, is2.Serial)
			}
		})
	}
}

func TestAddressCertificates(t *testing.T) {
	c, err := Init(t.TempDir(), Options{Name: "orgb", Key: ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		kt   KeyType
		u    Usage
		want x509.KeyUsage
	}{
		{RSA2048, Signing, x509.KeyUsageDigitalSignature},
		{RSA2048, Encryption, x509.KeyUsageKeyEncipherment},
		{RSA2048, Dual, x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature},
		{ECDSAP256, Encryption, x509.KeyUsageKeyAgreement},
		{ECDSAP256, Dual, x509.KeyUsageKeyAgreement | x509.KeyUsageDigitalSignature},
	} {
		is, err := c.IssueAddress("nurse@B.example", tt.kt, tt.u, 0)
		if err != nil {
			t.Fatal(err)
		}
		if is.Cert.KeyUsage != tt.want || len(is.Cert.EmailAddresses) != 1 || is.Cert.EmailAddresses[0] != "nurse@b.example" ||
			len(is.Cert.ExtKeyUsage) != 1 || is.Cert.ExtKeyUsage[0] != x509.ExtKeyUsageEmailProtection || len(is.Cert.DNSNames) != 0 {
			t.Errorf("%s %s: usage %b SAN %v EKU %v", tt.kt, tt.u, is.Cert.KeyUsage, is.Cert.EmailAddresses, is.Cert.ExtKeyUsage)
		}
		if _, ok := is.Cert.PublicKey.(*ecdsa.PublicKey); ok != (tt.kt == ECDSAP256) {
			t.Errorf("key %T", is.Cert.PublicKey)
		}
	}
	for _, bad := range []string{"nurse", "@b.example", "nurse@", "nurse@*.b.example"} {
		if _, err := c.IssueAddress(bad, RSA2048, Dual, 0); err == nil {
			t.Errorf("IssueAddress(%q) succeeded", bad)
		}
	}
}

// TestDomainSMIMECertificate: a domain-bound S/MIME certificate names the
// domain only (no service names), allows emailProtection and nothing of TLS.
func TestDomainSMIMECertificate(t *testing.T) {
	c, err := Init(t.TempDir(), Options{Name: "orgb"})
	if err != nil {
		t.Fatal(err)
	}
	is, err := c.IssueDomainSMIME("B.example", RSA2048, Encryption, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := is.Cert; len(got.DNSNames) != 1 || got.DNSNames[0] != "b.example" || len(got.EmailAddresses) != 0 ||
		len(got.ExtKeyUsage) != 1 || got.ExtKeyUsage[0] != x509.ExtKeyUsageEmailProtection || got.KeyUsage != x509.KeyUsageKeyEncipherment {
		t.Errorf("SAN %v %v, EKU %v, usage %b", got.DNSNames, got.EmailAddresses, got.ExtKeyUsage, got.KeyUsage)
	}
	if _, err := c.IssueDomainSMIME("*.b.example", RSA2048, Dual, 0); err == nil {
		t.Error("a wildcard domain was issued")
	}
}

func TestInitErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, Options{Name: "../x"}); err == nil || !strings.Contains(err.Error(), "letters, digits") {
		t.Errorf("bad name: %v", err)
	}
	if _, err := Init(dir, Options{Name: "x", CRLURL: "ftp://x/crl"}); err == nil || !strings.Contains(err.Error(), "http(s)") {
		t.Errorf("bad URL: %v", err)
	}
	if _, err := Init(dir, Options{Name: "x", Key: ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir, Options{Name: "y"}); err == nil || !strings.Contains(err.Error(), "already holds a CA") {
		t.Errorf("second init: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "tern cert init") {
		t.Errorf("open empty: %v", err)
	}
}

func TestRevokeAndCRL(t *testing.T) {
	dir := t.TempDir()
	c, err := Init(dir, Options{Name: "orga", Key: ECDSAP256, Intermediate: true, CRLURL: "http://crl.test/a.crl"})
	if err != nil {
		t.Fatal(err)
	}
	crl0 := readCRL(t, dir)
	if crl0.Number.Int64() != 1 || len(crl0.RevokedCertificateEntries) != 0 || crl0.CheckSignatureFrom(c.Certificate()) != nil {
		t.Fatalf("first CRL: number %v, %d entries", crl0.Number, len(crl0.RevokedCertificateEntries))
	}
	a, _ := c.IssueDomain("a.example", nil, ECDSAP256, 0)
	b, _ := c.IssueAddress("nurse@a.example", ECDSAP256, Signing, 0)
	if a.Cert.CRLDistributionPoints[0] != "http://crl.test/a.crl" {
		t.Errorf("CRL DP %v", a.Cert.CRLDistributionPoints)
	}

	// Reopen, as the CLI does between commands.
	c, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Revoke("0x"+a.Serial, Reasons["keyCompromise"]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Revoke(a.Serial, 1); err == nil || !strings.Contains(err.Error(), "already revoked") {
		t.Errorf("second revoke: %v", err)
	}
	if _, err := c.Revoke("ff", 1); err == nil || !strings.Contains(err.Error(), "was not issued") {
		t.Errorf("unknown serial: %v", err)
	}
	if _, err := c.RevokeFile(b.CertPath, Reasons["superseded"]); err != nil {
		t.Fatal(err)
	}
	if readCRL(t, dir).Number.Int64() != 1 {
		t.Error("revoke published a CRL by itself")
	}
	if _, err := c.PublishCRL(time.Hour); err != nil {
		t.Fatal(err)
	}
	crl := readCRL(t, dir)
	if crl.Number.Int64() != 2 || len(crl.RevokedCertificateEntries) != 2 || crl.CheckSignatureFrom(c.Certificate()) != nil {
		t.Fatalf("CRL: number %v, %d entries", crl.Number, len(crl.RevokedCertificateEntries))
	}
	if e := crl.RevokedCertificateEntries[0]; e.SerialNumber.Cmp(a.Cert.SerialNumber) != 0 || e.ReasonCode != 1 {
		t.Errorf("entry %+v", e)
	}
	if d := crl.NextUpdate.Sub(crl.ThisUpdate); d < time.Hour || d > time.Hour+2*time.Minute {
		t.Errorf("validity %v", d)
	}
	rb, _ := os.ReadFile(filepath.Join(dir, "root-crl.der"))
	if rc, err := x509.ParseRevocationList(rb); err != nil || rc.CheckSignatureFrom(c.Root()) != nil || rc.Number.Int64() != 2 {
		t.Errorf("root CRL: %v", err)
	}
	// A certificate of another CA is refused by file.
	other, _ := Init(t.TempDir(), Options{Name: "other", Key: ECDSAP256})
	o, _ := other.IssueDomain("o.example", nil, ECDSAP256, 0)
	if _, err := c.RevokeFile(o.CertPath, 1); err == nil || !strings.Contains(err.Error(), "was not issued by CA orga") {
		t.Errorf("foreign file: %v", err)
	}
	if es := c.Entries(); len(es) != 2 || !es[0].Revoked() || es[1].Reason != 4 {
		t.Errorf("entries %+v", es)
	}
}

func readCRL(t *testing.T, dir string) *x509.RevocationList {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "crl.der"))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

func TestHandler(t *testing.T) {
	da, db := t.TempDir(), t.TempDir()
	a, err := Init(da, Options{Name: "orga", Key: ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(db, Options{Name: "orgb", Key: ECDSAP256, Intermediate: true}); err != nil {
		t.Fatal(err)
	}
	h, err := Handler(da, db)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string) (int, string, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}
	code, typ, body := get("/pki/orga/crl.der")
	crl, err := x509.ParseRevocationList(body)
	if code != 200 || typ != "application/pkix-crl" || err != nil || crl.Number.Int64() != 1 {
		t.Fatalf("crl.der: %d %s %v", code, typ, err)
	}
	if code, typ, body := get("/pki/orga/ca.der"); code != 200 || typ != "application/pkix-cert" {
		t.Errorf("ca.der: %d %s", code, typ)
	} else if c, err := x509.ParseCertificate(body); err != nil || !c.Equal(a.Certificate()) {
		t.Errorf("ca.der: %v", err)
	}
	if code, typ, body := get("/pki/orgb/bundle.p7b"); code != 200 || typ != "application/pkcs7-mime" {
		t.Errorf("bundle: %d %s", code, typ)
	} else if _, err := pkcs7.Parse(body); err != nil {
		t.Errorf("bundle: %v", err)
	}
	if code, _, _ := get("/pki/orgb/root-crl.der"); code != 200 {
		t.Errorf("root-crl.der: %d", code)
	}
	for _, p := range []string{"/pki/orgc/crl.der", "/pki/orga/ca.key", "/pki/orga/index.json", "/pki/orga/../orgb/ca.key", "/pki/orga/root.der", "/other"} {
		if code, _, _ := get(p); code != 404 {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
	// Re-publish: served at once.
	is, _ := a.IssueDomain("a.example", nil, ECDSAP256, 0)
	if _, err := a.Revoke(is.Serial, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PublishCRL(0); err != nil {
		t.Fatal(err)
	}
	_, _, body = get("/pki/orga/crl.der")
	if crl, err := x509.ParseRevocationList(body); err != nil || crl.Number.Int64() != 2 || len(crl.RevokedCertificateEntries) != 1 {
		t.Errorf("re-published CRL not served: %v", err)
	}
	// A client holding the old CRL's ETag gets the new one.
	req, _ := http.NewRequest("GET", srv.URL+"/pki/orga/crl.der", nil)
	r1, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r1.Body.Close()
	etag := r1.Header.Get("ETag")
	req.Header.Set("If-None-Match", etag)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusNotModified {
		t.Errorf("same ETag: %d", r2.StatusCode)
	}
	if _, err := a.PublishCRL(0); err != nil {
		t.Fatal(err)
	}
	r3, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r3.Body.Close()
	if r3.StatusCode != 200 || r3.Header.Get("ETag") == etag {
		t.Errorf("after re-publish with the old ETag: %d", r3.StatusCode)
	}
	resp, _ := http.Post(srv.URL+"/pki/orga/crl.der", "text/plain", nil)
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	resp.Body.Close()

	if _, err := Handler(da, da); err == nil || !strings.Contains(err.Error(), "both named") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := Handler(t.TempDir()); err == nil || !strings.Contains(err.Error(), "tern cert init") {
		t.Errorf("no CA: %v", err)
	}
}

func TestExpiredIssue(t *testing.T) {
	c, _ := Init(t.TempDir(), Options{Name: "x", Key: ECDSAP256})
	is, err := c.IssueDomain("a.example", nil, ECDSAP256, -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keypair.LoadPEMFiles(is.CertPath, is.KeyPath, time.Now()); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired certificate loads: %v", err)
	}
}
