package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/sealed"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/ops/server"
	"github.com/tern-xmpp/tern/internal/pki/keypair"
	"github.com/tern-xmpp/tern/internal/storage"
)

const directCertHelp = `Usage: tern direct cert add ADDRESS (--cert FILE [--key FILE] | --p12 FILE [--password-file FILE])
       tern direct cert list [ADDRESS|DOMAIN]
       tern direct cert remove ADDRESS [SHA256-PREFIX]
        [--config FILE] [--data DIR]

The S/MIME certificates of local Direct addresses (nurse@b.example:
address-bound, SAN rfc822Name) and domains (b.example: domain-bound, SAN
dNSName), kept in the server's storage and published by its DNS responder
([dns] listen) and to peers. ADDRESS's domain must be a Direct domain. A
private key given with the certificate (PEM, or in the PKCS#12 file) is
checked against it and stored sealed (AES-256-GCM under a key derived from
<data_dir>/secret): keep that file and the database apart in backups.
A running server publishes the change at once.
`

func cmdDirectCert(e *env, args []string) int {
	fs := e.flags("direct cert", directCertHelp)
	var cf configFlags
	cf.register(fs)
	certFile := fs.String("cert", "", "add: PEM `file` of the certificate (leaf first; intermediates are not stored)")
	keyFile := fs.String("key", "", "add: PEM `file` of its private key (optional)")
	p12 := fs.String("p12", "", "add: PKCS#12 `file` with the certificate and its key")
	pwFile := fs.String("password-file", "", "add: the PKCS#12 password on the first line of `file`")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return e.usageError(fs, "write tern direct cert add|list|remove")
	}
	cfg, err := cf.load()
	if err != nil {
		return e.fail("%v", err)
	}
	op, rest := pos[0], pos[1:]
	switch {
	case op == "add" && len(rest) == 1:
	case op == "list" && len(rest) <= 1:
	case op == "remove" && (len(rest) == 1 || len(rest) == 2):
	default:
		return e.usageError(fs, "write tern direct cert add ADDRESS --cert FILE, list [ADDRESS|DOMAIN] or remove ADDRESS [SHA256-PREFIX]")
	}
	var who string
	if len(rest) > 0 {
		if who, err = directOwner(cfg, rest[0]); err != nil {
			return e.fail("%v", err)
		}
	}
	st, err := openStore(e.ctx, cfg)
	if err != nil {
		return e.fail("cannot open storage: %v", err)
	}
	defer st.Close()
	certs := st.DirectCerts()
	switch op {
	case "add":
		c, err := readDirectCert(cfg, who, *certFile, *keyFile, *p12, *pwFile)
		if err != nil {
			return e.fail("%v", err)
		}
		if err := certs.PutCert(e.ctx, c); err != nil {
			return e.fail("%v", err)
		}
		leaf, _ := x509.ParseCertificate(c.DER)
		key := "no private key"
		if c.Key != nil {
			key = "private key sealed"
		}
		fmt.Fprintf(e.stdout, "added to %s: %q, serial %s, until %s, sha256 %s (%s)\n", who, leaf.Subject.String(), leaf.SerialNumber, leaf.NotAfter.UTC().Format(time.DateOnly), c.SHA256, key)
	case "list":
		var rows []storage.DirectCert
		switch {
		case who == "":
			for _, d := range cfg.DirectDomains() {
				r, err := certs.DomainCerts(e.ctx, d)
				if err != nil {
					return e.fail("%v", err)
				}
				rows = append(rows, r...)
			}
		case strings.Contains(who, "@"):
			rows, err = certs.Certs(e.ctx, who)
		default:
			rows, err = certs.DomainCerts(e.ctx, who)
		}
		if err != nil {
			return e.fail("%v", err)
		}
		for _, r := range rows {
			desc := "(does not parse)"
			if c, err := x509.ParseCertificate(r.DER); err == nil {
				desc = fmt.Sprintf("%q until %s", c.Subject.String(), c.NotAfter.UTC().Format(time.DateOnly))
			}
			key := ""
			if r.Key != nil {
				key = ", key sealed"
			}
			fmt.Fprintf(e.stdout, "%s  %s  %s%s\n", r.Address, r.SHA256[:16], desc, key)
		}
		fmt.Fprintf(e.stdout, "%d certificate(s)\n", len(rows))
		return 0
	case "remove":
		prefix := ""
		if len(rest) == 2 {
			prefix = strings.ToLower(rest[1])
		}
		n, err := certs.RemoveCert(e.ctx, who, prefix)
		if err != nil {
			return e.fail("%v", err)
		}
		if n == 0 {
			return e.fail("%s has no certificate whose sha256 starts with %q (tern direct cert list %s)", who, prefix, who)
		}
		fmt.Fprintf(e.stdout, "removed %d certificate(s) of %s\n", n, who)
	}
	notifyServer(e, cfg)
	return 0
}

