package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mucStep is one stanza a user sends and what it must get back (a
// regexp one stanza it reads matches; stanzas before it are skipped). In
// both, {r} is the case's room JID.
type mucStep struct {
	who, send, expect string
}

// Steps that recur: joining (own presence back with 110), the owner's
// instant configuration, and a configuration form with fields.
func joinStep(who, nick, extra string) mucStep {
	return mucStep{who, "<presence to='{r}/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'>" + extra + "</x></presence>",
		`(?s)<presence[^>]*from=['"]{r}/` + nick + `['"][^>]*>.*?code=['"]110['"]`}
}

func joinRefused(who, nick, extra, cond string) mucStep {
	return mucStep{who, "<presence to='{r}/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'>" + extra + "</x></presence>",
		`(?s)<presence[^>]*type=['"]error['"][^>]*>.*?<` + cond}
}

func configure(fields ...string) mucStep {
	var f strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&f, "<field var='muc#roomconfig_%s'><value>%s</value></field>", fields[i], fields[i+1])
	}
	return mucStep{"a", "<iq type='set' id='cfg' to='{r}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		f.String() + "</x></query></iq>", `<iq[^>]*id=['"]cfg['"][^>]*type=['"]result['"]|<iq[^>]*type=['"]result['"][^>]*id=['"]cfg['"]`}
}

func admin(id, item string) mucStep {
	return mucStep{"a", "<iq type='set' id='" + id + "' to='{r}'><query xmlns='http://jabber.org/protocol/muc#admin'>" + item + "</query></iq>",
		`<iq[^>]*(?:id=['"]` + id + `['"][^>]*type=['"]result['"]|type=['"]result['"][^>]*id=['"]` + id + `['"])`}
}

