package server

import (
	"testing"

	"github.com/tern-xmpp/tern/internal/ops/config"
)

func TestC2SLimitsNames(t *testing.T) {
	cfg := config.Default()
	cfg.Limits.MaxAttrs = 20
	after, before := c2sLimits(cfg)
	if after.MaxStanzaBytes != 262144 || after.MaxAttrs != 20 || after.Names.StanzaBytes != "limits.max_stanza_bytes" || after.Names.Attrs != "limits.max_attrs" {
		t.Errorf("after = %+v", after)
	}
	// Before authentication a tighter stanza limit applies: no key sets it.
	if before.MaxStanzaBytes != preAuthStanzaBytes || before.Names.StanzaBytes != "the limit before authentication" || before.MaxAttrs != 20 || before.Names.Depth != "limits.max_depth" {
		t.Errorf("before = %+v", before)
	}
	// A configured limit below it applies before authentication too, under its key.
	cfg.Limits.MaxStanzaBytes = 10000
	if _, before := c2sLimits(cfg); before.MaxStanzaBytes != 10000 || before.Names.StanzaBytes != "limits.max_stanza_bytes" {
		t.Errorf("small limit, before = %+v", before)
	}
	if l := s2sLimits(cfg); l.MaxStanzaBytes != 524288 || l.Names.StanzaBytes != "limits.max_s2s_stanza_bytes" || l.MaxAttrs != 20 {
		t.Errorf("s2s = %+v", l)
	}
}
