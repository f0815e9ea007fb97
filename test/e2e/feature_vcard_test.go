package e2e

import (
	"strings"
	"testing"
)

func TestVCard(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, vcardRows())
}

const nsVCard = "vcard-temp"

func vcardRows() []featureRow {
	card := "<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN><MIDDLE/></N>" +
		"<NICKNAME>al</NICKNAME><DESC>  spaces  &amp; &lt;escapes&gt; </DESC></vCard>"
	return []featureRow{
		{name: "set-get-own-and-other", rule: "XEP-0054 §3.1, §3.2, §3.3: set one's vCard, read it back; another user reads it at the bare JID",
			users: []string{"va1", "vb1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				b := connect(t, &srv.target, u[1], loginOpts{})
				wantCondition(t, "vCard set", a.iq("set", "", card), "")
				want := parseElem(t, card)
				for _, r := range []struct {
					who *xclient
					to  string
				}{{a, ""}, {b, u[0]}} {
					got := r.who.iq("get", r.to, "<vCard xmlns='vcard-temp'/>")
					if v := got.child(nsVCard, "vCard"); v == nil || !sameTree(v, want) {
						t.Errorf("vCard get by %s: got %s; want %s", r.who.bare, got, want)
					}
				}
			}},
		{name: "none-own", rule: "XEP-0054 §3.1: with no vCard, one's own get is item-not-found or an empty <vCard/>",
			users: []string{"va2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				r := a.iq("get", "", "<vCard xmlns='vcard-temp'/>")
				v := r.child(nsVCard, "vCard")
				if !(r.attr("type") == "result" && v != nil && len(v.Kids) == 0) && r.errorCondition() != "item-not-found" {
					t.Errorf("own vCard get with none stored: got %s; want an empty <vCard/> or item-not-found", r)
				}
			}},
		{name: "none-other", rule: "XEP-0054 §3.3: another user's missing vCard is a stanza error (service-unavailable or item-not-found)",
			users: []string{"va3", "vb3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				for _, to := range []string{u[1], "nobody@" + srv.domain} {
					r := a.iq("get", to, "<vCard xmlns='vcard-temp'/>")
					if c := r.errorCondition(); c != "service-unavailable" && c != "item-not-found" {
						t.Errorf("vCard get to %s (none stored): got %s; want service-unavailable or item-not-found", to, r)
					}
				}
			}},
		{name: "too-large", rule: "tern bounds vCards at 128 KiB (avatars live there): larger is not-acceptable (RFC 6120 §8.3.3.9)",
			users: []string{"va4"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				big := "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>" + strings.Repeat("QUFB", 40<<10) + "</BINVAL></PHOTO></vCard>"
				wantCondition(t, "160 KiB vCard", a.iq("set", "", big), "not-acceptable")
				if r := a.iq("get", "", "<vCard xmlns='vcard-temp'/>"); r.path(nsVCard+" vCard", "PHOTO") != nil {
					t.Errorf("the refused vCard was stored: %s", r)
				}
			}},
		{name: "set-other-forbidden", rule: "XEP-0054 §3.2: a set on another user's vCard is forbidden (or not-allowed)",
			users: []string{"va5", "vb5"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				r := a.iq("set", u[1], card)
				if c := r.errorCondition(); c != "forbidden" && c != "not-allowed" {
					t.Errorf("vCard set to %s: got %s; want forbidden or not-allowed", u[1], r)
				}
			}},
	}
}
