package check

import (
	"context"
	"fmt"
	"net"

	"github.com/tern-xmpp/tern/internal/ops/config"
)

// S2S checks federation settings beyond DNS and listeners: that each
// static route answers on TCP, and that federation without dialback has
// certificates peers can verify.
func (c *Checker) S2S(ctx context.Context, cfg *config.Config) []Result {
	if !cfg.S2S.Federates() {
		return []Result{{Info, "s2s", "federation is off (s2s.listen and s2s.listen_tls are empty)"}}
	}
	var rs []Result
	if !cfg.S2S.Dialback {
		rs = append(rs, Result{Info, "s2s", "dialback is off: peers must present certificates that verify, and so must ours"})
	}
	for dom, addr := range cfg.S2S.Routes {
		name := "s2s route " + dom
		dctx, cancel := context.WithTimeout(ctx, c.timeout())
		var d net.Dialer
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			rs = append(rs, Result{Warning, name, fmt.Sprintf("%s does not answer (%v): stanzas to %s will bounce; fix s2s.routes or start that server", addr, err, dom)})
			continue
		}
		conn.Close()
		rs = append(rs, Result{OK, name, addr + " answers"})
	}
	return rs
}
