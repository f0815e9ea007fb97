package discovery

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smallstep/pkcs7"
	"github.com/tern-xmpp/tern/internal/direct/discovery/ldaptest"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

func slapd(t testing.TB, ldif string) string { return ldaptest.Slapd(t, ldif) }

func freeTCPPort(t testing.TB) int { return ldaptest.FreePort(t) }

// entry is an inetOrgPerson with mail and its certificates.
func entry(cn, mail string, certs ...*x509.Certificate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: cn=%s,dc=test\nobjectClass: inetOrgPerson\ncn: %s\nsn: %s\nmail: %s\n", cn, cn, cn, mail)
	for _, c := range certs {
		fmt.Fprintf(&b, "userCertificate;binary:: %s\n", base64.StdEncoding.EncodeToString(c.Raw))
	}
	return b.String() + "\n"
}

// TestLDAPDiscovery rebuilds DCDT's LDAP cases (direct.md §2) against
// Debian's slapd: found by SRV, anonymous bind, RootDSE base, mail= search.
func TestLDAPDiscovery(t *testing.T) {
	l := newLab(t)
	z := newZone(t)
	smime := l.addr(t, "smime@l1.test", trusttest.Opts{})
	p7, err := pkcs7.DegenerateCertificate(smime.Raw)
	if err != nil {
		t.Fatal(err)
	}
	main := slapd(t, entry("d3", "nurse@d3.test", l.addr(t, "nurse@d3.test", trusttest.Opts{}))+
		entry("d3dom", "d3.test", l.dom(t, "d3.test", expired))+
		entry("d4dom", "d4.test", l.dom(t, "d4.test", trusttest.Opts{}))+
		entry("d7", "nurse@d7.test", l.addr(t, "nurse@d7.test", expired))+
		entry("d8dom", "d8.test", l.dom(t, "d8.test", expired))+
		entry("d10", "nurse@d10.test", l.addr(t, "nurse@d10.test", trusttest.Opts{}))+
		entry("d13", "nurse@d13.test")+ // no certificate
		entry("d15", "nurse@d15.test", l.addr(t, "nurse@d15.test", trusttest.Opts{}))+
		entry("d16", "nurse@d16.test", l.addr(t, "nurse@d16.test", trusttest.Opts{}))+
		"dn: cn=smime,dc=test\nobjectClass: inetOrgPerson\ncn: smime\nsn: smime\nmail: smime@l1.test\nuserSMIMECertificate:: "+base64.StdEncoding.EncodeToString(p7)+"\n\n"+
		"dn: cn=junk,dc=test\nobjectClass: inetOrgPerson\ncn: junk\nsn: junk\nmail: junk@l1.test\nuserCertificate;binary:: "+base64.StdEncoding.EncodeToString([]byte("not a certificate"))+"\n\n")
	other := slapd(t, entry("d15x", "nurse@d15.test", l.addr(t, "nurse@d15.test", expired))+
		entry("d16x", "nurse@d16.test", l.addr(t, "nurse@d16.test", expired)))
	down := net.JoinHostPort("127.0.0.1", strconv.Itoa(freeTCPPort(t))) // nothing listens
	z.AddSRV("_ldap._tcp.d3.test", 0, 0, main)
	z.AddSRV("_ldap._tcp.d4.test", 0, 0, main)
	z.AddSRV("_ldap._tcp.d7.test", 0, 0, main)
	z.AddSRV("_ldap._tcp.d8.test", 0, 0, main)
	z.AddSRV("_ldap._tcp.d10.test", 0, 0, down)
	z.AddSRV("_ldap._tcp.d10.test", 1, 0, main)
	z.AddSRV("_ldap._tcp.d12.test", 0, 0, down)
	z.AddSRV("_ldap._tcp.d13.test", 0, 0, main)
	z.AddSRV("_ldap._tcp.d15.test", 0, 0, main)
	z.AddSRV("_ldap._tcp.d15.test", 1, 0, other)
	z.AddSRV("_ldap._tcp.d16.test", 5, 0, other)
	z.AddSRV("_ldap._tcp.d16.test", 5, 100, main)
	z.AddSRV("_ldap._tcp.l1.test", 0, 0, main)

	res := &DNS{Server: z.Addr, Timeout: 2 * time.Second}
	disc := &Discoverer{DNS: res, LDAP: &LDAP{DNS: res, Timeout: 2 * time.Second}, Validator: l.v}
	for _, c := range []struct {
		name, address string
		bound         trust.Bound // "": nothing usable
		tried         string      // in the report
	}{
		{"D3", "nurse@d3.test", trust.BoundAddress, "ldap mail=nurse@d3.test: 1 certificate(s)"},
		{"D4", "nurse@d4.test", trust.BoundDomain, "ldap mail=d4.test: 1 certificate(s)"},
		{"D7", "nurse@d7.test", "", "ldap mail=nurse@d7.test: 1 certificate(s)"},
		{"D8", "nurse@d8.test", "", "ldap mail=d8.test: 1 certificate(s)"},
		{"D10", "nurse@d10.test", trust.BoundAddress, "ldap mail=nurse@d10.test: 1 certificate(s)"},
		{"D11", "nurse@d11.test", "", "no _ldap._tcp SRV record"},
		{"D12", "nurse@d12.test", "", "could be reached"},
		{"D13", "nurse@d13.test", "", "ldap mail=nurse@d13.test: 0 certificate(s)"},
		{"D15", "nurse@d15.test", trust.BoundAddress, "ldap mail=nurse@d15.test: 1 certificate(s)"},
		{"D16", "nurse@d16.test", trust.BoundAddress, "ldap mail=nurse@d16.test: 1 certificate(s)"},
		{"userSMIMECertificate", "smime@l1.test", trust.BoundAddress, "ldap mail=smime@l1.test: 1 certificate(s)"},
		{"not-a-certificate", "junk@l1.test", "", "ldap mail=junk@l1.test: 1 certificate(s)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := disc.Discover(context.Background(), "a.test", c.address, trust.PurposeEncrypt)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(rep.Tried, "; ")
			if !strings.Contains(all, c.tried) {
				t.Errorf("tried %q; want %q in it", all, c.tried)
			}
			if c.bound == "" {
				if len(rep.Usable) != 0 {
					t.Errorf("usable %d; want none (tried %s)", len(rep.Usable), all)
				}
				return
			}
			if len(rep.Usable) != 1 || rep.Usable[0].Result.Bound != c.bound || rep.Usable[0].Source != SourceLDAP {
				for _, cand := range rep.All {
					t.Logf("candidate %s %s: %v", cand.Source, cand.Where, cand.Err)
				}
				t.Fatalf("usable %d, tried %s; want one %s-bound from LDAP", len(rep.Usable), all, c.bound)
			}
		})
	}
}

