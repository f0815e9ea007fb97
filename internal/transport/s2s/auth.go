package s2s

import (
	"context"
	"encoding/base64"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// outFeatures moves an outbound stream on: STARTTLS first, then SASL
// EXTERNAL when the peer's certificate verifies and it is offered, else
// dialback where policy allows; features after SASL mean we are in.
func (c *conn) outFeatures(el *xml.Element) error {
	s := c.svc
	p := pair{c.local, c.remote}
	if !c.tlsReady() {
		if el.Child(stream.NSTLS, "starttls") == nil {
			return fmt.Errorf("%s does not offer STARTTLS, and tern requires TLS on every s2s stream", c.remote)
		}
		return c.emitEl(xml.New(stream.NSTLS, "starttls"))
	}
	if c.saslDone {
		// saslAnswer takes <success/> only to the EXTERNAL we sent, which
		// we send only when the certificate verifies.
		if c.certErr != nil {
			return fmt.Errorf("SASL with %s succeeded although its certificate does not verify (%v)", c.remote, c.certErr)
		}
		c.authorize(p, true)
		if s.isDirect(c.local) {
			c.directTrack(p)
		}
		return nil
	}
	if c.state != 0 {
		return nil // features twice: ignore
	}
	c.state = 1
	if s.isDirect(c.local) {
		// TIM+ §6.1: SASL EXTERNAL with our Direct certificate, which the
		// peer checked in the handshake; never dialback, never bidi.
		if !offers(el, "EXTERNAL") {
			s.directRefused("no-external")
			return fmt.Errorf("%s does not offer SASL EXTERNAL to the Direct domain %s, which authenticates by certificate only (no dialback)", c.remote, c.local)
		}
		c.saslSent = true
		c.send(xml.New(stream.NSSASL, "auth", "mechanism", "EXTERNAL").SetText("="))
		return nil
	}
	s.tlsUp(p, c)
	// XEP-0288: a bidirectional stream carries the peer's stanzas too,
	// which only its verified certificate entitles it to; with dialback
	// only, the peer opens its own stream and dialbacks to us.
	if el.Child(NSBidiFeature, "bidi") != nil && c.certErr == nil {
		c.mu.Lock()
		c.bidi = true
		c.mu.Unlock()
		c.send(xml.New(NSBidi, "bidi"))
	}
	if c.certErr == nil && offers(el, "EXTERNAL") {
		// XEP-0178 §3: no authorization identity; the stream 'from' says it.
		c.saslSent = true
		c.send(xml.New(stream.NSSASL, "auth", "mechanism", "EXTERNAL").SetText("="))
		return nil
	}
	return c.startDialback()
}

// startDialback asks to send as c.local, if our trust in the peer allows:
// a verified certificate, or a policy that accepts dialback for it.
func (c *conn) startDialback() error {
	s := c.svc
	if s.isDirect(c.local) {
		return fmt.Errorf("%s is a Direct domain: it never uses dialback with %s", c.local, c.remote)
	}
	if c.certErr != nil && !s.dialbackAllowed(c.remote) {
		return fmt.Errorf("the certificate of %s does not verify (%v) and policy requires valid certificates (s2s.require_valid_certs; list the domain in s2s.insecure_domains to allow dialback)", c.remote, c.certErr)
	}
	// With a verified peer, dialback only authenticates us to it: fine
	// whatever our policy for unverified peers.
	p := pair{c.local, c.remote}
	c.askPair(p, func(err error) {
		if err == nil {
			c.markReady(nil)
		} else {
			c.markReady(err)
		}
	})
	return nil
}

// askPair sends <db:result/> for p (XEP-0220 §2.1) and calls done with its answer.
func (c *conn) askPair(p pair, done func(error)) {
	c.mu.Lock()
	c.asked[p] = done
	id := c.id
	c.mu.Unlock()
	c.send(xml.New(NSDialback, "result", "from", p.local, "to", p.remote).SetText(Key(c.svc.cfg.Secret, p.remote, p.local, id)))
}

// requestPair authenticates another pair on an established outbound stream.
func (c *conn) requestPair(ctx context.Context, p pair) error {
	if c.canSend(p) {
		return nil
	}
	ch := make(chan error, 1)
	c.askPair(p, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.asked, p)
		c.mu.Unlock()
		return ctx.Err()
	}
}

