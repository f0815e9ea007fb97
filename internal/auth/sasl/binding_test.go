package sasl

import (
	"bytes"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"testing"
)

func TestChannelBindingTypes(t *testing.T) {
	ec256 := testCert(t, x509.ECDSAWithSHA256)
	ed := testCert(t, x509.PureEd25519)
	for _, tc := range []struct {
		name    string
		cert    tls.Certificate
		version uint16
		served  *x509.Certificate
		want    []string
	}{
		{"TLS 1.3", ec256, tls.VersionTLS13, nil, []string{BindingTLSExporter}},
		{"TLS 1.3 with cert", ec256, tls.VersionTLS13, ec256.Leaf, []string{BindingTLSExporter, BindingTLSServerEndPoint}},
		// Go clients always negotiate the extended master secret on 1.2.
		{"TLS 1.2 EMS with cert", ec256, tls.VersionTLS12, ec256.Leaf, []string{BindingTLSExporter, BindingTLSServerEndPoint}},
		{"Ed25519 cert has no end-point hash", ed, tls.VersionTLS13, ed.Leaf, []string{BindingTLSExporter}},
	} {
		srv, _ := tlsPair(t, tc.cert, tc.version)
		got := ChannelBindingTypes(srv, tc.served)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
		}
		if slices.Contains(got, "tls-unique") {
			t.Errorf("%s: offers tls-unique", tc.name)
		}
	}
	// A state that never did a handshake offers nothing and does not panic.
	if got := ChannelBindingTypes(tls.ConnectionState{}, ec256.Leaf); len(got) != 0 {
		t.Errorf("zero state: %v", got)
	}
	if got := ChannelBindingTypes(tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13}); len(got) != 0 {
		t.Errorf("hand-built state: %v", got)
	}
}

// RFC 5929 §4.1: SHA-384 signature means SHA-384 of the certificate.
func TestServerEndPointHash(t *testing.T) {
	c := testCert(t, x509.ECDSAWithSHA384)
	srv, _ := tlsPair(t, c, tls.VersionTLS13)
	got, err := bindingData(BindingTLSServerEndPoint, &srv, c.Leaf)
	want := sha512.Sum384(c.Leaf.Raw)
	if err != nil || !bytes.Equal(got, want[:]) {
		t.Errorf("tls-server-end-point = %x, %v; want %x", got, err, want)
	}
	if _, err := bindingData("tls-unique", &srv, c.Leaf); err == nil {
		t.Errorf("tls-unique data produced")
	}
}

func TestMechanisms(t *testing.T) {
	c := testCert(t, x509.ECDSAWithSHA256)
	srv, _ := tlsPair(t, c, tls.VersionTLS13)
	all := []string{ScramSHA512Plus, ScramSHA256Plus, ScramSHA1Plus, ScramSHA512, ScramSHA256, ScramSHA1, Plain}
	for _, tc := range []struct {
		name       string
		cs         *tls.ConnectionState
		allowPlain bool
		want       []string
	}{
		{"no TLS", nil, true, []string{ScramSHA512, ScramSHA256, ScramSHA1}},
		{"TLS, PLAIN allowed", &srv, true, all},
		{"TLS, PLAIN not allowed", &srv, false, all[:6]},
		{"TLS without binding", &tls.ConnectionState{}, true, []string{ScramSHA512, ScramSHA256, ScramSHA1, Plain}},
	} {
		if got := Mechanisms(tc.cs, tc.allowPlain); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestNewSessionRefusals(t *testing.T) {
	acc := newAccounts(t)
	srv, _ := tlsPair(t, testCert(t, x509.ECDSAWithSHA256), tls.VersionTLS13)
	short := acc.config(nil, nil, false)
	short.Secret = []byte("short")
	noLookup := acc.config(nil, nil, false)
	noLookup.Lookup = nil
	for _, tc := range []struct {
		name, mech string
		cfg        Config
		want       string
	}{
		{"unknown mechanism", "DIGEST-MD5", acc.config(&srv, nil, true), InvalidMechanism},
		{"lowercase name", "scram-sha-256", acc.config(&srv, nil, true), InvalidMechanism},
		{"-PLUS without TLS", ScramSHA256Plus, acc.config(nil, nil, true), InvalidMechanism},
		{"-PLUS not offered", ScramSHA256Plus, acc.config(&srv, nil, false), InvalidMechanism},
		{"-PLUS without binding", ScramSHA256Plus, acc.config(&tls.ConnectionState{}, nil, true), InvalidMechanism},
		{"short secret", ScramSHA256, short, TemporaryAuthFailure},
		{"no lookup", ScramSHA256, noLookup, TemporaryAuthFailure},
	} {
		if _, err := NewSession(tc.mech, tc.cfg); condition(err) != tc.want {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}
}
