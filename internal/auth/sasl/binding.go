package sasl

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// Channel-binding type names (RFC 5056 registry).
const (
	BindingTLSExporter       = "tls-exporter"
	BindingTLSServerEndPoint = "tls-server-end-point"
)

// ChannelBindingTypes returns the channel-binding types valid for this TLS
// connection, preferred first, for XEP-0440's <sasl-channel-binding/>:
//
//   - tls-exporter on TLS 1.3, and on TLS 1.2 only when the extended master
//     secret was negotiated (RFC 9266 §3; crypto/tls refuses to export
//     otherwise, unless GODEBUG=tlsunsafeekm=1, which must not be set);
//   - tls-server-end-point when served, the leaf certificate the server
//     presented on this connection, is given and its signature algorithm
//     names a single hash (RFC 5929 §4.1: not Ed25519). A server-side
//     tls.ConnectionState does not hold the server's own certificate, hence
//     the extra argument; only the first is used.
//
// tls-unique is never returned.
func ChannelBindingTypes(cs tls.ConnectionState, served ...*x509.Certificate) []string {
	var types []string
	if _, err := exporterData(&cs); err == nil {
		types = append(types, BindingTLSExporter)
	}
	if len(served) > 0 && served[0] != nil && cs.HandshakeComplete {
		if _, ok := endPointHash(served[0]); ok {
			types = append(types, BindingTLSServerEndPoint)
		}
	}
	return types
}

// bindingData returns the channel-binding data of type name, or an error if
// that type is not available on this connection.
func bindingData(name string, cs *tls.ConnectionState, served *x509.Certificate) ([]byte, error) {
	switch name {
	case BindingTLSExporter:
		return exporterData(cs)
	case BindingTLSServerEndPoint:
		if served == nil || cs == nil || !cs.HandshakeComplete {
			return nil, errors.New("no server certificate configured for tls-server-end-point")
		}
		h, ok := endPointHash(served)
		if !ok {
			return nil, errors.New("the server certificate's signature algorithm defines no tls-server-end-point hash")
		}
		d := h.New()
		d.Write(served.Raw)
		return d.Sum(nil), nil
	}
	return nil, errors.New("unsupported channel-binding type")
}

// exporterData is RFC 9266 §2: 32 bytes, label "EXPORTER-Channel-Binding",
// no context.
func exporterData(cs *tls.ConnectionState) (data []byte, err error) {
	if cs == nil || !cs.HandshakeComplete {
		return nil, errors.New("TLS handshake not complete")
	}
	if cs.Version < tls.VersionTLS12 {
		return nil, errors.New("tls-exporter needs TLS 1.2 with extended master secret, or TLS 1.3")
	}
	// A hand-built ConnectionState has no exporter; don't let it panic.
	defer func() {
		if recover() != nil {
			data, err = nil, errors.New("TLS connection state has no keying-material exporter")
		}
	}()
	return cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
}

// endPointHash is RFC 5929 §4.1: the certificate's signature hash, with
// MD5 and SHA-1 replaced by SHA-256.
func endPointHash(c *x509.Certificate) (crypto.Hash, bool) {
	switch c.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1,
		x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.ECDSAWithSHA256, x509.DSAWithSHA256:
		return crypto.SHA256, true
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		return crypto.SHA384, true
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		return crypto.SHA512, true
	}
	return 0, false
}