func offers(features *xml.Element, mech string) bool {
	if m := features.Child(stream.NSSASL, "mechanisms"); m != nil {
		for _, e := range m.Elements() {
			if e.Name == "mechanism" && e.Text() == mech {
				return true
			}
		}
	}
	return false
}

// authorize records that p is authenticated on c: outbound, we may send on
// it; inbound, the peer may. Bidirectional streams carry both.
func (c *conn) authorize(p pair, out bool) {
	c.mu.Lock()
	bidi := c.bidi
	if out || bidi {
		c.sendOK[p] = true
	}
	// Outbound, the peer's stanzas need its certificate verified
	// (certErr is the reading goroutine's, which authorizes outbound).
	if !out || bidi && c.certErr == nil {
		c.recvOK[p] = true
	}
	c.mu.Unlock()
	c.rd.setDeadline(time.Time{})
	c.svc.setState(c, "established")
	if !out && bidi {
		c.svc.offer(p, c)
	}
	if out {
		c.markReady(nil)
	}
}

// saslAnswer handles the peer's answer to our EXTERNAL attempt.
func (c *conn) saslAnswer(el *xml.Element) error {
	if !c.saslSent {
		return stream.NewError("policy-violation", "a SASL answer to nothing we sent")
	}
	if el.Name == "success" || el.Name == "failure" {
		c.saslSent = false
	}
	switch el.Name {
	case "success":
		c.saslDone = true
		c.dec.Reset(c.rd)
		c.needHeader = true
		return c.emitHeader("")
	case "failure":
		if c.svc.isDirect(c.local) {
			why := "undefined-condition"
			if e := el.Elements(); len(e) > 0 {
				why = e[0].Name
			}
			if t := el.Child(stream.NSSASL, "text"); t != nil {
				why += ": " + t.Text()
			}
			c.svc.directRefused("external-refused")
			return fmt.Errorf("%s refused SASL EXTERNAL for the Direct domain %s (%s): it does not trust our certificate", c.remote, c.local, why)
		}
		// XEP-0178 §3: fall back to dialback where allowed.
		return c.startDialback()
	}
	return stream.NewError("unsupported-stanza-type", "unexpected SASL element <"+el.Name+">")
}

func saslFailure(cond, text string) *xml.Element {
	f := xml.New(stream.NSSASL, "failure").Append(xml.New(stream.NSSASL, cond))
	if text != "" {
		f.Append(xml.New(stream.NSSASL, "text").SetText(text))
	}
	return f
}

// saslExternal authenticates the peer by its certificate (XEP-0178).
func (c *conn) saslExternal(el *xml.Element) error {
	if el.Name != "auth" {
		return stream.NewError("unsupported-stanza-type", "unexpected SASL element <"+el.Name+">")
	}
	if c.saslDone || c.authenticated() {
		return stream.NewError("policy-violation", "already authenticated")
	}
	if el.Attr("mechanism") != "EXTERNAL" {
		c.send(saslFailure("invalid-mechanism", "only EXTERNAL is offered to servers"))
		return nil
	}
	authz := ""
	if t := el.Text(); t != "" && t != "=" {
		b, err := base64.StdEncoding.DecodeString(t)
		if err != nil {
			c.send(saslFailure("incorrect-encoding", ""))
			return nil
		}
		authz = string(b)
	}
	c.mu.Lock()
	remote := c.remote
	c.mu.Unlock()
	if remote == "" {
		remote = domainOf(authz)
	}
	if remote == "" || authz != "" && domainOf(authz) != remote {
		c.send(saslFailure("invalid-authzid", "the authorization identity must be the stream's 'from' domain"))
		return nil
	}
	direct := c.svc.isDirect(c.local)
	if direct {
		// TIM+ §4.3: the chain must validate for the local domain's
		// circles; a refusal ends the stream (RFC 6120 §6.4.5, §4.9.3.12).
		if err := c.directVerify(c.local, remote); err != nil {
			c.send(saslFailure("not-authorized", err.Error()))
			return stream.NewError("not-authorized", err.Error())
		}
	} else if err := c.certFor(remote); err != nil {
		c.send(saslFailure("not-authorized", err.Error()))
		return nil
	}
	c.mu.Lock()
	c.remote = remote
	c.mu.Unlock()
	c.send(xml.New(stream.NSSASL, "success"))
	c.saslDone = true
	c.authorize(pair{c.local, remote}, false)
	if direct {
		c.directTrack(pair{c.local, remote})
	}
	c.dec.Reset(c.rd)
	c.needHeader = true
	return nil
}