// TestOrderSRV: RFC 2782 order: priority ascending; within a priority a
// weighted draw, weight 0 last (DCDT D16: 100 before 0, every time).
func TestOrderSRV(t *testing.T) {
	srv := func(p, w uint16, target string) *dns.SRV {
		return &dns.SRV{Priority: p, Weight: w, Target: target}
	}
	for range 200 {
		got := orderSRV([]*dns.SRV{srv(5, 0, "zero."), srv(1, 0, "first."), srv(5, 100, "heavy."), srv(9, 1, "last.")})
		var names []string
		for _, s := range got {
			names = append(names, s.Target)
		}
		if strings.Join(names, " ") != "first. heavy. zero. last." {
			t.Fatalf("order %v", names)
		}
	}
	heavy := 0
	for range 400 {
		if orderSRV([]*dns.SRV{srv(0, 30, "light."), srv(0, 70, "heavy.")})[0].Target == "heavy." {
			heavy++
		}
	}
	if heavy < 200 || heavy > 350 { // 280 expected
		t.Errorf("weight 70 of 100 drawn first %d times in 400", heavy)
	}
}

// TestLDAPCache: an answer is kept (LDAP has no TTL: LDAP.TTL, 10 min by
// default), so a second lookup asks neither DNS nor the directory; another
// address is looked up afresh.
func TestLDAPCache(t *testing.T) {
	l := newLab(t)
	z := newZone(t)
	z.AddSRV("_ldap._tcp.c.test", 0, 0, slapd(t, entry("n", "nurse@c.test", l.addr(t, "nurse@c.test", trusttest.Opts{}))))
	ld := &LDAP{DNS: &DNS{Server: z.Addr}}
	ctx := context.Background()
	if got, err := ld.Lookup(ctx, "c.test", "nurse@c.test"); err != nil || len(got) != 1 {
		t.Fatalf("first lookup: %d, %v", len(got), err)
	}
	ld.DNS = nil // nothing could be asked now
	if got, err := ld.Lookup(ctx, "c.test", "Nurse@C.test"); err != nil || len(got) != 1 {
		t.Errorf("second lookup: %d, %v; want the kept answer", len(got), err)
	}
	if _, err := ld.Lookup(ctx, "c.test", "other@c.test"); err == nil {
		t.Error("another address was answered without asking")
	}
}
