package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/tern-xmpp/tern/internal/pki/ca"
	"github.com/tern-xmpp/tern/internal/pki/crl"
	"github.com/tern-xmpp/tern/internal/pki/keypair"
)

const certHelp = `Usage: tern cert <init|issue|revoke|crl|list|show|p12> [flags] [arguments]

Builds a lab PKI for Direct/TIM+ trust: a CA kept in a directory, domain-
and address-bound certificates, revocation and CRLs, and a trust bundle a
peer organisation loads. Not for production: keys lie unencrypted on disk.

  tern cert init   --dir DIR --name NAME [--key rsa|ecdsa] [--intermediate]
  tern cert issue  --dir DIR --domain D [--services groupchat,ftproxystream | --smime [--usage U]]
  tern cert issue  --dir DIR --address A [--usage sign|encrypt|dual]
  tern cert revoke --dir DIR SERIAL|CERTFILE [--reason keyCompromise]
  tern cert crl    --dir DIR                  re-publish the CRL
  tern cert list   --dir DIR                  issued certificates and their state
  tern cert show   FILE [--domain D] [--crl]  describe a certificate and check it
  tern cert p12    --cert F --key F --out F [--password-file F]

The walk-through for two organisations is docs/direct-pki.md.
`

func cmdCert(e *env, args []string) int {
	subs := map[string]func(*env, []string) int{
		"init": certInit, "issue": certIssue, "revoke": certRevoke, "crl": certCRL,
		"list": certList, "show": certShow, "p12": certP12,
	}
	if len(args) == 0 {
		fmt.Fprint(e.stderr, certHelp)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, certHelp)
		return 0
	}
	sub, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "tern cert: unknown subcommand %q\n", args[0])
		fmt.Fprint(e.stderr, certHelp)
		return 2
	}
	return sub(e, args[1:])
}

const dateFormat = "2006-01-02 15:04 MST"

func fmtTime(t time.Time) string { return t.UTC().Format(dateFormat) }

// dirFlag registers --dir and returns a check that it was given.
func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", "", "the CA `directory` (made by tern cert init)")
}

func (e *env) openCA(fs *flag.FlagSet, dir string) (*ca.CA, int, bool) {
	if dir == "" {
		return nil, e.usageError(fs, "missing --dir, the CA directory"), false
	}
	c, err := ca.Open(dir)
	if err != nil {
		return nil, e.fail("%v", err), false
	}
	return c, 0, true
}

const certInitHelp = `Usage: tern cert init --dir DIR --name NAME [--key rsa|ecdsa] [--intermediate] [--url BASE] [--crl-url URL] [--aia-url URL]

Creates a lab CA in DIR: its certificate and key (mode 0600), an empty CRL
and a trust bundle (bundle.p7b) to hand to peer organisations. Issued
certificates point their CRL distribution point and AIA caIssuers at
BASE/pki/NAME/crl.der and BASE/pki/NAME/ca.der, which tern's HTTP listener
serves when DIR is listed in [http] pki_dirs.
With --intermediate, a root signs an issuing CA that signs the leaves.
`

