package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tern-xmpp/tern/internal/storage"
)

const exportLDIFHelp = `Usage: tern direct export-ldif [DOMAIN] [--base DN] [--out FILE] [--config FILE] [--data DIR]

Writes the stored certificates (tern direct cert) of the Direct domains (or
of DOMAIN) as LDIF (RFC 2849) for an LDAP directory that Direct discovery
reads: one inetOrgPerson entry per address or domain, cn=<address> under
--base (default ou=direct,dc=<domain labels>), with mail and every
certificate as userCertificate;binary. Load it with ldapadd or slapadd;
the entry for the base itself is not written.
`

func cmdExportLDIF(e *env, args []string) int {
	fs := e.flags("direct export-ldif", exportLDIFHelp)
	var cf configFlags
	cf.register(fs)
	base := fs.String("base", "", "the `DN` the entries go under (default ou=direct,dc=... of the domain)")
	out := fs.String("out", "", "write to `file` instead of standard output")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return e.usageError(fs, "at most one DOMAIN")
	}
	cfg, err := cf.load()
	if err != nil {
		return e.fail("%v", err)
	}
	domains := cfg.DirectDomains()
	if len(pos) == 1 {
		d, err := directOwner(cfg, pos[0])
		if err != nil || strings.Contains(d, "@") {
			return e.fail("%s: give a Direct domain of this server (%v)", pos[0], cfg.DirectDomains())
		}
		domains = []string{d}
	}
	st, err := openStore(e.ctx, cfg)
	if err != nil {
		return e.fail("cannot open storage: %v", err)
	}
	defer st.Close()
	var w io.Writer = e.stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return e.fail("%v", err)
		}
		defer f.Close()
		w = f
	}
	n := 0
	for _, d := range domains {
		rows, err := st.DirectCerts().DomainCerts(e.ctx, d)
		if err != nil {
			return e.fail("%v", err)
		}
		dn := *base
		if dn == "" {
			dn = "ou=direct," + domainDN(d)
		}
		n += writeLDIF(w, dn, rows)
	}
	if *out != "" {
		fmt.Fprintf(e.stdout, "wrote %d entries to %s\n", n, *out)
	}
	return 0
}

// writeLDIF writes one entry per owner (rows come ordered by owner).
func writeLDIF(w io.Writer, base string, rows []storage.DirectCert) int {
	n := 0
	for i := 0; i < len(rows); {
		owner := rows[i].Address
		fmt.Fprintf(w, "dn: cn=%s,%s\nobjectClass: inetOrgPerson\ncn: %s\nsn: %s\nmail: %s\n", ldifDNValue(owner), base, owner, owner, owner)
		for ; i < len(rows) && rows[i].Address == owner; i++ {
			fmt.Fprintf(w, "userCertificate;binary:: %s\n", base64.StdEncoding.EncodeToString(rows[i].DER))
		}
		fmt.Fprintln(w)
		n++
	}
	return n
}

// domainDN is dc=b,dc=example for b.example.
func domainDN(domain string) string {
	parts := strings.Split(domain, ".")
	for i, p := range parts {
		parts[i] = "dc=" + p
	}
	return strings.Join(parts, ",")
}

// ldifDNValue escapes an RDN value (RFC 4514 §2.4).
func ldifDNValue(v string) string {
	var b strings.Builder
	for i, r := range v {
		if strings.ContainsRune(`,+"\<>;=`, r) || (i == 0 && (r == '#' || r == ' ')) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
