package delivery

import (
	"fmt"
	"strings"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces and disco features (XEP-0079 §2.1.1, §8).
const (
	NS              = "http://jabber.org/protocol/amp"
	NSErrors        = "http://jabber.org/protocol/amp#errors"
	FeatureNotify   = NS + "?action=notify"
	FeatureDeliver  = NS + "?condition=deliver"
	NSChatStates    = "http://jabber.org/protocol/chatstates"
	NSDelay         = "urn:xmpp:delay"
	valueDirect     = "direct"
	valueStored     = "stored"
	maxRules        = 32
	maxAttributeLen = 256
)

// Rule is one <rule/> of an <amp/> element (XEP-0079 §3.2).
type Rule struct {
	Action, Condition, Value string
}

// AMP is a parsed <amp/> element (XEP-0079 §3.1).
type AMP struct {
	Status   string // set by servers only: alert, error, notify
	To, From string
	PerHop   bool
	Rules    []Rule
}

// ParseError is a malformed <amp/> element; the message names the problem.
type ParseError struct{ Problem string }

func (e *ParseError) Error() string { return "malformed <amp/>: " + e.Problem }

func bad(format string, args ...any) error { return &ParseError{fmt.Sprintf(format, args...)} }

// Actions and conditions defined by XEP-0079 §3.3, §3.4; the values each
// condition takes.
var (
	knownActions    = map[string]bool{"alert": true, "drop": true, "error": true, "notify": true}
	knownConditions = map[string]func(string) bool{
		"deliver": func(v string) bool {
			switch v {
			case "direct", "forward", "gateway", "none", "stored":
				return true
			}
			return false
		},
		"expire-at":      func(v string) bool { return v != "" }, // an XEP-0082 DateTime; checked if ever supported
		"match-resource": func(v string) bool { return v == "any" || v == "exact" || v == "other" },
	}
	knownStatus = map[string]bool{"": true, "alert": true, "error": true, "notify": true}
)

// Parse reads an <amp/> element: attributes and rules, checked against
// XEP-0079 §3.1-3.4 (known status, per-hop a boolean, at least one rule,
// each with an action, a condition and a value valid for it). Actions and
// conditions registered elsewhere than XEP-0079 are accepted as unknown
// (the caller decides whether it supports them); a value that is not
// valid for a condition XEP-0079 defines is malformed.
func Parse(el *xml.Element) (*AMP, error) {
	if el == nil || el.Space != NS || el.Name != "amp" {
		return nil, bad("not an <amp xmlns='%s'/> element", NS)
	}
	a := &AMP{Status: el.Attr("status"), To: el.Attr("to"), From: el.Attr("from")}
	if !knownStatus[a.Status] {
		return nil, bad("status %q is none of alert, error, notify", clip(a.Status))
	}
	switch ph := el.Attr("per-hop"); ph {
	case "", "false", "0":
	case "true", "1":
		a.PerHop = true
	default:
		return nil, bad("per-hop %q is not a boolean", clip(ph))
	}
	for _, c := range el.Elements() {
		if c.Space != NS || c.Name != "rule" {
			continue // other namespaces may extend it
		}
		if len(a.Rules) == maxRules {
			return nil, bad("more than %d rules", maxRules)
		}
		r := Rule{Action: c.Attr("action"), Condition: c.Attr("condition"), Value: c.Attr("value")}
		n := len(a.Rules) + 1
		switch {
		case r.Action == "":
			return nil, bad("rule %d has no action", n)
		case r.Condition == "":
			return nil, bad("rule %d has no condition", n)
		case !c.HasAttr("value"):
			return nil, bad("rule %d (condition %s) has no value", n, clip(r.Condition))
		case len(r.Action) > maxAttributeLen || len(r.Condition) > maxAttributeLen || len(r.Value) > maxAttributeLen:
			return nil, bad("rule %d has an attribute longer than %d bytes", n, maxAttributeLen)
		}
		if ok := knownConditions[r.Condition]; ok != nil && !ok(r.Value) {
			return nil, bad("rule %d: %q is not a value of condition %s (XEP-0079 §3.3)", n, clip(r.Value), r.Condition)
		}
		a.Rules = append(a.Rules, r)
	}
	if len(a.Rules) == 0 {
		return nil, bad("no <rule/>: XEP-0079 §3.1 requires at least one")
	}
	return a, nil
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// supported reports whether the server acts on a client's rule: deliver
// notices (direct, stored) are what this module sends.
func supportedAction(r Rule) bool { return r.Action == "notify" }
func supportedCondition(r Rule) bool {
	return r.Condition == "deliver" && (r.Value == valueDirect || r.Value == valueStored)
}

// ruleElement renders a rule.
func ruleElement(r Rule) *xml.Element {
	return xml.New(NS, "rule", "action", r.Action, "condition", r.Condition, "value", r.Value)
}

// notice builds the TIM+ deliver notice for a message delivered (direct)
// or stored (stored) to its recipient.
func notice(origTo, origFrom, id, senderBare, recipientBare, value string) *xml.Element {
	m := xml.New(xml.NSClient, "message", "from", origTo, "to", senderBare)
	if id != "" {
		m.SetAttr("id", id)
	}
	amp := xml.New(NS, "amp", "status", "notify", "to", recipientBare, "from", origFrom)
	amp.Append(xml.New(NS, "rule", "action", "notify", "condition", "deliver", "value", value))
	return m.Append(amp)
}