// directOwner checks that s is an address or domain of a Direct domain.
func directOwner(cfg *config.Config, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	domain := s
	if local, d, ok := strings.Cut(s, "@"); ok {
		if local == "" || d == "" || strings.ContainsAny(local, "@/ \"&'<>:") {
			return "", fmt.Errorf("%q is not a Direct address (user@domain)", s)
		}
		domain = d
	}
	if dom, ok := cfg.Domain(domain); !ok || !dom.Direct {
		return "", fmt.Errorf("%s is not a Direct domain of this server (Direct domains: %v): mark its [[domain]] direct = true", domain, cfg.DirectDomains())
	}
	return s, nil
}

// readDirectCert loads the certificate (and key) for who and checks they
// belong to it: bound to the address (or domain), usable for S/MIME, the
// key the certificate's.
func readDirectCert(cfg *config.Config, who, certFile, keyFile, p12, pwFile string) (storage.DirectCert, error) {
	var chain []*x509.Certificate
	var keyDER []byte
	switch {
	case p12 != "" && certFile != "":
		return storage.DirectCert{}, errors.New("give --cert or --p12, not both")
	case p12 != "" || keyFile != "":
		pair, err := keypair.Source{CertFile: certFile, KeyFile: keyFile, PKCS12File: p12, PasswordFile: pwFile}.Load(time.Now())
		if err != nil && (pair == nil || !errors.Is(err, keypair.ErrExpired)) {
			return storage.DirectCert{}, err
		}
		chain = pair.Chain
		if keyDER, err = x509.MarshalPKCS8PrivateKey(pair.Key); err != nil {
			return storage.DirectCert{}, fmt.Errorf("the private key: %v", err)
		}
	case certFile != "":
		b, err := os.ReadFile(certFile)
		if err != nil {
			return storage.DirectCert{}, err
		}
		if chain, err = keypair.ParseCertificatesPEM(certFile, b); err != nil {
			return storage.DirectCert{}, err
		}
	default:
		return storage.DirectCert{}, errors.New("add needs --cert FILE (and --key FILE) or --p12 FILE")
	}
	leaf := chain[0]
	// An address's own certificate names it; a domain's names the domain.
	want := trust.BoundDomain
	if strings.Contains(who, "@") {
		want = trust.BoundAddress
	}
	if trust.BoundTo(leaf, who) != want {
		if want == trust.BoundAddress {
			return storage.DirectCert{}, fmt.Errorf("the certificate is not bound to %s: its SAN rfc822Names are %v (Direct: the address must be one)", who, leaf.EmailAddresses)
		}
		return storage.DirectCert{}, fmt.Errorf("the certificate is not bound to %s: its SAN dNSNames are %v", who, leaf.DNSNames)
	}
	if !trust.SMIMEUsable(leaf) {
		return storage.DirectCert{}, fmt.Errorf("the certificate's extended key usage %v does not allow S/MIME (emailProtection): issue one for S/MIME, e.g. tern cert issue --address", leaf.ExtKeyUsage)
	}
	if time.Now().After(leaf.NotAfter) {
		return storage.DirectCert{}, fmt.Errorf("the certificate expired %s", leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	sum := sha256.Sum256(leaf.Raw)
	c := storage.DirectCert{Address: who, SHA256: hex.EncodeToString(sum[:]), DER: leaf.Raw, Added: time.Now().UTC()}
	if keyDER != nil {
		secret, err := server.SealingKey(cfg)
		if err != nil {
			return storage.DirectCert{}, err
		}
		box, err := sealed.New(secret)
		if err != nil {
			return storage.DirectCert{}, err
		}
		if c.Key, err = box.Seal(keyDER, who+"/"+c.SHA256); err != nil {
			return storage.DirectCert{}, err
		}
	}
	return c, nil
}

// notifyServer tells a running server to publish the stored certificates.
func notifyServer(e *env, cfg *config.Config) {
	text, err := control.Call(e.ctx, cfg.ControlSocket(), "direct.certs.changed", nil)
	switch {
	case errors.Is(err, control.ErrNotRunning):
		fmt.Fprintln(e.stdout, "the server is not running: it publishes these at its next start")
	case err != nil:
		fmt.Fprintf(e.stderr, "the running server was not told (%v): restart it to publish\n", err)
	default:
		fmt.Fprintln(e.stdout, text)
	}
}
