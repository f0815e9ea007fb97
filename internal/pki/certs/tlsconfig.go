package certs

import "crypto/tls"

// ALPN protocol names of XEP-0368 §3.
const (
	ALPNClient = "xmpp-client"
	ALPNServer = "xmpp-server"
)

// ServerTLSConfig is the c2s configuration: Mozilla "intermediate" (TLS
// 1.2+, ECDHE with AES-GCM or ChaCha20-Poly1305), certificates from m by
// SNI, ALPN "xmpp-client".
func ServerTLSConfig(m *Manager) *tls.Config {
	return intermediate(m, ALPNClient)
}

// S2STLSConfig is the s2s variant: ALPN "xmpp-server", and the peer's
// certificate requested but not verified by crypto/tls, because peers
// send serverAuth-only certificates (Let's Encrypt since 2026) that Go's
// client-certificate verification rejects; the s2s layer verifies them
// against the peer domain (RFC 6120 §13.7.2, RFC 6125).
func S2STLSConfig(m *Manager) *tls.Config {
	c := intermediate(m, ALPNServer)
	c.ClientAuth = tls.RequestClientCert
	return c
}

func intermediate(m *Manager, alpn string) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: m.GetCertificate,
		// TLS 1.3 suites are not configurable in Go and are all AEAD.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		// The hybrid post-quantum group first (Mozilla's 2025 guidance and
		// Go's default), then the intermediate profile's curves.
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384},
		NextProtos:       []string{alpn},
	}
}

// ForDomain returns cfg for one connection whose stream header named
// domain: a client that sends no SNI (Prosody 0.12 on STARTTLS s2s, some
// old clients) gets that domain's certificate instead of the default one.
func ForDomain(cfg *tls.Config, domain string) *tls.Config {
	if cfg == nil || cfg.GetCertificate == nil || domain == "" {
		return cfg
	}
	c := cfg.Clone()
	get := cfg.GetCertificate
	c.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if h.ServerName == "" {
			named := *h
			named.ServerName = domain
			return get(&named)
		}
		return get(h)
	}
	return c
}
