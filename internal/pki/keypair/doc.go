// Package keypair loads a domain's certificate chain and private key, from
// PEM files or a PKCS#12 file, and checks a certificate against the profile
// a Direct (TIM+) domain certificate must meet.
//
// Loading accepts what operators are handed by CAs: a PEM certificate file
// holding the leaf and its intermediates in any order, a PKCS#1, PKCS#8 or
// SEC1 key, or a PKCS#12 (RFC 7292) file with or without a password,
// encrypted the OpenSSL 3 default way (PBES2, PBKDF2-HMAC-SHA-256,
// AES-256-CBC) or the legacy one (pbeWithSHAAnd3-KeyTripleDES-CBC, SHA-1
// MAC). Every error names the file, what is wrong and how to fix it,
// because it ends up in front of an operator in `tern check` or the log.
//
// CheckDirectDomainCert lists every deviation from the Direct/TIM+ domain
// certificate profile: the SAN dNSName binding (RFC 5280 §4.2.1.6; the
// subject CN is not used, no wildcard), a CRL distribution point (RFC 5280
// §4.2.1.13) because peers fail closed without one, key usage (§4.2.1.3),
// extended key usage serverAuth and clientAuth (§4.2.1.12: the certificate
// is the TLS server and client certificate of s2s), key size and signature
// algorithm (Direct Applicability Statement: RSA-2048 or ECDSA
// P-256/P-384, SHA-256 or better).
package keypair