func certInit(e *env, args []string) int {
	fs := e.flags("cert init", certInitHelp)
	dir := dirFlag(fs)
	name := fs.String("name", "", "the CA's `name`, e.g. the organisation (part of the URLs)")
	key := fs.String("key", "rsa", "key `type`: rsa (RSA-2048) or ecdsa (P-256)")
	inter := fs.Bool("intermediate", false, "make a root and an issuing intermediate CA")
	base := fs.String("url", ca.DefaultBaseURL, "`base` URL of tern's HTTP listener as peers reach it")
	crlURL := fs.String("crl-url", "", "CRL distribution point `URL` (default BASE/pki/NAME/crl.der)")
	aiaURL := fs.String("aia-url", "", "AIA caIssuers `URL` (default BASE/pki/NAME/ca.der)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return e.usageError(fs, "unexpected argument %q", pos[0])
	case *dir == "":
		return e.usageError(fs, "missing --dir, the directory to create the CA in")
	case *name == "":
		return e.usageError(fs, "missing --name, e.g. --name orga")
	}
	kt, err := ca.ParseKeyType(*key)
	if err != nil {
		return e.usageError(fs, "%v", err)
	}
	fmt.Fprintf(e.stdout, "creating CA %s in %s (%s)...\n", *name, *dir, keyName(kt))
	c, err := ca.Init(*dir, ca.Options{Name: *name, Key: kt, Intermediate: *inter, BaseURL: *base, CRLURL: *crlURL, AIAURL: *aiaURL})
	if err != nil {
		return e.fail("%v", err)
	}
	w := e.stdout
	if *inter {
		fmt.Fprintf(w, "  root:         %s  %q, valid until %s\n", filepath.Join(*dir, "root.pem"), c.Root().Subject.String(), fmtTime(c.Root().NotAfter))
		fmt.Fprintf(w, "  issuing CA:   %s  %q\n", filepath.Join(*dir, "ca.pem"), c.Certificate().Subject.String())
	} else {
		fmt.Fprintf(w, "  CA:           %s  %q, valid until %s\n", filepath.Join(*dir, "ca.pem"), c.Certificate().Subject.String(), fmtTime(c.Certificate().NotAfter))
	}
	fmt.Fprintf(w, "  key:          %s (mode 0600: keep it private)\n", filepath.Join(*dir, "ca.key"))
	fmt.Fprintf(w, "  CRL:          %s, served at %s\n", filepath.Join(*dir, "crl.der"), c.CRLURL())
	fmt.Fprintf(w, "  trust bundle: %s: give it to peer organisations\n", filepath.Join(*dir, "bundle.p7b"))
	fmt.Fprintf(w, "next: tern cert issue --dir %s --domain DOMAIN\n", *dir)
	return 0
}

const certIssueHelp = `Usage: tern cert issue --dir DIR (--domain D [--services LIST | --smime [--usage U]] | --address A [--usage U]) [--key rsa|ecdsa] [--days N]

Issues a certificate from the CA in DIR and writes DIR/issued/NAME.pem
(the leaf, then the intermediate if any) and NAME.key (mode 0600).

  --domain a.example     domain-bound: SAN dNSName a.example plus one name per
                         service (groupchat.a.example, ftproxystream.a.example),
                         serverAuth+clientAuth: the TLS certificate of a
                         Direct/TIM+ domain
  --domain a.example --smime
                         domain-bound S/MIME: SAN dNSName a.example only,
                         emailProtection: the organization's certificate for
                         Direct messages of every address (--usage as below)
  --address nurse@b.example
                         address-bound: SAN rfc822Name, emailProtection, for
                         Direct messages; --usage sign, encrypt or dual
`

