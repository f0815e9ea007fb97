package introduce

import (
	"crypto/x509"
	"strings"
)

// Directory is what a server introduces: the public certificates of its
// Direct domains (domain-bound) and of their addresses (address-bound),
// each with the intermediates it has. Built whole and swapped (the server
// rebuilds it when `tern direct cert` changes something); read-only once
// in use.
type Directory struct {
	domains map[string]*published
}

type published struct {
	domain [][]*x509.Certificate
	addrs  map[string][][]*x509.Certificate
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory { return &Directory{domains: map[string]*published{}} }

func (d *Directory) of(domain string) *published {
	p := d.domains[domain]
	if p == nil {
		p = &published{addrs: map[string][][]*x509.Certificate{}}
		d.domains[domain] = p
	}
	return p
}

// AddDomain publishes a domain-bound certificate (leaf first).
func (d *Directory) AddDomain(domain string, chain []*x509.Certificate) {
	p := d.of(strings.ToLower(domain))
	p.domain = append(p.domain, chain)
}

// AddAddress publishes an address-bound certificate (leaf first).
func (d *Directory) AddAddress(address string, chain []*x509.Certificate) {
	address = strings.ToLower(address)
	_, domain, _ := strings.Cut(address, "@")
	p := d.of(domain)
	p.addrs[address] = append(p.addrs[address], chain)
}

// Lookup returns the certificates to introduce for address: its own, then
// its domain's; stored reports whether the address has certificates of
// its own.
func (d *Directory) Lookup(address string) (chains [][]*x509.Certificate, stored bool) {
	if d == nil {
		return nil, false
	}
	address = strings.ToLower(address)
	_, domain, _ := strings.Cut(address, "@")
	p := d.domains[domain]
	if p == nil {
		return nil, false
	}
	own := p.addrs[address]
	return append(append([][]*x509.Certificate(nil), own...), p.domain...), len(own) > 0
}
