package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// servedCert returns the leaf certificate the direct-TLS listener presents.
func servedCert(t *testing.T, addr, name string) *x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true, NextProtos: []string{"xmpp-client"}})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// TestSIGHUPReloadsCertificates: the issue asks for certificates from files
// reloaded on SIGHUP. Replace the files, signal, and the next handshake
// must present the new certificate while the server keeps running.
func TestSIGHUPReloadsCertificates(t *testing.T) {
	srv := startTern(t, ternOpts{})
	before := servedCert(t, srv.c2sTLS, srv.domain)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(424242), Subject: pkix.Name{CommonName: srv.domain, Organization: []string{"reload test"}},
		DNSNames: []string{srv.domain}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(srv.dataDir, "certs")
	if err := os.WriteFile(filepath.Join(dir, srv.domain+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, srv.domain+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := servedCert(t, srv.c2sTLS, srv.domain)
		if after.SerialNumber.Cmp(big.NewInt(424242)) == 0 {
			break
		}
		if !after.Equal(before) {
			t.Fatalf("after SIGHUP the server presents neither the old nor the new certificate: %v", after.Subject)
		}
		if time.Now().After(deadline) {
			t.Fatal("the new certificate is not served 10s after SIGHUP")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Still a working server: a login succeeds on the new certificate.
	c := connect(t, &srv.target, srv.users[0], loginOpts{})
	c.close()
}
