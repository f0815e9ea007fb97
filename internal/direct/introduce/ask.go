package introduce

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/discovery"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
)

// Asker is the peer-introduction source of discovery (discovery.Peer): it
// asks the address's domain, from the sender's domain over s2s, and turns
// each certificate of the answer into a candidate (validated by the
// discoverer like any other). The s2s layer authenticates the stream: for
// a Direct domain it is up only with a peer its circles trust, so a peer
// outside them is never asked (the question fails with the stream).
type Asker struct {
	Router  *router.Router
	Timeout time.Duration // one question, including the s2s connection; default 10 s
	TTL     time.Duration // answers are kept this long; default 10 min, a failure a minute
	Asked   func(outcome string)

	cache discovery.Cache
}

// Introduce implements discovery.Peer.
func (a *Asker) Introduce(ctx context.Context, local, address string) ([]discovery.Candidate, error) {
	_, domain, _ := strings.Cut(address, "@")
	key := local + " " + address
	now := time.Now()
	if c, ok := a.cache.Get(key, now); ok {
		a.count("cached")
		return c.Cands, c.Err
	}
	cands, err := a.ask(ctx, local, domain, address)
	if ctx.Err() != nil {
		return cands, err // the caller gave up: nothing learned about the peer
	}
	ttl := a.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	if err != nil {
		ttl = min(ttl, time.Minute)
	}
	a.cache.Put(key, discovery.Answer{Cands: cands, Err: err}, now.Add(ttl))
	return cands, err
}

func (a *Asker) ask(ctx context.Context, local, domain, address string) ([]discovery.Candidate, error) {
	from, err := jid.Parse(local)
	if err != nil {
		return nil, err
	}
	to, err := jid.Parse(domain)
	if err != nil {
		return nil, fmt.Errorf("%q has no valid domain: %w", address, err)
	}
	t := a.Timeout
	if t <= 0 {
		t = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	st, err := a.Router.Request(ctx, from, to, "get", Request{Address: address}.Element())
	if err != nil {
		a.count("timeout")
		return nil, err
	}
	if st.Type == "error" {
		a.count("error")
		e := stanza.ParseError(st.El)
		if e == nil || e.Condition == "" {
			return nil, fmt.Errorf("%s answered with an error without a condition", domain)
		}
		return nil, fmt.Errorf("%s answered %s", domain, e.Error())
	}
	ans, bad, err := ParseAnswer(st.El.Child(NS, "introduce"), address)
	if err != nil {
		a.count("malformed")
		return nil, fmt.Errorf("the answer of %s: %w", domain, err)
	}
	a.count("answered")
	var out []discovery.Candidate
	for _, c := range ans.Certs {
		out = append(out, discovery.Candidate{Source: discovery.SourcePeer, Where: domain, Cert: c.Chain[0], Chain: c.Chain[1:]})
	}
	for _, b := range bad {
		out = append(out, discovery.Candidate{Source: discovery.SourcePeer, Where: domain, Err: b})
	}
	return out, nil
}

func (a *Asker) count(outcome string) {
	if a.Asked != nil {
		a.Asked(outcome)
	}
}
