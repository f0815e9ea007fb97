package server

import (
	"github.com/tern-xmpp/tern/internal/feature/bytestreams"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/routing/module"
)

// startProxy opens the listener of the file transfer proxy (XEP-0065,
// module bytestreams) with the server's certificates, chosen by SNI; a
// no-op when the module is disabled or has no listen address.
func startProxy(host *module.Host, cm *certs.Manager) (stop func(), err error) {
	l, err := module.Depend[bytestreams.Listener](host, "bytestreams")
	if err != nil {
		return func() {}, nil // off: nothing provided
	}
	return l.Listen(certs.ServerTLSConfig(cm))
}