func certIssue(e *env, args []string) int {
	fs := e.flags("cert issue", certIssueHelp)
	dir := dirFlag(fs)
	domain := fs.String("domain", "", "issue a domain-bound certificate for `domain`")
	services := fs.String("services", "groupchat,ftproxystream", "comma-separated service `names` of the domain (\"\" for none)")
	address := fs.String("address", "", "issue an address-bound certificate for `address`")
	usage := fs.String("usage", "dual", "S/MIME certificate key `usage`: sign, encrypt or dual")
	smime := fs.Bool("smime", false, "with --domain: a domain-bound S/MIME certificate instead of the TLS one")
	key := fs.String("key", "rsa", "key `type`: rsa (RSA-2048) or ecdsa (P-256)")
	days := fs.Int("days", 365, "validity in `days` (negative: already expired, for tests)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageError(fs, "unexpected argument %q", pos[0])
	}
	if (*domain == "") == (*address == "") {
		return e.usageError(fs, "give exactly one of --domain and --address")
	}
	if *smime && *domain == "" {
		return e.usageError(fs, "--smime goes with --domain (an --address certificate is always S/MIME)")
	}
	kt, err := ca.ParseKeyType(*key)
	if err != nil {
		return e.usageError(fs, "%v", err)
	}
	u, err := ca.ParseUsage(*usage)
	if err != nil {
		return e.usageError(fs, "%v", err)
	}
	if *days == 0 {
		return e.usageError(fs, "--days must not be 0")
	}
	c, code, ok := e.openCA(fs, *dir)
	if !ok {
		return code
	}
	validity := time.Duration(*days) * 24 * time.Hour
	var is *ca.Issued
	var kind string
	switch {
	case *smime:
		is, err = c.IssueDomainSMIME(*domain, kt, u, validity)
		kind = "domain-bound S/MIME, " + string(u)
	case *domain != "":
		var svc []string
		for _, s := range strings.Split(*services, ",") {
			if s = strings.TrimSpace(s); s != "" {
				svc = append(svc, s)
			}
		}
		is, err = c.IssueDomain(*domain, svc, kt, validity)
		kind = "domain-bound"
	default:
		is, err = c.IssueAddress(*address, kt, u, validity)
		kind = "address-bound, " + string(u)
	}
	if err != nil {
		return e.fail("%v", err)
	}
	w := e.stdout
	fmt.Fprintf(w, "issued serial %s to %s (%s, %s) by CA %s\n", is.Serial, is.Subject, keyName(kt), kind, c.Name())
	fmt.Fprintf(w, "  names:  %s\n", strings.Join(is.Names, ", "))
	fmt.Fprintf(w, "  valid:  %s to %s\n", fmtTime(is.Cert.NotBefore), fmtTime(is.Cert.NotAfter))
	fmt.Fprintf(w, "  cert:   %s (leaf%s)\n", is.CertPath, map[bool]string{true: " + intermediate"}[len(is.Chain) > 1])
	fmt.Fprintf(w, "  key:    %s (mode 0600)\n", is.KeyPath)
	fmt.Fprintf(w, "  CRL DP: %s\n", c.CRLURL())
	return 0
}

const certRevokeHelp = `Usage: tern cert revoke --dir DIR SERIAL|CERTFILE [--reason REASON]

Revokes a certificate of the CA in DIR, by its hex serial (as tern cert
issue and tern cert list print it) or its file, and re-publishes the CRL
at once. Peers see it when their cached CRL is re-fetched (at its next
update, or sooner if they refresh).
Reasons: keyCompromise, superseded, cessationOfOperation, affiliationChanged,
privilegeWithdrawn, certificateHold, unspecified.
`

func certRevoke(e *env, args []string) int {
	fs := e.flags("cert revoke", certRevokeHelp)
	dir := dirFlag(fs)
	reason := fs.String("reason", "unspecified", "revocation `reason` (RFC 5280 §5.3.1)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	switch {
	case len(pos) == 0:
		return e.usageError(fs, "missing the serial or certificate file to revoke")
	case len(pos) > 1:
		return e.usageError(fs, "too many arguments: %q", pos[1:])
	}
	r, err := ca.ParseReason(*reason)
	if err != nil {
		return e.usageError(fs, "%v", err)
	}
	c, code, ok := e.openCA(fs, *dir)
	if !ok {
		return code
	}
	var ent ca.Entry
	if _, serr := os.Stat(pos[0]); serr == nil {
		ent, err = c.RevokeFile(pos[0], r)
	} else {
		ent, err = c.Revoke(pos[0], r)
	}
	if err != nil {
		return e.fail("%v", err)
	}
	fmt.Fprintf(e.stdout, "revoked serial %s (%s), reason %s\n", ent.Serial, ent.Subject, reasonName(ent.Reason))
	return e.publish(c, 0)
}

func (e *env) publish(c *ca.CA, validity time.Duration) int {
	l, err := c.PublishCRL(validity)
	if err != nil {
		return e.fail("%v", err)
	}
	fmt.Fprintf(e.stdout, "published CRL number %s of CA %s: %d revoked, next update %s\n  %s, served at %s\n",
		l.Number, c.Name(), len(l.RevokedCertificateEntries), fmtTime(l.NextUpdate), filepath.Join(c.Dir, "crl.der"), c.CRLURL())
	return 0
}

