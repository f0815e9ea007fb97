package e2e

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

// Namespaces the feature tests check errors in.
const (
	nsStanzaErr = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsStreamErr = "urn:ietf:params:xml:ns:xmpp-streams"
	nsStreams   = "http://etherx.jabber.org/streams"
	nsClient    = "jabber:client"
)

// elem is a received element as a tree: namespaces resolved, namespace declarations dropped,
// so two trees compare equal whatever prefixes either side chose.
type elem struct {
	Space, Local string
	Attrs        []xml.Attr
	Kids         []*elem
	Text         string // character data directly inside, concatenated
}

func (e *elem) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e *elem) hasAttr(name string) bool {
	for _, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return true
		}
	}
	return false
}

// child returns the first child element named local in space ("" matches any namespace).
func (e *elem) child(space, local string) *elem {
	if e == nil {
		return nil
	}
	for _, k := range e.Kids {
		if k.Local == local && (space == "" || k.Space == space) {
			return k
		}
	}
	return nil
}

// path follows child names ("ns local" or just "local") down the tree.
func (e *elem) path(steps ...string) *elem {
	for _, s := range steps {
		space, local, ok := strings.Cut(s, " ")
		if !ok {
			space, local = "", s
		}
		e = e.child(space, local)
	}
	return e
}

func (e *elem) children(space, local string) []*elem {
	var out []*elem
	for _, k := range e.Kids {
		if k.Local == local && (space == "" || k.Space == space) {
			out = append(out, k)
		}
	}
	return out
}

// errorCondition is the defined condition of a stanza error (RFC 6120 §8.3.3), "" if none.
func (e *elem) errorCondition() string {
	if e == nil || e.attr("type") != "error" {
		return ""
	}
	for _, k := range e.child("", "error").kidsOrNil() {
		if k.Space == nsStanzaErr && k.Local != "text" {
			return k.Local
		}
	}
	return ""
}

// streamErrorCondition is the condition of a <stream:error/> (RFC 6120 §4.9.3), "" if e is not one.
func (e *elem) streamErrorCondition() string {
	if e == nil || e.Space != nsStreams || e.Local != "error" {
		return ""
	}
	for _, k := range e.Kids {
		if k.Space == nsStreamErr && k.Local != "text" {
			return k.Local
		}
	}
	return ""
}

func (e *elem) kidsOrNil() []*elem {
	if e == nil {
		return nil
	}
	return e.Kids
}

// String re-serializes e (namespaces explicit) for failure messages.
func (e *elem) String() string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	e.write(&b, "")
	return b.String()
}

func (e *elem) write(b *strings.Builder, parentNS string) {
	b.WriteString("<" + e.Local)
	if e.Space != parentNS {
		fmt.Fprintf(b, " xmlns=%q", e.Space)
	}
	for _, a := range e.Attrs {
		name := a.Name.Local
		if a.Name.Space != "" {
			name = "{" + a.Name.Space + "}" + name
		}
		fmt.Fprintf(b, " %s=%q", name, a.Value)
	}
	if len(e.Kids) == 0 && e.Text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	xml.EscapeText(b, []byte(e.Text))
	for _, k := range e.Kids {
		k.write(b, e.Space)
	}
	b.WriteString("</" + e.Local + ">")
}

// sameTree compares names, attributes (as sets), text and children in order.
func sameTree(a, b *elem) bool {
	if a.Space != b.Space || a.Local != b.Local || strings.TrimSpace(a.Text) != strings.TrimSpace(b.Text) ||
		len(a.Attrs) != len(b.Attrs) || len(a.Kids) != len(b.Kids) {
		return false
	}
	for _, x := range a.Attrs {
		found := false
		for _, y := range b.Attrs {
			if x == y {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	for i := range a.Kids {
		if !sameTree(a.Kids[i], b.Kids[i]) {
			return false
		}
	}
	return true
}

// parseElem parses one standalone element (test expectations), default namespace jabber:client.
func parseElem(t testing.TB, s string) *elem {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader("<wrap xmlns='jabber:client'>" + s + "</wrap>"))
	d.Token()
	e, err := readElem(d, nil)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return e
}

// readElem reads the element whose start is start (or the next one when start is nil).
func readElem(d *xml.Decoder, start *xml.StartElement) (*elem, error) {
	for start == nil {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			start = &se
		}
	}
	e := &elem{Space: start.Name.Space, Local: start.Name.Local}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		if a.Name.Space == "xml" {
			a.Name.Space = "http://www.w3.org/XML/1998/namespace"
		}
		e.Attrs = append(e.Attrs, a)
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			k, err := readElem(d, &tok)
			if err != nil {
				return nil, err
			}
			e.Kids = append(e.Kids, k)
		case xml.CharData:
			e.Text += string(tok)
		case xml.EndElement:
			return e, nil
		}
	}
}

