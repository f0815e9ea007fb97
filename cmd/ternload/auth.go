package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/xdg-go/scram"
)

// authCache keeps one scram.Client per (mechanism, user). A scram.Client
// caches the PBKDF2 result per (salt, iterations), so repeated logins of
// the same user cost the client one HMAC chain, not a key derivation:
// the server's side is what is being measured.
type authCache struct {
	want string // "auto" or a mechanism name

	mu      sync.Mutex
	clients map[string]*scram.Client
}

func newAuthCache(want string) *authCache {
	return &authCache{want: strings.ToUpper(want), clients: make(map[string]*scram.Client)}
}

// pickMech chooses the mechanism: the forced one if offered, otherwise
// SCRAM-SHA-256, then SCRAM-SHA-1, then PLAIN (RFC 6120 §6.3.3 leaves the
// order to the client). -PLUS variants are not used: no channel binding.
func pickMech(want string, offered []string) (string, error) {
	has := func(m string) bool {
		for _, o := range offered {
			if strings.EqualFold(o, m) {
				return true
			}
		}
		return false
	}
	if want != "" && want != "AUTO" {
		if has(want) {
			return want, nil
		}
		return "", fmt.Errorf("server does not offer %s (offers %v): use -mech auto", want, offered)
	}
	for _, m := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		if has(m) {
			return m, nil
		}
	}
	return "", fmt.Errorf("no supported SASL mechanism among %v", offered)
}

func (a *authCache) client(mech, user, pass string) (*scram.Client, error) {
	key := mech + "\x00" + user + "\x00" + pass
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[key]; ok {
		return c, nil
	}
	h := scram.SHA1
	if mech == "SCRAM-SHA-256" {
		h = scram.SHA256
	}
	c, err := h.NewClient(user, pass, "")
	if err != nil {
		return nil, fmt.Errorf("SCRAM client for %q: %w", user, err)
	}
	a.clients[key] = c
	return c, nil
}

// auth runs the SASL exchange (RFC 6120 §6.4) on a TLS-protected stream.
func (c *conn) auth(a *authCache, user, pass string) error {
	ms := c.feats.Child(nsSASL, "mechanisms")
	if ms == nil {
		return errors.New("server offers no SASL mechanisms after STARTTLS")
	}
	var offered []string
	for _, m := range ms.Elements() {
		if m.Name == "mechanism" {
			offered = append(offered, strings.TrimSpace(m.Text()))
		}
	}
	mech, err := pickMech(a.want, offered)
	if err != nil {
		return err
	}
	c.mech = mech
	if mech == "PLAIN" {
		return c.saslExchange(mech, "\x00"+user+"\x00"+pass, nil)
	}
	sc, err := a.client(mech, user, pass)
	if err != nil {
		return err
	}
	conv := sc.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		return err
	}
	// Some servers send server-final in a <challenge/>, others in
	// <success/>; verify it once either way.
	step := func(in string) (string, error) {
		if conv.Done() {
			return "", nil
		}
		return conv.Step(in)
	}
	if err := c.saslExchange(mech, first, step); err != nil {
		return err
	}
	if !conv.Valid() {
		return fmt.Errorf("SASL %s: server signature not verified", mech)
	}
	return nil
}

// saslExchange sends <auth/> and answers challenges with step until
// <success/>; step also verifies the server's final message.
func (c *conn) saslExchange(mech, initial string, step func(string) (string, error)) error {
	if err := c.writeString("<auth xmlns='" + nsSASL + "' mechanism='" + mech + "'>" + b64(initial) + "</auth>"); err != nil {
		return err
	}
	for {
		el, err := c.read()
		if err != nil {
			return fmt.Errorf("SASL %s: %w", mech, err)
		}
		data, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(el.Text()))
		if derr != nil {
			return fmt.Errorf("SASL %s: bad base64 in <%s/>", mech, el.Name)
		}
		switch el.Name {
		case "challenge":
			if step == nil {
				return fmt.Errorf("SASL %s: unexpected challenge", mech)
			}
			resp, err := step(string(data))
			if err != nil {
				return fmt.Errorf("SASL %s: %w", mech, err)
			}
			if err := c.writeString("<response xmlns='" + nsSASL + "'>" + b64(resp) + "</response>"); err != nil {
				return err
			}
		case "success":
			if step != nil {
				// The server signature may come in <success/> (RFC 6120 §6.3.10).
				if _, err := step(string(data)); err != nil {
					return fmt.Errorf("SASL %s: server signature: %w", mech, err)
				}
			}
			return nil
		case "failure":
			return fmt.Errorf("SASL %s failed: %s (wrong password or user not registered? run `ternload register` first)", mech, condition(el))
		default:
			return fmt.Errorf("SASL %s: unexpected <%s/>", mech, el.Name)
		}
	}
}
