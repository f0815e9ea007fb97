package c2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/sasl"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// negotiate runs one stream (header, features, elements) until a restart
// (STARTTLS, SASL success: restart=true) or a bound resource (false).
func (s *Session) negotiate(ctx context.Context) (restart bool, err error) {
	if err := s.openStream(); err != nil {
		return false, err
	}
	s.writeNow(s.features())
	for {
		el, err := s.readElement()
		if err != nil {
			return false, err
		}
		switch {
		case el.Space == stream.NSTLS && el.Name == "starttls":
			if s.tls != nil {
				return false, stream.NewError("policy-violation", "TLS is already in place")
			}
			return true, s.startTLS(ctx)
		case s.tls == nil && s.srv.cfg.RequireStartTLS && el.Space == stream.NSSASL && el.Name == "auth":
			s.writeNow(saslFailure("encryption-required", "use STARTTLS first"))
			continue
		case s.tls == nil && s.srv.cfg.RequireStartTLS && !(el.Space == xml.NSClient && el.Name == "iq" && s.srv.cfg.PreAuthIQ != nil):
			return false, stream.NewError("policy-violation", "STARTTLS is required on this server")
		case s.user == "" && el.Space == stream.NSSASL && el.Name == "auth":
			ok, err := s.authenticate(ctx, el)
			if err != nil {
				return false, err
			}
			if ok {
				s.dec.Reset(s.rd)
				return true, nil
			}
		case s.user == "" && el.Space == xml.NSClient && el.Name == "iq" && s.srv.cfg.PreAuthIQ != nil:
			if s.tls == nil && s.srv.cfg.RequireStartTLS {
				return false, stream.NewError("policy-violation", "STARTTLS is required on this server")
			}
			if reply := s.srv.cfg.PreAuthIQ(ctx, s.domain, s.ip, s.tls != nil, el); reply != nil {
				s.writeNow(reply)
				continue
			}
			return false, stream.NewError("not-authorized", "authenticate first")
		case s.user == "":
			return false, stream.NewError("not-authorized", "authenticate first")
		case el.Space == stream.NSSM && el.Name == "resume":
			if err := s.resume(el); err != nil {
				return false, err // errAdopted: a resumed session took the connection
			}
		case el.Space == stream.NSSM && el.Name == "enable":
			// XEP-0198 §3: enable only after binding.
			s.writeNow(smFailed("unexpected-request"))
		case el.Space == xml.NSClient && el.Name == "iq":
			done, err := s.bindOrSession(ctx, el)
			if err != nil || done {
				return false, err
			}
		default:
			return false, stream.NewError("not-authorized", "bind a resource first")
		}
	}
}

