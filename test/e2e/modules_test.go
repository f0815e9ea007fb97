package e2e

import (
	"slices"
	"strings"
	"testing"
)

// TestModulesConfig: modules_disabled leaves a feature out (its disco#info
// feature and its handler both go: the iq gets service-unavailable, RFC
// 6120 §8.3.3.19), and a module's own section sets its limits ([vcard]
// max_bytes), through the real binary.
func TestModulesConfig(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{TopTOML: `modules_disabled = ["carbons"]`, ExtraTOML: "[vcard]\nmax_bytes = 300"})
	c := connect(t, &srv.target, srv.users[0], loginOpts{})
	info := c.iq("get", srv.domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	feats := discoFeatures(info.child("http://jabber.org/protocol/disco#info", "query"))
	if slices.Contains(feats, "urn:xmpp:carbons:2") {
		t.Errorf("carbons is disabled but disco#info lists it: %v", feats)
	}
	if !slices.Contains(feats, "urn:xmpp:blocking") {
		t.Errorf("disco#info lost another module's feature: %v", feats)
	}
	if r := c.iq("set", "", "<enable xmlns='urn:xmpp:carbons:2'/>"); r.errorCondition() != "service-unavailable" {
		t.Errorf("carbons enable with the module disabled: %s; want service-unavailable", r)
	}
	small := "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>"
	if r := c.iq("set", "", small); r.attr("type") != "result" {
		t.Errorf("a small vCard: %s; want a result", r)
	}
	big := "<vCard xmlns='vcard-temp'><FN>" + strings.Repeat("A", 400) + "</FN></vCard>"
	if r := c.iq("set", "", big); r.errorCondition() != "not-acceptable" {
		t.Errorf("a vCard over [vcard] max_bytes = 300: %s; want not-acceptable", r)
	}
}