// xclient is a logged-in client reading the server's stream as elements in a goroutine, so a
// test waits for the stanza it expects by predicate and keeps the rest for later waits.
type xclient struct {
	t        testing.TB
	raw      *rawClient
	jid      string // bound full JID
	bare     string
	features string // the stream features offered after authentication (RFC 6120 §4.3.2)
	in       chan *elem
	pending  []*elem // received, not yet taken by a wait
	wmu      sync.Mutex
	ended    atomic.Pointer[string] // why the server's stream ended, once it did
	// answerPings makes the reader answer the server's keepalive pings (XEP-0199 §4.1); on by default.
	answerPings atomic.Bool
	ids         atomic.Int64
}

// loginOpts says how to log in; zero values: password of srv, resource "r", best SCRAM, STARTTLS.
type loginOpts struct {
	password  string
	resource  string
	mech      string // SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN
	authzid   string
	directTLS bool
}

// connect logs user (a bare JID) in and binds a resource, without sending presence.
func connect(t testing.TB, srv *target, user string, o loginOpts) *xclient {
	t.Helper()
	raw := dialRaw(t, srv, o.directTLS)
	if ok, failure := authenticate(raw, srv, user, o); !ok {
		t.Fatalf("login %s: %s", user, failure)
	}
	return bindResource(t, raw, srv, o.resource)
}

// online connects user and sends initial presence (with the given extra children), waiting for
// the server to reflect it back (RFC 6121 §4.2.2), so the session is available when it returns.
func online(t testing.TB, srv *target, user, resource string, presenceKids string) *xclient {
	t.Helper()
	c := connect(t, srv, user, loginOpts{resource: resource})
	c.send("<presence>" + presenceKids + "</presence>")
	c.wait("own initial presence reflected (RFC 6121 §4.2.2)", isPresenceFrom(c.jid, ""))
	return c
}

// authenticate opens the stream and runs one SASL exchange; it returns false and the
// server's <failure/> (or stream error) when authentication fails.
func authenticate(c *rawClient, srv *target, user string, o loginOpts) (bool, string) {
	c.t.Helper()
	if o.password == "" {
		o.password = srv.password
	}
	c.send(streamHeader(srv.domain))
	feats := c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)[0]
	mech := o.mech
	if mech == "" {
		var mechs []string
		for _, m := range regexp.MustCompile(`<mechanism>([^<]+)</mechanism>`).FindAllStringSubmatch(feats, -1) {
			mechs = append(mechs, m[1])
		}
		mech = pickMech(mechs)
	}
	failure := `<failure[\s\S]*?</failure>|<failure[^>]*/>|<stream:error>[\s\S]*?</stream:error>`
	switch mech {
	case "SCRAM-SHA-256", "SCRAM-SHA-1":
		hash := scram.SHA256
		if mech == "SCRAM-SHA-1" {
			hash = scram.SHA1
		}
		client, err := hash.NewClient(localpart(user), o.password, o.authzid)
		if err != nil {
			c.t.Fatal(err)
		}
		conv := client.NewConversation()
		first, _ := conv.Step("")
		c.send(fmt.Sprintf("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>", mech, b64(first)))
		m := c.expect(`<challenge[^>]*>([^<]*)</challenge>|` + failure)
		if !strings.HasPrefix(m[0], "<challenge") {
			return false, m[0]
		}
		final, err := conv.Step(unb64(c.t, m[1]))
		if err != nil {
			c.t.Fatalf("SCRAM server-first-message: %v", err)
		}
		c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + b64(final) + "</response>")
		m = c.expect(`<success[^>]*/>|<success[^>]*>([^<]*)</success>|` + failure)
		if !strings.HasPrefix(m[0], "<success") {
			return false, m[0]
		}
		if _, err := conv.Step(unb64(c.t, m[1])); err != nil {
			c.t.Fatalf("SCRAM server signature (RFC 5802 §3): %v", err)
		}
	case "PLAIN":
		c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			b64(o.authzid+"\x00"+localpart(user)+"\x00"+o.password) + "</auth>")
		m := c.expect(`<success[^>]*/>|<success[^>]*>[^<]*</success>|` + failure)
		if !strings.HasPrefix(m[0], "<success") {
			return false, m[0]
		}
	default:
		c.t.Fatalf("mechanism %q not offered or not spoken by this client; features: %s", mech, feats)
	}
	return true, ""
}

