// Package smime is the Direct security/trust agent's cryptography: S/MIME
// 3.2 (RFC 5751) messages as the Direct Applicability Statement (1.2, with
// 1.3's algorithms) has them. Outgoing, the whole RFC 5322 message is
// wrapped (message/rfc822), signed (multipart/signed, a detached CMS
// SignedData, RFC 5652 §5, SHA-256 and the signer's chain) and then
// encrypted (application/pkcs7-mime enveloped-data, RFC 5652 §6, AES-CBC
// RFC 3565, RSA key transport PKCS#1 v1.5 or RSAES-OAEP RFC 8017/4055) to
// every recipient certificate. Incoming, Open decrypts, verifies the
// signature over the exact received bytes, checks the algorithms against
// the Direct policy (no MD5, SHA-1, DES, 3DES, RC2, RSA under 2048) and
// leaves the signer's trust to the caller's validator (internal/direct/trust:
// binding, validity, key usage, revocation, anchors), naming the rule of
// every rejection.
//
// CMS parsing and signing use github.com/smallstep/pkcs7 with its package
// defaults untouched; enveloped-data is written here, per call, so two
// sends with different algorithms never race on its globals.
package smime