// features lists what this stage of the stream offers (RFC 6120 §4.3.2).
func (s *Session) features() *xml.Element {
	f := xml.New(xml.NSStream, "features")
	switch {
	case s.tls == nil && s.srv.cfg.TLS != nil:
		st := xml.New(stream.NSTLS, "starttls")
		if s.srv.cfg.RequireStartTLS {
			st.Append(xml.New(stream.NSTLS, "required"))
		}
		f.Append(st)
		if s.srv.cfg.RequireStartTLS {
			if s.srv.cfg.PreAuthFeatures != nil {
				for _, e := range s.srv.cfg.PreAuthFeatures(s.domain) {
					f.Append(e)
				}
			}
			return f
		}
		fallthrough
	case s.user == "":
		mechs := xml.New(stream.NSSASL, "mechanisms")
		for _, m := range sasl.Mechanisms(s.tls, s.srv.cfg.AllowPlain, s.served) {
			mechs.Append(xml.New(stream.NSSASL, "mechanism").SetText(m))
		}
		f.Append(mechs)
		if s.tls != nil {
			if types := sasl.ChannelBindingTypes(*s.tls, s.served); len(types) > 0 {
				cb := xml.New(stream.NSSASLCB, "sasl-channel-binding")
				for _, t := range types {
					cb.Append(xml.New(stream.NSSASLCB, "channel-binding", "type", t))
				}
				f.Append(cb)
			}
		}
		if s.srv.cfg.PreAuthFeatures != nil {
			for _, e := range s.srv.cfg.PreAuthFeatures(s.domain) {
				f.Append(e)
			}
		}
	default:
		f.Append(xml.New(stream.NSBind, "bind"))
		f.Append(xml.New(stream.NSSession, "session").Append(xml.New(stream.NSSession, "optional")))
		f.Append(xml.New(stream.NSRosterVer, "ver"))
		f.Append(xml.New(stream.NSPreApproval, "sub"))
		f.Append(xml.New(stream.NSSM, "sm"))
		for _, e := range s.srv.router.StreamFeatures() {
			f.Append(e)
		}
		lim := xml.New(stream.NSLimits, "limits")
		lim.Append(xml.New(stream.NSLimits, "max-bytes").SetText(strconv.Itoa(s.srv.cfg.Limits.MaxStanzaBytes)))
		if s.srv.cfg.PingInterval > 0 {
			lim.Append(xml.New(stream.NSLimits, "idle-seconds").SetText(strconv.Itoa(int((s.srv.cfg.PingInterval + s.srv.cfg.PingTimeout) / time.Second))))
		}
		f.Append(lim)
	}
	return f
}

