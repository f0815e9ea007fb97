package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/pki/crl"
	"github.com/tern-xmpp/tern/internal/pki/keypair"
)

const directVerifyHelp = `Usage: tern direct verify MESSAGE.eml (--key KEY --cert CERT | --p12 FILE [--password-file FILE])
                         --anchors FILE [--crl FILE]... [--now RFC3339]

Runs the Direct receive path on a message file exactly as it arrived (RFC 5322,
CRLF): decrypt with the recipient's key and certificate, verify the signature
over the exact signed bytes, refuse weak algorithms (MD5, SHA-1, DES, 3DES, RC2,
RSA under 2048), compare the signed headers with the outer ones, and check the
signer: bound to the sender's address or domain (SAN), valid in time, allowed to
sign, not revoked, chaining to an anchor in FILE (PEM, DER or a PKCS#7 bundle;
intermediates from the message, else fetched from AIA). CRLs come from --crl
files, else from the certificates' distribution points.

Prints "accept" and what was checked, or "reject", the rule and why.
Exit status: 0 accepted, 1 rejected, 2 bad usage or unreadable input.
`

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func cmdDirectVerify(e *env, args []string) int {
	fs := e.flags("direct verify", directVerifyHelp)
	key := fs.String("key", "", "the recipient's private key, PEM `file`")
	cert := fs.String("cert", "", "the recipient's certificate, PEM `file` (with --key)")
	p12 := fs.String("p12", "", "the recipient's PKCS#12 `file` (certificate and key)")
	pw := fs.String("password-file", "", "the PKCS#12 password on the first line of `file`")
	anchors := fs.String("anchors", "", "the sender domain's trust anchors: PEM, DER or PKCS#7 bundle `file`")
	at := fs.String("now", "", "check validity at this `time` (RFC 3339) instead of now")
	var crls multiFlag
	fs.Var(&crls, "crl", "a CRL `file` (PEM or DER); repeat for more")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageError(fs, "give one message file")
	}
	if *anchors == "" {
		return e.usageError(fs, "--anchors FILE is required: the sender domain's trust anchors")
	}
	if (*p12 == "") == (*key == "" && *cert == "") || (*p12 == "" && (*key == "" || *cert == "")) {
		return e.usageError(fs, "give --key and --cert, or --p12")
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return e.usageError(fs, "--now %q: %v", *at, err)
		}
		now = t
	}
	unreadable := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "tern direct verify: "+format+"\n", a...)
		return 2
	}
	if _, err := os.Stat(pos[0]); err != nil {
		return unreadable("%v", err)
	}
	pair, err := keypair.Source{CertFile: *cert, KeyFile: *key, PKCS12File: *p12, PasswordFile: *pw}.Load(now)
	if err != nil && (pair == nil || !errors.Is(err, keypair.ErrExpired)) { // an expired recipient certificate still decrypts
		return unreadable("the recipient's key and certificate: %v", err)
	}
	ab, err := os.ReadFile(*anchors)
	if err != nil {
		return unreadable("%v", err)
	}
	anchorCerts, err := trust.ParseCertificates(ab)
	if err != nil || len(anchorCerts) == 0 {
		return unreadable("--anchors %s: no certificate read (%v)", *anchors, err)
	}
	checker := &crl.Checker{Now: func() time.Time { return now }}
	for _, f := range crls {
		b, err := os.ReadFile(f)
		if err != nil {
			return unreadable("%v", err)
		}
		l, err := crl.Parse(b)
		if err != nil {
			return unreadable("--crl %s: %v", f, err)
		}
		checker.Lists = append(checker.Lists, l)
	}
	v, err := verifierFor(anchorCerts, checker, now)
	if err != nil {
		return unreadable("%v", err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer cancel()
	// From the file, as the server opens a message fetched by reference:
	// any size, decrypted into a temporary file that Close removes.
	op, err := smime.OpenFile(ctx, pos[0], []smime.Recipient{{Cert: pair.Leaf(), Key: pair.Key}}, v, "")
	if rej := (*smime.Rejection)(nil); errors.As(err, &rej) {
		fmt.Fprintf(e.stdout, "reject: %s\n  %s\n", rej.Rule, rej.Detail)
		return 1
	}
	if err != nil {
		return unreadable("%v", err)
	}
	defer op.Close()
	w := e.stdout
	fmt.Fprintf(w, "accept: from %s, signed by %q (%s-bound)\n", op.From, op.Signer.Subject.String(), op.Trust.Bound)
	fmt.Fprintf(w, "  encryption %s, digest %s, %s\n", op.Cipher, op.Digest, map[bool]string{true: "wrapped (message/rfc822)", false: "not wrapped"}[op.Wrapped])
	if op.Trust.Anchor != nil {
		fmt.Fprintf(w, "  anchor %q\n", op.Trust.Anchor.Cert.Subject.String())
	}
	return 0
}

// verifierFor checks signers against anchors alone: one circle of them for
// a nameless receiving domain.
func verifierFor(anchors []*x509.Certificate, checker *crl.Checker, now time.Time) (smime.Verifier, error) {
	dir, err := os.MkdirTemp("", "tern-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // the registry reads the file once, at its creation
	f := filepath.Join(dir, "anchors.pem")
	var pemData []byte
	for _, c := range anchors {
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(f, pemData, 0o600); err != nil {
		return nil, err
	}
	const local = "recipient.invalid"
	reg, err := trust.NewRegistry(trust.Config{Circles: []trust.Circle{{Name: "anchors", Anchors: []string{f}}},
		Domains: []trust.Domain{{Name: local, Circles: []string{"anchors"}}}}, trust.Options{})
	if err != nil {
		return nil, err
	}
	val, err := trust.NewValidator(reg, trust.ValidatorOptions{AIA: &trust.AIAFetcher{},
		Revocation: trust.RevocationFunc(func(ctx context.Context, c, i *x509.Certificate) (trust.RevocationStatus, error) {
			st, err := checker.Check(ctx, c, i)
			return trust.RevocationStatus(st), err
		})})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, sender string, chain []*x509.Certificate) (*trust.Result, error) {
		return val.ValidateFor(ctx, local, sender, trust.PurposeVerify, chain, now)
	}, nil
}