// TestMUCRawClient: the XEP-0045 use cases as a table, each in a room of
// its own, through the real binary with the raw client (alice owns every
// room, bob and carol are the others): each refusal with the XEP's error,
// the status codes, the room archive, and a direct invitation (XEP-0249)
// passed through untouched.
func TestMUCRawClient(t *testing.T) {
	p := startTern(t, ternOpts{Users: []string{"alice@localhost", "bob@localhost", "carol@localhost"}})
	clients := map[string]*rawClient{}
	for who, user := range map[string]string{"a": "alice", "b": "bob", "c": "carol"} {
		c := dialRaw(t, &p.target, true)
		c.login(&p.target, user+"@localhost")
		c.send("<presence/>")
		clients[who] = c
	}
	open := []mucStep{joinStep("a", "A", ""), configure()}
	cases := []struct {
		name  string
		steps []mucStep
	}{
		{"create: 201, locked until configured", []mucStep{
			{"a", "<presence to='{r}/A'><x xmlns='http://jabber.org/protocol/muc'/></presence>", `(?s)<presence[^>]*from=['"]{r}/A['"].*?code=['"]201['"]`},
			joinRefused("b", "B", "", "item-not-found"),
			configure(), joinStep("b", "B", ""),
		}},
		{"nickname in use: conflict", append(open, joinRefused("b", "A", "", "conflict"))},
		{"nickname not in the PRECIS form: jid-malformed", append(open, joinRefused("b", "Bob  Smith", "", "jid-malformed"))},
		{"members-only: registration-required, then a member", append(open, configure("membersonly", "1"),
			joinRefused("b", "B", "", "registration-required"),
			admin("mem", "<item affiliation='member' jid='bob@localhost'/>"), joinStep("b", "B", ""))},
		{"password: not-authorized, then the password", append(open, configure("passwordprotectedroom", "1", "roomsecret", "s3cret"),
			joinRefused("b", "B", "", "not-authorized"), joinStep("b", "B", "<password>s3cret</password>"))},
		{"full room: service-unavailable", append(open, configure("maxusers", "1"), joinRefused("b", "B", "", "service-unavailable"))},
		{"banned: 301 to the occupant, then forbidden", append(open, joinStep("b", "B", ""),
			admin("ban", "<item affiliation='outcast' jid='bob@localhost'><reason>spam</reason></item>"),
			mucStep{"b", "", `(?s)<presence[^>]*type=['"]unavailable['"].*?code=['"]301['"]`},
			joinRefused("b", "B", "", "forbidden"))},
		{"kick: 307", append(open, joinStep("b", "B", ""), admin("kick", "<item nick='B' role='none'/>"),
			mucStep{"b", "", `(?s)<presence[^>]*type=['"]unavailable['"].*?code=['"]307['"]`})},
		{"a stranger's message: not-acceptable", append(open,
			mucStep{"c", "<message to='{r}' type='groupchat' id='x1'><body>hi</body></message>", `(?s)<message[^>]*type=['"]error['"].*?<not-acceptable`})},
		{"the subject, when only moderators may change it: forbidden", append(open, configure("changesubject", "0"), joinStep("b", "B", ""),
			mucStep{"b", "<message to='{r}' type='groupchat' id='s1'><subject>mine</subject></message>", `(?s)<message[^>]*type=['"]error['"].*?<forbidden`})},
		{"groupchat, private message, archive", append(open, joinStep("b", "B", ""),
			mucStep{"b", "<message to='{r}' type='groupchat' id='g1'><body>hello room</body></message>", `(?s)<message[^>]*from=['"]{r}/B['"].*?hello room.*?<stanza-id[^>]*by=['"]{r}['"]`},
			mucStep{"b", "<message to='{r}/A' type='chat' id='p1'><body>psst</body></message>", ""},
			mucStep{"a", "", `(?s)<message[^>]*from=['"]{r}/B['"].*?psst`},
			mucStep{"c", "<iq type='set' id='q1' to='{r}'><query xmlns='urn:xmpp:mam:2' queryid='q1'/></iq>",
				`(?s)<result[^>]*queryid=['"]q1['"].*?from=['"]{r}/B['"].*?hello room`},
			mucStep{"c", "", `(?s)<fin[^>]*complete=['"]true['"]`},
			// A direct invitation (XEP-0249) is a message between users: it arrives as sent.
			mucStep{"a", "<message to='carol@localhost' id='di1'><x xmlns='jabber:x:conference' jid='{r}' reason='join us'/></message>", ""},
			mucStep{"c", "", `(?s)<message[^>]*from=['"]alice@localhost/raw['"].*?<x xmlns=['"]jabber:x:conference['"][^>]*jid=['"]{r}['"]`})},
		{"moderated: a visitor may not speak, asks for voice, gets it", append(open, configure("moderatedroom", "1"), joinStep("b", "B", ""),
			mucStep{"b", "<message to='{r}' type='groupchat' id='v1'><body>may I?</body></message>", `(?s)<message[^>]*type=['"]error['"].*?<forbidden`},
			mucStep{"b", "<message to='{r}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role'><value>participant</value></field></x></message>", ""},
			mucStep{"a", "", `(?s)<message[^>]*from=['"]{r}['"].*?muc#request.*?muc#roomnick.*?<value>B</value>`},
			admin("voice", "<item nick='B' role='participant'/>"),
			mucStep{"b", "<message to='{r}' type='groupchat' id='v2'><body>thanks</body></message>", `(?s)<message[^>]*from=['"]{r}/B['"][^>]*type=['"]groupchat['"].*?thanks|<message[^>]*type=['"]groupchat['"][^>]*from=['"]{r}/B['"].*?thanks`})},
		{"destroy: the occupants told, with the reason", append(open, joinStep("b", "B", ""),
			mucStep{"a", "<iq type='set' id='d1' to='{r}'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='new@conference.localhost'><reason>moved</reason></destroy></query></iq>", ""},
			mucStep{"b", "", `(?s)<presence[^>]*type=['"]unavailable['"].*?<destroy[^>]*jid=['"]new@conference.localhost['"].*?moved`})},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := fmt.Sprintf("case%d@conference.localhost", i)
			for _, c := range clients {
				c.t = t
			}
			for j, s := range tc.steps {
				c := clients[s.who]
				if s.send != "" {
					c.send(strings.ReplaceAll(s.send, "{r}", r))
				}
				if s.expect != "" {
					pat := strings.ReplaceAll(s.expect, "{r}", strings.ReplaceAll(r, ".", `\.`))
					expectStanza(t, c, j, pat)
				}
			}
			for _, c := range clients { // leave, for the next case
				c.send("<presence to='" + r + "/x' type='unavailable'/>")
			}
		})
	}
}

// stanzaRe finds the next top-level stanza in what a raw client read (a
// message with a message inside ends at the inner one's end tag, which
// still holds what the patterns look for).
var stanzaRe = regexp.MustCompile(`(?s)<(?:message|presence|iq)\b(?:[^>]*/>|[^>]*>.*?</(?:message|presence|iq)>)`)

// expectStanza consumes stanzas until one matches pattern.
func expectStanza(t *testing.T, c *rawClient, step int, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(rawTimeout)
	var seen []string
	for {
		for {
			loc := stanzaRe.FindIndex(c.buf)
			if loc == nil {
				break
			}
			st := string(c.buf[loc[0]:loc[1]])
			c.buf = c.buf[loc[1]:]
			if re.MatchString(st) {
				return st
			}
			seen = append(seen, st)
		}
		if !c.fill(deadline) {
			t.Fatalf("step %d: no stanza matching %s: %v; got:\n%s\n(unread: %s)", step, pattern, c.eof, strings.Join(seen, "\n"), clip(c.buf))
		}
	}
}