const certCRLHelp = `Usage: tern cert crl --dir DIR [--days N]

Re-publishes the CRL of the CA in DIR (crl.der, crl.pem) with the next CRL
number and a fresh next update. Run it before the next update passes
(default 7 days): peers refuse certificates whose CRL is stale.
`

func certCRL(e *env, args []string) int {
	fs := e.flags("cert crl", certCRLHelp)
	dir := dirFlag(fs)
	days := fs.Int("days", 7, "`days` until the CRL's next update")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageError(fs, "unexpected argument %q", pos[0])
	}
	if *days <= 0 {
		return e.usageError(fs, "--days must be positive")
	}
	c, code, ok := e.openCA(fs, *dir)
	if !ok {
		return code
	}
	return e.publish(c, time.Duration(*days)*24*time.Hour)
}

const certListHelp = `Usage: tern cert list --dir DIR

Lists the certificates the CA in DIR issued: serial, state, expiry, kind,
subject and file.
`

func certList(e *env, args []string) int {
	fs := e.flags("cert list", certListHelp)
	dir := dirFlag(fs)
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageError(fs, "unexpected argument %q", pos[0])
	}
	c, code, ok := e.openCA(fs, *dir)
	if !ok {
		return code
	}
	es := c.Entries()
	if len(es) == 0 {
		fmt.Fprintf(e.stdout, "CA %s has issued no certificate yet\n", c.Name())
		return 0
	}
	for _, en := range es {
		state := "valid"
		switch {
		case en.Revoked():
			state = "revoked (" + reasonName(en.Reason) + ")"
		case time.Now().After(en.NotAfter):
			state = "expired"
		}
		fmt.Fprintf(e.stdout, "%s  %-24s until %s  %-7s  %s  %s\n", en.Serial, state, en.NotAfter.UTC().Format(time.DateOnly), en.Kind, en.Subject, filepath.Join(c.Dir, en.CertFile))
	}
	return 0
}

const certShowHelp = `Usage: tern cert show FILE [--domain D [--services LIST]] [--crl] [--issuer FILE] [--password-file FILE]

Prints each certificate in FILE (PEM, DER or PKCS#12): subject, issuer,
serial, names, validity, key, signature, usages, CRL distribution points
and AIA. With --domain, checks the first one against the certificate profile
of a Direct/TIM+ domain and lists every problem. With --crl, fetches its CRL
and says whether it is revoked (the issuer is the next certificate in FILE,
or --issuer). Exits 1 if a check found an error.
`

func certShow(e *env, args []string) int {
	fs := e.flags("cert show", certShowHelp)
	domain := fs.String("domain", "", "check FILE as the domain certificate of `domain`")
	services := fs.String("services", "groupchat,ftproxystream", "with --domain: service `names` the certificate must carry")
	checkCRL := fs.Bool("crl", false, "fetch the CRL and check revocation")
	issuerFile := fs.String("issuer", "", "the issuer's certificate `file`, for --crl")
	pwFile := fs.String("password-file", "", "PKCS#12 password `file` (\"-\": stdin)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	switch {
	case len(pos) == 0:
		return e.usageError(fs, "missing the certificate file")
	case len(pos) > 1:
		return e.usageError(fs, "too many arguments: %q", pos[1:])
	}
	chain, err := e.readChain(pos[0], *pwFile)
	if err != nil {
		return e.fail("%v", err)
	}
	w := e.stdout
	for i, c := range chain {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if len(chain) > 1 {
			fmt.Fprintf(w, "certificate %d of %d\n", i+1, len(chain))
		}
		describe(w, c)
	}
	failed := false
	if *domain != "" {
		var svc []string
		for _, s := range strings.Split(*services, ",") {
			if s = strings.TrimSpace(s); s != "" {
				svc = append(svc, s)
			}
		}
		ps := keypair.CheckDirectDomainCert(chain, *domain, svc, time.Now())
		fmt.Fprintf(w, "\nDirect domain certificate check for %s:", *domain)
		if len(ps) == 0 {
			fmt.Fprintln(w, " no problems")
		} else {
			fmt.Fprintln(w)
		}
		for _, p := range ps {
			fmt.Fprintf(w, "  %s\n", p)
			failed = failed || p.Severity == keypair.Error
		}
	}
	if *checkCRL {
		issuer := (*x509.Certificate)(nil)
		if *issuerFile != "" {
			ic, err := e.readChain(*issuerFile, "")
			if err != nil {
				return e.fail("%v", err)
			}
			issuer = ic[0]
		} else if len(chain) > 1 {
			issuer = chain[1]
		} else {
			return e.fail("--crl needs the issuer: FILE holds only the leaf, give --issuer FILE (the CA's ca.pem)")
		}
		checker := &crl.Checker{}
		st, err := checker.Check(e.ctx, chain[0], issuer)
		switch {
		case err != nil:
			fmt.Fprintf(w, "\nrevocation: unknown: %v\n", err)
			failed = true
		case st.Revoked:
			fmt.Fprintf(w, "\nrevocation: REVOKED on %s, reason %s (CRL %s)\n", fmtTime(st.RevokedAt), reasonName(st.Reason), st.URL)
			failed = true
		default:
			fmt.Fprintf(w, "\nrevocation: not revoked (CRL %s, next update %s)\n", st.URL, fmtTime(st.NextUpdate))
		}
	}
	if failed {
		return 1
	}
	return 0
}