// bindResource restarts the stream after SASL success and binds resource (RFC 6120 §7), then
// hands the connection to an element reader.
func bindResource(t testing.TB, raw *rawClient, srv *target, resource string) *xclient {
	t.Helper()
	if resource == "" {
		resource = "r"
	}
	raw.send(streamHeader(srv.domain))
	feats := raw.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)[0]
	raw.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>")
	full := raw.expect(`(?s)<iq[^>]*>\s*<bind[^>]*>\s*<jid>([^<]+)</jid>\s*</bind>\s*</iq>`)[1]
	return streamClient(t, raw, full, feats)
}

// streamClient hands raw, a stream established for the full JID full, to an element reader.
func streamClient(t testing.TB, raw *rawClient, full, feats string) *xclient {
	c := &xclient{t: t, raw: raw, jid: full, features: feats, bare: strings.SplitN(full, "/", 2)[0], in: make(chan *elem, 1024)}
	c.answerPings.Store(true)
	// The decoder needs the stream root in scope: a synthetic one, then what expect left over.
	r := io.MultiReader(strings.NewReader("<stream:stream xmlns='jabber:client' xmlns:stream='"+nsStreams+"'>"),
		bytes.NewReader(raw.buf), raw.conn)
	raw.buf = nil
	raw.conn.SetReadDeadline(time.Time{})
	go c.read(r)
	return c
}

func (c *xclient) read(r io.Reader) {
	defer close(c.in)
	d := xml.NewDecoder(r)
	if _, err := d.Token(); err != nil { // the synthetic root
		c.setEnded(err.Error())
		return
	}
	for {
		tok, err := d.Token()
		if err != nil {
			c.setEnded(err.Error())
			return
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e, err := readElem(d, &tok)
			if err != nil {
				c.setEnded(err.Error())
				return
			}
			if c.answerPings.Load() && e.Local == "iq" && e.attr("type") == "get" && e.child("urn:xmpp:ping", "ping") != nil &&
				!strings.Contains(e.attr("from"), "@") {
				c.send(fmt.Sprintf("<iq type='result' id='%s' to='%s'/>", xmlAttr(e.attr("id")), xmlAttr(e.attr("from"))))
			}
			c.in <- e
		case xml.EndElement:
			c.setEnded("</stream:stream>")
			return
		}
	}
}

func (c *xclient) setEnded(why string) { c.ended.CompareAndSwap(nil, &why) }

// send writes s; safe from any goroutine.
func (c *xclient) send(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.raw.conn.SetWriteDeadline(time.Now().Add(rawTimeout))
	io.WriteString(c.raw.conn, s)
}

// wait returns (and consumes) the first received element pred accepts, waiting up to
// rawTimeout; it fails the test showing everything received otherwise.
func (c *xclient) wait(what string, pred func(*elem) bool) *elem {
	c.t.Helper()
	e, ok := c.tryWait(pred)
	if !ok {
		c.t.Fatalf("%s: waiting for %s; stream ended: %v; received and not taken:\n%s", c.jid, what, c.endReason(), c.dump())
	}
	return e
}

func (c *xclient) tryWait(pred func(*elem) bool) (*elem, bool) {
	for i, e := range c.pending {
		if pred(e) {
			c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
			return e, true
		}
	}
	timer := time.NewTimer(rawTimeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-c.in:
			if !ok {
				return nil, false
			}
			if pred(e) {
				return e, true
			}
			c.pending = append(c.pending, e)
		case <-timer.C:
			return nil, false
		}
	}
}

func (c *xclient) endReason() string {
	if p := c.ended.Load(); p != nil {
		return *p
	}
	return "no"
}

func (c *xclient) dump() string {
	var b strings.Builder
	for _, e := range c.pending {
		b.WriteString(e.String() + "\n")
	}
	return b.String()
}

// sync is a barrier: a ping to the server and its answer. The server handles a client's
// stanzas in order (RFC 6120 §10.1), so once it returns, everything routed because of what c
// sent before has been routed; and everything the server queued to c before has been read.
func (c *xclient) sync() {
	c.t.Helper()
	if r := c.iq("get", c.domain(), "<ping xmlns='urn:xmpp:ping'/>"); r.attr("type") != "result" {
		c.t.Fatalf("sync ping: %s", r)
	}
}

// none asserts, after a barrier on each of senders and then on c, that c received nothing pred
// accepts: what a sender caused is delivered to c before c's own barrier answer.
func (c *xclient) none(what string, pred func(*elem) bool, senders ...*xclient) {
	c.t.Helper()
	for _, s := range senders {
		s.sync()
	}
	c.sync()
	for _, e := range c.pending {
		if pred(e) {
			c.t.Errorf("%s: got %s; want none (%s)", c.jid, e, what)
		}
	}
}

func (c *xclient) domain() string { return c.bare[strings.Index(c.bare, "@")+1:] }

