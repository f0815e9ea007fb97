package muc

import (
	"context"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// FuzzRoom: stanzas of any shape to the service, a room or an occupant,
// from the room's owner or from a stranger (XEP-0045's bad-input cases:
// malformed forms, nicks, subjects, history requests, admin items): the
// server does not panic, everything it sends is well-formed XML that
// parses again, and the service and the room go on (a participant's
// groupchat message still reaches the room, or he was rightly removed).
func FuzzRoom(f *testing.F) {
	const (
		muc   = "<x xmlns='http://jabber.org/protocol/muc'/>"
		owner = "http://jabber.org/protocol/muc#owner"
		admin = "http://jabber.org/protocol/muc#admin"
	)
	form := func(fields string) string {
		return "<iq type='set' id='f' to='" + room + "'><query xmlns='" + owner + "'><x xmlns='jabber:x:data' type='submit'>" +
			"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>" + fields + "</x></query></iq>"
	}
	for _, s := range []string{
		"<message to='" + room + "' type='groupchat'><body>hi</body></message>",
		"<message to='" + room + "' type='groupchat'><subject>" + strings.Repeat("s", 3000) + "</subject></message>",
		"<message to='" + room + "/Bob' type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>",
		"<message to='" + room + "/Nobody' type='chat'><body>pm</body></message>",
		"<message to='" + room + "'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol@example.org'><reason>r</reason></invite><invite to='@@bad'/></x></message>",
		"<message to='" + room + "'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='alice@example.org'/></x></message>",
		"<message to='carol@example.org'><x xmlns='jabber:x:conference' jid='" + room + "' password='p'/></message>",
		"<message to='" + room + "'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role'><value>participant</value></field><field var='muc#request_allow'><value>maybe</value></field></x></message>",
		"<presence to='" + room + "/Alice2'/>",
		"<presence to='" + room + "/'/>",
		"<presence to='" + room + "/" + strings.Repeat("n", 2000) + "'>" + muc + "</presence>",
		"<presence to='" + room + "/\u00a0x\u200b'>" + muc + "</presence>",
		"<presence to='" + room + "/Bob'>" + muc + "</presence>",
		"<presence to='" + room + "/Zed'><x xmlns='http://jabber.org/protocol/muc'><history maxchars='-1' maxstanzas='99999999999999999999' seconds='x' since='1970-13-45T99:99:99Z'/><password>" + strings.Repeat("p", 5000) + "</password></x></presence>",
		"<presence to='" + room + "/Alice' type='unavailable'><status>bye</status></presence>",
		"<presence to='other@conference.example.org/A'>" + muc + "</presence>",
		"<presence to='" + room + "/Alice' type='subscribe'/>",
		"<iq type='get' id='d' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
		"<iq type='get' id='d' to='conference.example.org'><query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>-5</max></set></query></iq>",
		"<iq type='get' id='p' to='" + room + "/Alice'><ping xmlns='urn:xmpp:ping'/></iq>",
		"<iq type='get' id='v' to='" + room + "/Bob'><vCard xmlns='vcard-temp'/></iq>",
		"<iq type='get' id='c' to='" + room + "'><query xmlns='" + owner + "'/></iq>",
		form(""),
		form("<field var='muc#roomconfig_maxusers'><value>-1</value></field><field var='muc#roomconfig_whois'><value>everyone</value></field><field var='muc#roomconfig_historylength'><value>999999999999</value></field>"),
		form("<field var='muc#roomconfig_membersonly'><value>1</value></field><field var='muc#roomconfig_moderatedroom'><value>true</value></field><field var='muc#roomconfig_roomname'><value>" + strings.Repeat("x", 5000) + "</value></field>"),
		form("<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value></value></field><field var='muc#roomconfig_roomowners'><value>@bad</value><value>carol@example.org</value></field>"),
		"<iq type='set' id='x' to='" + room + "'><query xmlns='" + owner + "'><x xmlns='jabber:x:data' type='cancel'/></query></iq>",
		"<iq type='set' id='x' to='" + room + "'><query xmlns='" + owner + "'><destroy jid='elsewhere@conference.example.org'><reason>moved</reason></destroy></query></iq>",
		"<iq type='set' id='a' to='" + room + "'><query xmlns='" + admin + "'><item nick='Bob' role='none'><reason>out</reason></item></query></iq>",
		"<iq type='set' id='a' to='" + room + "'><query xmlns='" + admin + "'><item jid='bob@example.org' affiliation='outcast'/><item jid='' affiliation='member'/><item affiliation='owner'/></query></iq>",
		"<iq type='set' id='a' to='" + room + "'><query xmlns='" + admin + "'><item nick='Bob' role='visitor'/><item nick='Bob' role='moderator'/><item nick='Nobody' role='participant'/></query></iq>",
		"<iq type='set' id='a' to='" + room + "'><query xmlns='" + admin + "'><item jid='alice@example.org' affiliation='none'/></query></iq>",
		"<iq type='get' id='a' to='" + room + "'><query xmlns='" + admin + "'><item affiliation='member'/></query></iq>",
		"<iq type='get' id='a' to='" + room + "'><query xmlns='" + admin + "'><item role='bogus'/></query></iq>",
		"<iq type='set' id='m' to='" + room + "'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='with'><value>" + room + "/Bob</value></field></x><set xmlns='http://jabber.org/protocol/rsm'><max>100000</max><before/></set></query></iq>",
		"<iq type='get' id='r' to='" + room + "'><query xmlns='jabber:iq:register'/></iq>",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, stranger bool) {
		doc, err := xml.Parse([]byte("<r xmlns='jabber:client'>" + in + "</r>"))
		if err != nil || len(doc.Elements()) == 0 {
			return
		}
		h, s := setup(t, "alice", "bob", "carol")
		defer func() {
			for _, u := range s {
				delete(unread, u)
			}
		}()
		openRoom(t, s)
		join(t, s["bob"], "Bob", "")
		sender := s["alice"]
		if stranger {
			sender = s["carol"]
		}
		for i, el := range doc.Elements() {
			if i == 8 {
				break
			}
			// Aimed at the service: anything else tests the router, not the room.
			if to, err := jid.Parse(el.Attr("to")); err != nil || to.Domain() != "conference.example.org" {
				el.SetAttr("to", room)
			}
			el.SetAttr("from", sender.JID.String())
			st, serr := router.NewStanza(el)
			if serr != nil {
				continue
			}
			h.Router.FromClient(context.Background(), sender.Res, st)
		}
		// The service still answers.
		r := s["carol"].Reply("<iq type='get' id='probe' to='conference.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		if r.Attr("type") != "result" {
			t.Fatalf("the service after the input: %s", r)
		}
		// Bob still speaks in the room, unless he is out of it.
		s["bob"].Send("<message to='" + room + "' type='groupchat' id='after'><body>still here</body></message>")
		answered := false
		for u, sess := range s {
			for _, el := range drain(sess) {
				b := xml.Append(nil, el, "")
				if _, err := xml.Parse(b); err != nil {
					t.Fatalf("%s got malformed XML: %v: %s", u, err, b)
				}
				if u == "bob" && el.Name == "message" && el.Attr("id") == "after" && (el.Attr("type") == "error" || el.ChildText(xml.NSClient, "body") == "still here") {
					answered = true
				}
			}
		}
		if !answered {
			t.Errorf("bob's groupchat message after the input: neither echoed nor refused")
		}
		if s["bob"].Closed() != nil || s["alice"].Closed() != nil {
			t.Fatalf("a session was closed by another's input")
		}
	})
}
