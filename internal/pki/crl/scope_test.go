package crl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestScope(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	issuer, _ := x509.ParseCertificate(der)
	crlWith := func(exts ...pkix.Extension) ([]byte, error) {
		return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now(),
			NextUpdate: time.Now().Add(time.Hour), ExtraExtensions: exts}, issuer, k)
	}
	idpExt := func(v idp) pkix.Extension {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return pkix.Extension{Id: oidIssuingDP, Critical: true, Value: b}
	}
	leaf := &x509.Certificate{BasicConstraintsValid: true}
	for _, tt := range []struct {
		name     string
		ext      pkix.Extension
		parseErr string
		leafErr  string
		caErr    string
	}{
		{name: "user only", ext: idpExt(idp{OnlyUser: true}), caErr: "only end-entity"},
		{name: "ca only", ext: idpExt(idp{OnlyCA: true}), leafErr: "only CA"},
		{name: "dp only", ext: idpExt(idp{DistributionPoint: asn1.RawValue{Class: 2, Tag: 0, IsCompound: true, Bytes: []byte{0x86, 0x01, 'x'}}})},
		{name: "indirect", ext: idpExt(idp{Indirect: true}), parseErr: "indirect"},
		{name: "some reasons", ext: idpExt(idp{OnlySomeReasons: asn1.BitString{Bytes: []byte{0x40}, BitLength: 2}}), parseErr: "onlySomeReasons"},
		{name: "delta", ext: pkix.Extension{Id: oidDeltaCRL, Critical: true, Value: []byte{2, 1, 1}}, parseErr: "delta CRL"},
		{name: "unknown critical", ext: pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}, parseErr: "unknown critical CRL extension 1.2.3"},
		{name: "unknown", ext: pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}},
		{name: "garbage idp", ext: pkix.Extension{Id: oidIssuingDP, Critical: true, Value: []byte{1, 2, 3}}, parseErr: "malformed issuing distribution point"},
	} {
		b, err := crlWith(tt.ext)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		l, err := Parse(b)
		if tt.parseErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.parseErr) {
				t.Errorf("%s: Parse = %v, want %q", tt.name, err, tt.parseErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		sc, _ := crlScope(l)
		for _, c := range []struct {
			cert *x509.Certificate
			want string
		}{{leaf, tt.leafErr}, {issuer, tt.caErr}} {
			err := sc.covers(c.cert)
			if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: covers(CA=%v) = %v, want %q", tt.name, c.cert.IsCA, err, c.want)
			}
		}
	}
}

// FuzzScope feeds the issuing distribution point parser, our only ASN.1
// parsing of CRL content.
func FuzzScope(f *testing.F) {
	for _, v := range []idp{{OnlyUser: true}, {Indirect: true}, {OnlySomeReasons: asn1.BitString{Bytes: []byte{0x80}, BitLength: 1}}} {
		b, _ := asn1.Marshal(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := crlScope(&x509.RevocationList{Extensions: []pkix.Extension{{Id: oidIssuingDP, Critical: true, Value: b}}})
		if err == nil && sc.onlyUser && sc.onlyCA {
			t.Fatal("accepted both onlyUser and onlyCA")
		}
	})
}

// TestIDPDER decodes hand-written DER as other CAs emit it (IMPLICIT tags),
// not only what encoding/asn1 itself marshals.
func TestIDPDER(t *testing.T) {
	for _, b := range [][]byte{
		{0x30, 0x03, 0x81, 0x01, 0xff}, // onlyContainsUserCerts
		{0x30, 0x0c, 0xa0, 0x07, 0xa0, 0x05, 0x86, 0x03, 'x', 'y', 'z', 0x81, 0x01, 0xff}, // fullName URI "xyz" + onlyContainsUserCerts
	} {
		var v idp
		if rest, err := asn1.Unmarshal(b, &v); err != nil || len(rest) > 0 || !v.OnlyUser || v.OnlyCA {
			t.Errorf("% x: %+v, %v", b, v, err)
		}
	}
}