// dialbackRequest handles <db:result/> from an originating server
// (XEP-0220 §2.1.2): answer at once when its certificate covers the
// domain (XEP-0344 §2.4), else ask the authoritative server (§2.3).
func (c *conn) dialbackRequest(el *xml.Element) error {
	s := c.svc
	if c.out {
		return c.dialbackError(el, stanza.ErrFeatureNotImplemented.WithText("open a stream to authenticate"))
	}
	from, to := el.Attr("from"), el.Attr("to")
	if from == "" || to == "" {
		return stream.NewError("improper-addressing", "<db:result/> needs 'from' and 'to'")
	}
	if !s.r.Serves(to) {
		return stream.NewError("host-unknown", "this server does not serve "+to)
	}
	if s.isDirect(to) || s.isDirect(c.local) {
		// TIM+ §6.1: Direct domains authenticate servers by certificate
		// only; dialback, piggybacked or not, is refused.
		s.directRefused("dialback")
		s.log.Warn("direct: dialback refused", "local", to, "remote", from, "stream_local", c.local)
		return c.dialbackError(el, stanza.ErrNotAuthorized.WithText(to+" is a Direct domain: authenticate with a certificate its trust circles accept and SASL EXTERNAL; dialback is not used"))
	}
	if domainOf(from) != from {
		return stream.NewError("invalid-from", "'from' is not a domain")
	}
	p := pair{local: to, remote: from}
	if c.certFor(from) == nil {
		c.authorize(p, false)
		c.send(xml.New(NSDialback, "result", "from", to, "to", from, "type", "valid"))
		return nil
	}
	if !s.dialbackAllowed(from) {
		return c.dialbackError(el, stanza.ErrNotAuthorized.WithText("this server requires a valid certificate for "+from))
	}
	c.mu.Lock()
	if c.checks >= maxPendingChecks {
		c.mu.Unlock()
		return c.dialbackError(el, stanza.ErrResourceConstraint.WithText("too many dialback requests under way on this stream"))
	}
	c.checks++
	id := c.id
	c.mu.Unlock()
	key := el.Text()
	go func() {
		defer func() {
			c.mu.Lock()
			c.checks--
			c.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ConnectTimeout)
		defer cancel()
		ok, verr := s.verify(ctx, p, id, key)
		if c.isClosing() {
			return
		}
		if verr != nil {
			c.sendDialbackError(el, verr)
			if se := c.refuse(); se != nil {
				c.close(se)
			}
			return
		}
		if !ok {
			s.log.Warn("dialback key did not verify: someone may be claiming a domain that is not theirs", "remote", from, "local", to)
			c.send(xml.New(NSDialback, "result", "from", to, "to", from, "type", "invalid"))
			if !c.authenticated() {
				c.close(stream.NewError("not-authorized", "the dialback key for "+from+" did not verify"))
			} else if se := c.refuse(); se != nil {
				c.close(se)
			}
			return
		}
		c.authorize(p, false)
		c.send(xml.New(NSDialback, "result", "from", to, "to", from, "type", "valid"))
	}()
	return nil
}

// dialbackError answers a dialback request with type='error' (XEP-0220
// §2.4); it returns the stream error that ends a stream refused too often.
func (c *conn) dialbackError(el *xml.Element, e *stanza.Error) error {
	c.sendDialbackError(el, e)
	if se := c.refuse(); se != nil {
		return se
	}
	return nil
}

func (c *conn) sendDialbackError(el *xml.Element, e *stanza.Error) {
	r := xml.New(NSDialback, el.Name, "from", el.Attr("to"), "to", el.Attr("from"), "type", "error")
	if id := el.Attr("id"); id != "" {
		r.SetAttr("id", id)
	}
	er := e.Element()
	er.Space = xml.NSServer
	c.send(r.Append(er))
}

// refuse counts a refused dialback request; past maxRefused on one
// stream, the peer is looping and the stream ends.
func (c *conn) refuse() *stream.Error {
	if c.refused.Add(1) >= maxRefused {
		return stream.NewError("policy-violation", "too many refused dialback requests on this stream")
	}
	return nil
}

