package discovery

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// BenchmarkDiscover: one discovery of an address-bound certificate,
// validation included (path to the anchor, revocation from a fake checker:
// no CRL download), per source, cold (new caches each time: the
// network round trips) and warm (the source's answer cached). DNS is a
// miekg/dns server on loopback; LDAP Debian's slapd, found by SRV.
// Peer introduction's figures come from test/bench (it needs s2s).
func BenchmarkDiscover(b *testing.B) {
	l := newLab(b)
	z := newZone(b)
	z.Add("nurse.d.test", 300, 1, l.addr(b, "nurse@d.test", trusttest.Opts{}).Raw)
	sources := []struct {
		name  string
		order []string
	}{{"dns", []string{SourceDNS}}}
	if _, err := exec.LookPath("slapd"); err == nil || statOK("/usr/sbin/slapd") {
		srv := slapd(b, entry("n", "nurse@l.test", l.addr(b, "nurse@l.test", trusttest.Opts{})))
		z.AddSRV("_ldap._tcp.l.test", 0, 0, srv)
		sources = append(sources, struct {
			name  string
			order []string
		}{"ldap", []string{SourceLDAP}})
	}
	addr := map[string]string{"dns": "nurse@d.test", "ldap": "nurse@l.test"}
	for _, src := range sources {
		for _, warm := range []bool{false, true} {
			name := src.name + "/cold"
			if warm {
				name = src.name + "/warm"
			}
			b.Run(name, func(b *testing.B) {
				d := New(z.Addr, l.v)
				d.Order = src.order
				for b.Loop() {
					if !warm {
						d = New(z.Addr, l.v)
						d.Order = src.order
					}
					rep, err := d.Discover(context.Background(), "a.test", addr[src.name], trust.PurposeEncrypt)
					if err != nil || len(rep.Usable) != 1 {
						b.Fatalf("%v %+v", err, rep)
					}
				}
			})
		}
	}
}

func statOK(path string) bool { _, err := os.Stat(path); return err == nil }