func (c *xclient) nextID() string { return fmt.Sprintf("q%d", c.ids.Add(1)) }

// iq sends an iq of typ to (empty: no 'to') with payload and returns the reply (result or error).
func (c *xclient) iq(typ, to, payload string) *elem {
	c.t.Helper()
	id := c.nextID()
	toAttr := ""
	if to != "" {
		toAttr = " to='" + xmlAttr(to) + "'"
	}
	c.send(fmt.Sprintf("<iq type='%s' id='%s'%s>%s</iq>", typ, id, toAttr, payload))
	return c.wait("reply to iq "+id+" "+payload, func(e *elem) bool {
		return e.Local == "iq" && e.attr("id") == id && (e.attr("type") == "result" || e.attr("type") == "error")
	})
}

// waitStreamEnd waits until the server ends the stream and returns the stream error received
// before that, if any.
func (c *xclient) waitStreamEnd() *elem {
	c.t.Helper()
	e, _ := c.tryWait(func(e *elem) bool { return e.Space == nsStreams && e.Local == "error" })
	for range c.in { // drain to the end
	}
	if c.ended.Load() == nil {
		c.t.Fatalf("%s: the stream did not end", c.jid)
	}
	return e
}

// close ends our stream and waits for the server's close (RFC 6120 §4.4).
func (c *xclient) close() {
	c.send("</stream:stream>")
	timer := time.NewTimer(rawTimeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-c.in:
			if !ok {
				return
			}
			c.pending = append(c.pending, e)
		case <-timer.C:
			c.t.Errorf("%s: the server did not close the stream after ours (RFC 6120 §4.4)", c.jid)
			return
		}
	}
}

// drop closes the TCP connection without a stream close: a client that just vanished.
func (c *xclient) drop() { c.raw.conn.Close() }

// Predicates.

func isPresenceFrom(from, typ string) func(*elem) bool {
	return func(e *elem) bool {
		return e.Local == "presence" && e.attr("from") == from && e.attr("type") == typ
	}
}

func isMessageWithBody(body string) func(*elem) bool {
	return func(e *elem) bool {
		return e.Local == "message" && e.child("", "body") != nil && e.child("", "body").Text == body
	}
}

// isRosterPush matches a roster push (RFC 6121 §2.1.6) for contact.
func isRosterPush(contact string) func(*elem) bool {
	return func(e *elem) bool {
		it := e.path("jabber:iq:roster query", "item")
		return e.Local == "iq" && e.attr("type") == "set" && it != nil && it.attr("jid") == contact
	}
}

// xmlAttr escapes s for a single-quoted attribute.
func xmlAttr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&apos;")
}

// wantCondition fails unless reply is an error with condition cond ("" = a result).
func wantCondition(t testing.TB, rule string, reply *elem, cond string) {
	t.Helper()
	if cond == "" {
		if reply.attr("type") != "result" {
			t.Errorf("%s: got %s; want a result", rule, reply)
		}
		return
	}
	if got := reply.errorCondition(); got != cond {
		t.Errorf("%s: got %s; want error <%s/>", rule, reply, cond)
	}
}

// user returns the bare JID of localpart at srv's domain.
func (srv *target) user(local string) string { return local + "@" + srv.domain }

// rosterGet fetches the roster, which also makes this resource "interested" in roster pushes
// (RFC 6121 §2.1.6).
func (c *xclient) rosterGet() *elem {
	c.t.Helper()
	r := c.iq("get", "", "<query xmlns='jabber:iq:roster'/>")
	if r.attr("type") != "result" {
		c.t.Fatalf("roster get: %s", r)
	}
	return r
}

// befriend makes a and b (both available) subscribed to each other's presence through the
// protocol (RFC 6121 §3.1), waiting for the roster pushes that say it is done.
func befriend(t testing.TB, a, b *xclient) {
	t.Helper()
	a.rosterGet()
	b.rosterGet()
	for _, p := range [][2]*xclient{{a, b}, {b, a}} {
		from, to := p[0], p[1]
		from.send("<presence type='subscribe' to='" + to.bare + "'/>")
		to.wait("subscription request from "+from.bare, isPresenceFrom(from.bare, "subscribe"))
		to.send("<presence type='subscribed' to='" + from.bare + "'/>")
		from.wait("roster push: subscribed to "+to.bare, func(e *elem) bool {
			it := e.path("jabber:iq:roster query", "item")
			return isRosterPush(to.bare)(e) && (it.attr("subscription") == "to" || it.attr("subscription") == "both")
		})
	}
}

// forget runs the barrier then drops everything received so far, so a later none() or wait()
// sees only what follows.
func (c *xclient) forget() {
	c.t.Helper()
	c.sync()
	c.pending = nil
}