func (s *Session) startTLS(ctx context.Context) error {
	if s.srv.cfg.TLS == nil {
		s.writeNow(xml.New(stream.NSTLS, "failure"))
		return stream.NewError("undefined-condition", "TLS is not configured")
	}
	if s.dec.BufferedAfterSpace() > 0 {
		// Data after <starttls/> would be read as if it came over TLS
		// (RFC 6120 §5.4.3.3); whitespace is dropped, not refused.
		return stream.NewError("policy-violation", "data sent after <starttls/> before the TLS handshake")
	}
	s.writeNow(xml.New(stream.NSTLS, "proceed"))
	tc := tls.Server(s.raw, certs.ForDomain(s.srv.cfg.TLS, s.domain))
	_ = tc.SetDeadline(time.Now().Add(s.srv.cfg.AuthTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		s.srv.log.Debug("TLS handshake failed", append(s.log(), "err", err)...)
		return err
	}
	_ = tc.SetDeadline(time.Time{})
	cs := tc.ConnectionState()
	s.out.Lock()
	s.conn, s.tls = tc, &cs
	s.served = s.srv.servedCert(cs.ServerName)
	s.out.SetConnLocked(tc, s.raw)
	s.out.Unlock()
	s.rd.Conn, s.rd.R = tc, tc
	s.dec.Reset(s.rd)
	return nil
}

func saslFailure(cond, text string) *xml.Element {
	f := xml.New(stream.NSSASL, "failure").Append(xml.New(stream.NSSASL, cond))
	if text != "" {
		f.Append(xml.New(stream.NSSASL, "text").SetText(text))
	}
	return f
}

// authenticate runs one SASL exchange (RFC 6120 §6.4). ok reports success.
func (s *Session) authenticate(ctx context.Context, auth *xml.Element) (ok bool, err error) {
	mech := auth.Attr("mechanism")
	limit := s.srv.cfg.AuthFailures
	trusted := s.srv.cfg.Trusted.Contains(s.ip)
	if !trusted && !limit.Allowed("ip:"+s.ip) {
		s.srv.log.Warn("authentication refused: too many failures from this address", append(s.log(), "mechanism", mech)...)
		time.Sleep(time.Second) // slow the prober down
		s.writeNow(saslFailure("temporary-auth-failure", "too many failed attempts; try again later"))
		return false, nil
	}
	users := s.srv.cfg.Users
	domain := s.domain
	var plus bool
	for _, m := range sasl.Mechanisms(s.tls, s.srv.cfg.AllowPlain, s.served) {
		if strings.HasSuffix(m, "-PLUS") {
			plus = true
		}
	}
	sess, err := sasl.NewSession(mech, sasl.Config{
		Domain: domain, TLS: s.tls, PlusOffered: plus, Certificate: s.served, Secret: s.srv.cfg.Secret, AllowPlain: s.srv.cfg.AllowPlain,
		Lookup: func(ctx context.Context, username string) (storage.User, error) {
			return users.GetUser(ctx, domain, username)
		},
	})
	if err != nil {
		s.writeNow(saslFailure("invalid-mechanism", "unknown mechanism '"+mech+"'"))
		return false, nil
	}
	in, derr := decodeSASL(auth.Text(), true)
	for {
		var out []byte
		var done bool
		var ferr error
		if derr != nil {
			ferr = &sasl.Failure{Condition: "incorrect-encoding", Text: "bad base64"}
		} else {
			out, done, ferr = sess.Step(ctx, in)
		}
		if u := sess.Attempted(); u != "" && !limit.Allowed("user:"+u+"@"+domain) {
			// The account is under attack: refuse it the same way whether
			// this guess was right or wrong, so the answer is no oracle.
			s.srv.log.Warn("authentication refused: too many recent failures for this account", "ip", s.ip, "user", u, "domain", domain, "mechanism", mech)
			s.writeNow(saslFailure("temporary-auth-failure", "too many failed attempts for this account; try again later"))
			return false, nil
		}
		if ferr != nil {
			return false, s.authFailed(mech, sess.Attempted(), ferr)
		}
		if done {
			return true, s.authSucceeded(mech, sess.Username(), out)
		}
		s.writeNow(xml.New(stream.NSSASL, "challenge").SetText(encodeSASL(out)))
		el, err := s.readElement()
		if err != nil {
			return false, err
		}
		switch {
		case el.Space == stream.NSSASL && el.Name == "response":
			in, derr = decodeSASL(el.Text(), false)
		case el.Space == stream.NSSASL && el.Name == "abort":
			s.writeNow(saslFailure("aborted", ""))
			return false, nil
		default:
			return false, stream.NewError("not-authorized", "expected <response/> or <abort/>")
		}
	}
}

func (s *Session) authFailed(mech, user string, ferr error) error {
	var f *sasl.Failure
	if !errors.As(ferr, &f) {
		f = &sasl.Failure{Condition: "temporary-auth-failure"}
		s.srv.log.Error("authentication error", append(s.log(), "err", ferr)...)
	}
	if m := s.srv.cfg.Metrics.AuthFailure; m != nil {
		m(mech)
	}
	if f.Negotiation {
		// Not a credential guess (a channel-binding type this connection
		// lacks, or the 'y' downgrade flag): no password was checked, and
		// legacy clients (slixmpp 1.8: tls-unique only) do this on every
		// login before the mechanism that works, so it is not counted
		// towards a ban, and its log line differs from a failed login's
		// (fail2ban filters match "authentication failed").
		s.srv.log.Warn("SASL negotiation refused (no password checked; not counted towards limits.auth_failures_per_ip)",
			"ip", s.ip, "domain", s.domain, "user", user, "mechanism", mech, "condition", f.Condition, "reason", f.Text)
		s.writeNow(saslFailure(f.Condition, f.Text))
		if s.negTries++; s.negTries >= maxNegotiationTries {
			return stream.NewError("policy-violation", "too many refused SASL negotiations")
		}
		return nil
	}
	if f.Condition != "temporary-auth-failure" {
		if !s.srv.cfg.Trusted.Contains(s.ip) {
			s.srv.cfg.AuthFailures.Add("ip:" + s.ip)
		}
		// An authzid refusal comes before the password is checked: it
		// counts against the address that probes, not the account.
		if user != "" && f.Condition != sasl.InvalidAuthzid {
			s.srv.cfg.AuthFailures.Add("user:" + user + "@" + s.domain)
		}
	}
	// One stable line per failure, with the address, for fail2ban.
	s.srv.log.Warn("authentication failed", "ip", s.ip, "domain", s.domain, "user", user, "mechanism", mech, "condition", f.Condition)
	s.writeNow(saslFailure(f.Condition, f.Text))
	s.authTries++
	if s.authTries >= maxAuthTries {
		return stream.NewError("policy-violation", "too many failed authentication attempts")
	}
	return nil
}

func (s *Session) authSucceeded(mech, user string, out []byte) error {
	succ := xml.New(stream.NSSASL, "success")
	if len(out) > 0 {
		succ.SetText(base64.StdEncoding.EncodeToString(out))
	}
	s.writeNow(succ)
	s.user = user
	if m := s.srv.cfg.Metrics.AuthSuccess; m != nil {
		m(mech)
	}
	s.srv.log.Debug("authenticated", append(s.log(), "user", user, "mechanism", mech)...)
	return nil
}

// decodeSASL decodes a SASL payload: "=" is an empty response; in <auth>,
// no text means no initial response (nil).
func decodeSASL(text string, initial bool) ([]byte, error) {
	switch text {
	case "":
		if initial {
			return nil, nil
		}
		return []byte{}, nil
	case "=":
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(text)
}

func encodeSASL(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// bindOrSession handles iq during binding; done reports a bound resource.
func (s *Session) bindOrSession(ctx context.Context, el *xml.Element) (done bool, err error) {
	id := el.Attr("id")
	reply := func(payload *xml.Element, e *stanza.Error) {
		var r *xml.Element
		if e != nil {
			r = stanza.ErrorReply(el, e)
		} else {
			r = stanza.Result(el, payload)
		}
		if r != nil {
			s.writeNow(r)
		}
	}
	p := el.FirstElement()
	switch {
	case el.Attr("type") == "set" && p != nil && p.Space == stream.NSBind && p.Name == "bind" && id != "":
		resource := p.ChildText(stream.NSBind, "resource")
		if resource == "" {
			resource = "tern-" + newID()[:12]
		}
		j, err := jid.New(s.user, s.domain, resource)
		if err != nil {
			reply(nil, stanza.ErrBadRequest.WithText("the resource is not a valid resourcepart"))
			return false, nil
		}
		// §7.6.2.1: a limit on simultaneous resources (a replaced resource
		// does not add one).
		if max := s.srv.cfg.ResourcesPerUser; max > 0 && s.srv.router.Resource(j) == nil && len(s.srv.router.Resources(j.Bare())) >= max {
			s.srv.log.Warn("bind refused: the account has too many sessions (limits.resources_per_user)", append(s.log(), "user", s.user)...)
			reply(nil, stanza.ErrResourceConstraint.WithText("too many sessions for this account; close one"))
			return false, nil
		}
		s.jid = j
		s.res = &router.Resource{JID: j, Session: s}
		s.dec.SetLimits(s.srv.cfg.Limits)
		s.rd.Deadline = time.Time{}
		if s.srv.cfg.PingInterval > 0 {
			s.rd.Idle, s.rd.Grace, s.rd.OnIdle = s.srv.cfg.PingInterval, s.srv.cfg.PingTimeout, s.ping
		}
		// The result goes out first and only once the resource is bound:
		// queued unflushed, then bound (whatever others send for us now
		// queues behind it), then flushed. Written before the binding, a
		// client could reconnect with the same resource and have this late
		// binding replace its new session.
		b := xml.New(stream.NSBind, "bind").Append(xml.New(stream.NSBind, "jid").SetText(j.String()))
		s.out.AppendUnflushed(stanza.Result(el, b), xml.NSClient)
		s.srv.router.Bind(ctx, s.res)
		s.out.Flush()
		return true, nil
	case p != nil && p.Space == stream.NSSession:
		reply(nil, nil)
		return false, nil
	default:
		reply(nil, stanza.ErrNotAllowed.WithText("bind a resource first"))
		return false, nil
	}
}
