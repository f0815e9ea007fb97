package crl

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

var (
	oidCRLNumber      = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidDeltaCRL       = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDP      = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidFreshestCRL    = asn1.ObjectIdentifier{2, 5, 29, 46}
	oidIssuerAltName  = asn1.ObjectIdentifier{2, 5, 29, 18}
)

// scope is what a CRL's issuing distribution point extension (RFC 5280
// §5.2.5) says it covers. Go's x509 does not parse it, and a CRL that
// covers only user certificates says nothing about a CA certificate.
type scope struct {
	onlyUser, onlyCA bool
}

// idp is IssuingDistributionPoint; the module uses IMPLICIT tags.
type idp struct {
	DistributionPoint asn1.RawValue  `asn1:"optional,tag:0"`
	OnlyUser          bool           `asn1:"optional,tag:1"`
	OnlyCA            bool           `asn1:"optional,tag:2"`
	OnlySomeReasons   asn1.BitString `asn1:"optional,tag:3"`
	Indirect          bool           `asn1:"optional,tag:4"`
	OnlyAttribute     bool           `asn1:"optional,tag:5"`
}

// crlScope returns the scope of l, or an error for the kinds of CRL this
// checker does not evaluate (delta, indirect, partitioned by reason,
// attribute certificates) and for unknown critical extensions, which
// RFC 5280 §5.2 says must make the CRL unusable.
func crlScope(l *x509.RevocationList) (scope, error) {
	var sc scope
	for _, e := range l.Extensions {
		switch {
		case e.Id.Equal(oidDeltaCRL):
			return sc, errors.New("it is a delta CRL (RFC 5280 §5.2.4), which this checker does not combine: the distribution point must serve a complete CRL")
		case e.Id.Equal(oidIssuingDP):
			var v idp
			rest, err := asn1.Unmarshal(e.Value, &v)
			if err != nil || len(rest) > 0 {
				return sc, fmt.Errorf("malformed issuing distribution point extension: %v", err)
			}
			switch {
			case v.Indirect:
				return sc, errors.New("indirect CRLs (RFC 5280 §5.2.5) are not supported")
			case v.OnlySomeReasons.BitLength > 0:
				return sc, errors.New("the CRL covers only some revocation reasons (onlySomeReasons), so it cannot prove a certificate good")
			case v.OnlyAttribute:
				return sc, errors.New("the CRL covers only attribute certificates")
			case v.OnlyUser && v.OnlyCA:
				return sc, errors.New("malformed issuing distribution point: both onlyContainsUserCerts and onlyContainsCACerts")
			}
			sc.onlyUser, sc.onlyCA = v.OnlyUser, v.OnlyCA
		case e.Id.Equal(oidCRLNumber), e.Id.Equal(oidAuthorityKeyID), e.Id.Equal(oidFreshestCRL), e.Id.Equal(oidIssuerAltName):
		case e.Critical:
			return sc, fmt.Errorf("unknown critical CRL extension %s (RFC 5280 §5.2: such a CRL must not be used)", e.Id)
		}
	}
	return sc, nil
}

// covers reports whether a CRL of scope sc can speak for cert.
func (sc scope) covers(cert *x509.Certificate) error {
	isCA := cert.BasicConstraintsValid && cert.IsCA
	switch {
	case sc.onlyUser && isCA:
		return errors.New("the CRL covers only end-entity certificates, and this one is a CA")
	case sc.onlyCA && !isCA:
		return errors.New("the CRL covers only CA certificates, and this one is an end entity")
	}
	return nil
}