// dialbackAnswer handles the answer to a <db:result/> we sent. One we did
// not ask for is an attack (CVE-2012-3525): the stream ends.
func (c *conn) dialbackAnswer(el *xml.Element) error {
	p := pair{local: el.Attr("to"), remote: el.Attr("from")}
	c.mu.Lock()
	done, ok := c.asked[p]
	delete(c.asked, p)
	c.mu.Unlock()
	if !ok {
		return stream.NewError("invalid-id", "a dialback result we did not ask for")
	}
	switch el.Attr("type") {
	case "valid":
		c.authorize(p, true)
		done(nil)
	case "error":
		e := stanza.ParseError(el)
		cond := "undefined-condition"
		if e != nil && e.Condition != "" {
			cond = e.Condition
		}
		done(fmt.Errorf("%s refused dialback for %s: %s", p.remote, p.local, cond))
	default:
		done(fmt.Errorf("%s did not accept our dialback key for %s", p.remote, p.local))
	}
	return nil
}

// verifyRequest answers <db:verify/> as the authoritative server (§2.3.2).
func (c *conn) verifyRequest(el *xml.Element) error {
	s := c.svc
	recv, orig, id := el.Attr("from"), el.Attr("to"), el.Attr("id")
	if recv == "" || orig == "" || id == "" {
		return stream.NewError("improper-addressing", "<db:verify/> needs 'from', 'to' and 'id'")
	}
	typ := "invalid"
	if s.r.Serves(orig) && !s.isDirect(orig) && keyValid(s.cfg.Secret, recv, orig, id, el.Text()) {
		typ = "valid"
	}
	c.send(xml.New(NSDialback, "verify", "from", orig, "to", recv, "id", id, "type", typ))
	return nil
}

// stanza checks a stanza from the peer (RFC 6120 §8.1.1.2, §4.9.3) and routes it.
func (c *conn) stanza(el *xml.Element) (err error) {
	defer func() {
		// A bug a stanza hits ends this stream, not the server.
		if p := recover(); p != nil {
			c.svc.log.Error("a stanza from a peer made the server fail: the stream is closed, the server goes on; please report it", "stanza", el.Name, "panic", p, "stack", string(debug.Stack()))
			err = stream.NewError("internal-server-error", "the server failed on this stanza")
		}
	}()
	s := c.svc
	c.mu.Lock()
	n := len(c.recvOK)
	c.mu.Unlock()
	if n == 0 {
		return stream.NewError("not-authorized", "authenticate before sending stanzas")
	}
	from, to := el.Attr("from"), el.Attr("to")
	if from == "" || to == "" {
		return stream.NewError("improper-addressing", "stanzas between servers need 'from' and 'to'")
	}
	tj, err := jid.Parse(to)
	if err != nil {
		return stream.NewError("improper-addressing", "malformed 'to'")
	}
	fj, err := jid.Parse(from)
	if err != nil {
		return stream.NewError("invalid-from", "malformed 'from'")
	}
	if !s.r.Serves(tj.Domain()) {
		return stream.NewError("host-unknown", "this server does not serve "+tj.Domain())
	}
	c.mu.Lock()
	ok := c.recvOK[pair{tj.Domain(), fj.Domain()}]
	c.mu.Unlock()
	if !ok {
		return stream.NewError("invalid-from", fj.Domain()+" is not authenticated for "+tj.Domain()+" on this stream")
	}
	if m := s.cfg.Metrics.Stanza; m != nil {
		m("in", fj.Domain())
	}
	st, _ := router.NewStanza(el)
	if !stanza.ValidType(st.Kind, st.Type) {
		s.r.ReplyError(s.ctx, st, stanza.ErrBadRequest.WithText("unknown type '"+st.Type+"' for <"+st.Kind+">"))
		return nil
	}
	if st.Kind == stanza.IQ && st.ID == "" {
		s.r.ReplyError(s.ctx, st, stanza.ErrBadRequest.WithText("an iq needs an id"))
		return nil
	}
	// Hooks may hold it (an inbound trust check): the read loop goes on.
	s.r.FromRemote(s.ctx, &c.lanes, st)
	return nil
}

// sendStanza writes st if p is authenticated on c.
func (c *conn) sendStanza(p pair, st *router.Stanza) bool {
	if !c.canSend(p) || !c.send(st.El) {
		return false
	}
	if m := c.svc.cfg.Metrics.Stanza; m != nil {
		m("out", p.remote)
	}
	return true
}
