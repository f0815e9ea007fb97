package module_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// fn is a module made of a function, for tests.
type fn struct {
	name string
	reg  func(h *module.Host) error
}

func (f fn) Name() string                  { return f.name }
func (f fn) Register(h *module.Host) error { return f.reg(h) }

func newHost() *module.Host {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return module.NewHost(router.New(log, []string{"example.org"}, nil), nil, log, nil, nil)
}

func answer(*router.IQ) (*xml.Element, error) { return nil, nil }

// The same handler key registered by two modules is an error at start-up
// naming both, never a silent overwrite.
func TestHandlerRegisteredTwice(t *testing.T) {
	for _, tc := range []struct {
		name string
		reg  func(h *module.Host)
		want string
	}{
		{"iq", func(h *module.Host) { h.HandleIQ(router.Host, "get", "urn:example:q", answer) }, "iq get urn:example:q for the server"},
		{"nonza", func(h *module.Host) {
			h.HandleNonza("urn:example:n", nil, func(context.Context, *router.Resource, *xml.Element) {})
		}, "top-level elements in urn:example:n"},
		{"service", func(h *module.Host) {
			h.AddService(router.Service{Domain: "svc.example.org", Parent: "example.org", Handle: func(context.Context, *router.Stanza) bool { return true }})
		}, "service svc.example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost()
			one := func(n string) module.Module { return fn{n, func(h *module.Host) error { tc.reg(h); return nil }} }
			err := h.Load([]module.Module{one("first"), one("second")}, nil)
			if err == nil || !strings.Contains(err.Error(), "module second: "+tc.want+" is registered already by module first") {
				t.Fatalf("Load = %v; want the second %s registration refused, naming both modules", err, tc.name)
			}
		})
	}
}

// Depend finds what an earlier module provided, as the interface the caller
// needs; a module listed later, disabled or providing something else fails
// the start-up with a message saying so.
func TestDepend(t *testing.T) {
	type counter interface{ Count() int }
	provider := fn{"provider", func(h *module.Host) error { h.Provide(three{}); return nil }}
	var got int
	user := fn{"user", func(h *module.Host) error {
		c, err := module.Depend[counter](h, "provider")
		if err != nil {
			return err
		}
		got = c.Count()
		return nil
	}}
	if err := newHost().Load([]module.Module{provider, user}, nil); err != nil || got != 3 {
		t.Fatalf("Load = %v, Count = %d; want nil and 3", err, got)
	}
	if err := newHost().Load([]module.Module{user, provider}, nil); err == nil || !strings.Contains(err.Error(), "needs module provider") {
		t.Errorf("user listed first: %v; want an error naming the module it needs", err)
	}
	if err := newHost().Load([]module.Module{provider, user}, map[string]bool{"provider": true}); err == nil {
		t.Errorf("provider disabled: no error")
	}
	wrong := fn{"user", func(h *module.Host) error { _, err := module.Depend[interface{ Other() }](h, "provider"); return err }}
	if err := newHost().Load([]module.Module{provider, wrong}, nil); err == nil || !strings.Contains(err.Error(), "does not provide") {
		t.Errorf("wrong interface: %v; want does not provide", err)
	}
}

type three struct{}

func (three) Count() int { return 3 }

// A disabled module registers nothing.
func TestDisabledModule(t *testing.T) {
	ran := false
	m := fn{"optional", func(h *module.Host) error { ran = true; return nil }}
	if err := newHost().Load([]module.Module{m}, map[string]bool{"optional": true}); err != nil || ran {
		t.Fatalf("Load = %v, registered = %v; want nil and false", err, ran)
	}
}