// readChain reads certificates from a PEM or DER file, or a PKCS#12 file.
func (e *env) readChain(file, pwFile string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	chain, err := keypair.ParseCertificatesPEM(file, b)
	if err == nil {
		return chain, nil
	}
	if !errors.Is(err, keypair.ErrMalformed) || strings.Contains(string(b), "-----BEGIN") {
		return nil, err
	}
	pw := ""
	if pwFile != "" {
		if pw, err = e.readPassword(pwFile, file); err != nil {
			return nil, err
		}
	}
	p, perr := keypair.ParsePKCS12(b, pw)
	if perr != nil {
		if errors.Is(perr, keypair.ErrMalformed) {
			return nil, fmt.Errorf("%s: neither a certificate (PEM or DER) nor PKCS#12", file)
		}
		return nil, fmt.Errorf("%s: %w", file, perr)
	}
	return p.Chain, nil
}

func describe(w interface{ Write([]byte) (int, error) }, c *x509.Certificate) {
	p := func(label, format string, a ...any) {
		fmt.Fprintf(w, "  %-14s %s\n", label+":", fmt.Sprintf(format, a...))
	}
	p("subject", "%s", c.Subject)
	p("issuer", "%s", c.Issuer)
	p("serial", "%s", ca.SerialHex(c.SerialNumber))
	var sans []string
	for _, n := range c.DNSNames {
		sans = append(sans, "DNS:"+n)
	}
	for _, n := range c.EmailAddresses {
		sans = append(sans, "email:"+n)
	}
	for _, n := range c.URIs {
		sans = append(sans, "URI:"+n.String())
	}
	for _, n := range c.IPAddresses {
		sans = append(sans, "IP:"+n.String())
	}
	if len(sans) == 0 {
		sans = []string{"(none)"}
	}
	p("names", "%s", strings.Join(sans, ", "))
	state := ""
	now := time.Now()
	switch {
	case now.After(c.NotAfter):
		state = " (EXPIRED)"
	case now.Before(c.NotBefore):
		state = " (NOT YET VALID)"
	}
	p("valid", "%s to %s%s", fmtTime(c.NotBefore), fmtTime(c.NotAfter), state)
	p("key", "%s", pubKeyName(c.PublicKey))
	p("signature", "%s", c.SignatureAlgorithm)
	p("key usage", "%s", keyUsages(c.KeyUsage))
	var ekus []string
	for _, u := range c.ExtKeyUsage {
		ekus = append(ekus, extKeyUsageNames[u])
	}
	for _, u := range c.UnknownExtKeyUsage {
		ekus = append(ekus, u.String())
	}
	if len(ekus) == 0 {
		ekus = []string{"(none)"}
	}
	p("ext key usage", "%s", strings.Join(ekus, ", "))
	if c.BasicConstraintsValid && c.IsCA {
		p("CA", "yes")
	}
	dp := strings.Join(c.CRLDistributionPoints, ", ")
	if dp == "" {
		dp = "(none)"
	}
	p("CRL DP", "%s", dp)
	aia := strings.Join(c.IssuingCertificateURL, ", ")
	if aia == "" {
		aia = "(none)"
	}
	p("AIA issuers", "%s", aia)
	if len(c.OCSPServer) > 0 {
		p("OCSP", "%s", strings.Join(c.OCSPServer, ", "))
	}
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny: "any", x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
	x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
}

