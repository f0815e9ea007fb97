package server

import (
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// preAuthStanzaBytes bounds stanzas before a client authenticates: what an
// anonymous peer may make the server buffer (the c2s package's default).
const preAuthStanzaBytes = 16 << 10

// c2sLimits are the decoder limits of client streams after and before
// authentication, named by the configuration keys that set them so a
// stream error's text says what to change. The header limit is no key.
func c2sLimits(cfg *config.Config) (after, before xml.Limits) {
	after = xml.DefaultLimits
	after.MaxStanzaBytes, after.MaxDepth, after.MaxAttrs = cfg.Limits.MaxStanzaBytes, cfg.Limits.MaxDepth, cfg.Limits.MaxAttrs
	after.Names = xml.LimitNames{StanzaBytes: "limits.max_stanza_bytes", Depth: "limits.max_depth", Attrs: "limits.max_attrs"}
	before = after
	if after.MaxStanzaBytes > preAuthStanzaBytes {
		before.MaxStanzaBytes = preAuthStanzaBytes
		before.Names.StanzaBytes = "the limit before authentication"
	}
	return after, before
}

// s2sLimits are the decoder limits of server streams, the same before and
// after authentication (see s2s.New).
func s2sLimits(cfg *config.Config) xml.Limits {
	l := xml.DefaultLimits
	l.MaxStanzaBytes, l.MaxDepth, l.MaxAttrs = cfg.Limits.MaxS2SStanzaBytes, cfg.Limits.MaxDepth, cfg.Limits.MaxAttrs
	l.Names = xml.LimitNames{StanzaBytes: "limits.max_s2s_stanza_bytes", Depth: "limits.max_depth", Attrs: "limits.max_attrs"}
	return l
}
