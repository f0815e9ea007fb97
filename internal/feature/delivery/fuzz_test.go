package delivery_test

import (
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/delivery"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// FuzzParse: the <amp/> parser never panics, and what it accepts is what
// XEP-0079 §3.1-3.2 requires (rules, each with action, condition, value);
// what it refuses names the problem.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<amp xmlns='http://jabber.org/protocol/amp'><rule action='notify' condition='deliver' value='direct'/></amp>`,
		`<amp xmlns='http://jabber.org/protocol/amp' status='notify' to='a@b' from='c@d/e' per-hop='true'><rule action='notify' condition='deliver' value='stored'/></amp>`,
		`<amp xmlns='http://jabber.org/protocol/amp'><rule action='error' condition='match-resource' value='exact'/><rule action='drop' condition='expire-at' value='2030-01-01T00:00:00Z'/></amp>`,
		`<amp xmlns='http://jabber.org/protocol/amp'/>`,
		`<amp xmlns='http://jabber.org/protocol/amp' per-hop='maybe'><rule action='notify'/></amp>`,
		`<amp xmlns='other'/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		el, err := xml.Parse(b)
		if err != nil {
			return
		}
		a, err := delivery.Parse(el)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a text")
			}
			return
		}
		if len(a.Rules) == 0 {
			t.Fatalf("accepted %s without rules", b)
		}
		for _, r := range a.Rules {
			if r.Action == "" || r.Condition == "" {
				t.Fatalf("accepted a rule without action or condition: %+v", r)
			}
		}
	})
}