func keyUsages(u x509.KeyUsage) string {
	names := []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "digitalSignature"}, {x509.KeyUsageContentCommitment, "contentCommitment"},
		{x509.KeyUsageKeyEncipherment, "keyEncipherment"}, {x509.KeyUsageDataEncipherment, "dataEncipherment"},
		{x509.KeyUsageKeyAgreement, "keyAgreement"}, {x509.KeyUsageCertSign, "keyCertSign"},
		{x509.KeyUsageCRLSign, "cRLSign"}, {x509.KeyUsageEncipherOnly, "encipherOnly"}, {x509.KeyUsageDecipherOnly, "decipherOnly"},
	}
	var out []string
	for _, n := range names {
		if u&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, ", ")
}

func pubKeyName(k any) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", k)
}

func keyName(kt ca.KeyType) string {
	if kt == ca.ECDSAP256 {
		return "ECDSA P-256"
	}
	return "RSA-2048"
}

func reasonName(code int) string {
	names := make([]string, 0, len(ca.Reasons))
	for n, c := range ca.Reasons {
		if c == code {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return fmt.Sprint(code)
	}
	return names[0]
}

const certP12Help = `Usage: tern cert p12 --cert FILE --key FILE --out FILE [--password-file FILE|-] [--legacy]

Exports a PEM certificate chain and key as PKCS#12, for testing how
PKCS#12 domain certificates load, or for software that wants one. The
encryption is OpenSSL 3's default (PBES2, AES-256-CBC, SHA-256 MAC), or
with --legacy the old 3DES/SHA-1 form. Without --password-file the file is
protected by the empty password.
`

func certP12(e *env, args []string) int {
	fs := e.flags("cert p12", certP12Help)
	certFile := fs.String("cert", "", "PEM certificate chain `file`, leaf first")
	keyFile := fs.String("key", "", "PEM private key `file`")
	out := fs.String("out", "", "PKCS#12 `file` to write (mode 0600)")
	pwFile := fs.String("password-file", "", "read the password from the first line of `file` (\"-\": stdin)")
	legacy := fs.Bool("legacy", false, "3DES and SHA-1 (pre-OpenSSL 3 software)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return e.usageError(fs, "unexpected argument %q", pos[0])
	case *certFile == "" || *keyFile == "" || *out == "":
		return e.usageError(fs, "--cert, --key and --out are required")
	}
	p, err := keypair.LoadPEMFiles(*certFile, *keyFile, time.Time{})
	if err != nil && !errors.Is(err, keypair.ErrExpired) { // expired pairs export, for tests of the refusal
		return e.fail("%v", err)
	}
	pw := ""
	if *pwFile != "" {
		if pw, err = e.readPassword(*pwFile, *out); err != nil {
			return e.fail("%v", err)
		}
	}
	enc := pkcs12.Modern
	if *legacy {
		enc = pkcs12.LegacyDES
	}
	der, err := enc.Encode(p.Key, p.Leaf(), p.Chain[1:], pw)
	if err != nil {
		return e.fail("encoding %s: %v", *out, err)
	}
	if err := os.WriteFile(*out, der, 0o600); err != nil {
		return e.fail("%v", err)
	}
	how := "AES-256 (OpenSSL 3 default)"
	if *legacy {
		how = "3DES/SHA-1 (legacy)"
	}
	if pw == "" {
		how += ", empty password"
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d certificate(s) and the key, %s\n", *out, len(p.Chain), how)
	return 0
}
