// Package register implements In-Band Registration (XEP-0077): account
// creation before authentication (off by default, per domain, rate-limited
// per address, only over TLS), and for a logged-in user password change
// (§3.3) and account removal (§3.2).
package register

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/auth/sasl"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NS is jabber:iq:register.
const NS = "jabber:iq:register"

// Service is the registration feature.
type Service struct {
	users   storage.Users
	enabled func(domain string) bool
	perIP   *ratelimit.Window
	log     *slog.Logger
	r       *router.Router
	trusted ratelimit.Networks
	minPass int
}

// Module is in-band registration. Open says which domains take new
// accounts ([[domain]] registration); PerIP bounds registrations per
// address (limits.registrations_per_ip), Trusted networks exempt;
// MinPassword is limits.min_password_length (see CheckPassword).
type Module struct {
	Open        func(domain string) bool
	PerIP       *ratelimit.Window
	Trusted     ratelimit.Networks
	MinPassword int
}

// Name implements module.Module.
func (Module) Name() string { return "register" }

// Register implements module.Module: the pre-authentication handler and
// stream feature (c2s), password change and removal once logged in.
func (m Module) Register(h *module.Host) error {
	s := &Service{users: h.Store.Users(), enabled: m.Open, perIP: m.PerIP, log: h.Log, r: h.Router, trusted: m.Trusted, minPass: m.MinPassword}
	if s.enabled == nil {
		s.enabled = func(string) bool { return false }
	}
	h.HandleIQ(router.Self, "get", NS, func(iq *router.IQ) (*xml.Element, error) {
		q := xml.New(NS, "query").Append(xml.New(NS, "registered"),
			xml.New(NS, "username").SetText(iq.From.Local()), xml.New(NS, "password"))
		return q, nil
	})
	h.HandleIQ(router.Self, "set", NS, s.setAuthenticated)
	h.HandlePreAuthIQ(s.PreAuth)
	h.AddPreAuthFeatures(s.Features)
	return nil
}

// Features returns the stream feature when registration is open.
func (s *Service) Features(domain string) []*xml.Element {
	if !s.enabled(domain) {
		return nil
	}
	return []*xml.Element{xml.New(stream.NSRegisterFeat, "register")}
}

func reply(iq *xml.Element, payload *xml.Element, e *stanza.Error) *xml.Element {
	if e != nil {
		return stanza.ErrorReply(iq, e)
	}
	return stanza.Result(iq, payload)
}

// PreAuth answers an iq before authentication. Only jabber:iq:register is
// served; anything else gets nil (the stream is then closed).
func (s *Service) PreAuth(ctx context.Context, domain, ip string, tls bool, iq *xml.Element) *xml.Element {
	p := iq.FirstElement()
	if p == nil || p.Space != NS {
		return nil
	}
	iq.SetAttr("from", "")
	iq.SetAttr("to", "")
	if !s.enabled(domain) {
		return reply(iq, nil, stanza.ErrServiceUnavailable.WithText("in-band registration is disabled on this server"))
	}
	if !tls {
		return reply(iq, nil, stanza.ErrNotAuthorized.WithText("register over TLS"))
	}
	switch iq.Attr("type") {
	case "get":
		q := xml.New(NS, "query").Append(
			xml.New(NS, "instructions").SetText("Choose a username and password."),
			xml.New(NS, "username"), xml.New(NS, "password"))
		return reply(iq, q, nil)
	case "set":
	default:
		return reply(iq, nil, stanza.ErrBadRequest)
	}
	if p.Child(NS, "remove") != nil {
		return reply(iq, nil, stanza.ErrNotAuthorized.WithText("log in to remove your account"))
	}
	username, password := p.ChildText(NS, "username"), p.ChildText(NS, "password")
	if username == "" || password == "" {
		return reply(iq, nil, stanza.ErrNotAcceptable.WithText("username and password are required"))
	}
	j, err := jid.New(username, domain, "")
	if err != nil {
		return reply(iq, nil, stanza.ErrJIDMalformed.WithText("that username is not allowed"))
	}
	// §3.1 answers a form the server will not take with not-acceptable.
	if err := CheckPassword(password, s.minPass); err != nil {
		return reply(iq, nil, stanza.ErrNotAcceptable.WithText(err.Error()))
	}
	// Checked after the form: a refused form costs the address none of its registrations.
	if !s.trusted.Contains(ip) && !s.perIP.Add(ip) {
		s.log.Warn("registration refused: too many from this address", "ip", ip, "domain", domain)
		return reply(iq, nil, stanza.ErrResourceConstraint.WithText("too many registrations from your address; try later"))
	}
	u, err := sasl.NewUser(domain, j.Local(), password)
	if err != nil {
		return reply(iq, nil, stanza.ErrNotAcceptable.WithText(err.Error()))
	}
	switch err := s.users.CreateUser(ctx, u); {
	case errors.Is(err, storage.ErrConflict):
		return reply(iq, nil, stanza.ErrConflict.WithText("that username is taken"))
	case err != nil:
		s.log.Error("registration failed: storage", "domain", domain, "err", err)
		return reply(iq, nil, stanza.ErrInternalServerError)
	}
	s.log.Info("account registered in-band", "jid", j.String(), "ip", ip)
	return reply(iq, nil, nil)
}

// setAuthenticated changes the password or removes the account.
func (s *Service) setAuthenticated(iq *router.IQ) (*xml.Element, error) {
	p := iq.Payload()
	owner := iq.From.Bare()
	if p.Child(NS, "remove") != nil {
		if err := s.r.RemoveAccount(iq.Ctx, owner); err != nil {
			return nil, err
		}
		// §3.2: the result, then the streams end. The result is queued here,
		// before the stream end: returned, it would race the close and could
		// be lost (the router's own copy is dropped by the closing session).
		if iq.Origin != nil {
			s.r.DeliverTo(iq.Origin, stanza.Result(iq.El, nil))
		}
		s.log.Info("account removed in-band", "jid", owner.String())
		s.closeSessions(owner, "account removed")
		s.r.Deleted(owner)
		return nil, nil
	}
	username, password := p.ChildText(NS, "username"), p.ChildText(NS, "password")
	if password == "" {
		return nil, stanza.ErrBadRequest.WithText("password required")
	}
	if username != "" {
		j, err := jid.New(username, owner.Domain(), "")
		if err != nil || !j.Equal(owner) {
			return nil, stanza.ErrNotAllowed.WithText("you can change only your own password")
		}
	}
	// §3.3's table has no condition for a password the server refuses;
	// not-acceptable (RFC 6120 §8.3.3.9: does not meet the server's
	// criteria) is §3.1's, and what clients show.
	if err := CheckPassword(password, s.minPass); err != nil {
		return nil, stanza.ErrNotAcceptable.WithText(err.Error())
	}
	u, err := sasl.NewUser(owner.Domain(), owner.Local(), password)
	if err != nil {
		return nil, stanza.ErrNotAcceptable.WithText(err.Error())
	}
	if err := s.users.SetCredentials(iq.Ctx, u); err != nil {
		return nil, err
	}
	s.log.Info("password changed in-band", "jid", owner.String())
	return nil, nil
}

func (s *Service) closeSessions(owner jid.JID, why string) int {
	res := s.r.Resources(owner)
	for _, r := range res {
		r.Session.Close(stream.NewError("not-authorized", why))
	}
	return len(res)
}
