package server

import (
	"github.com/tern-xmpp/tern/internal/feature/bytestreams"
	"github.com/tern-xmpp/tern/internal/feature/upload"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/routing/module"
)

// startProxy opens the listeners of the file transfer proxy (XEP-0065,
// module bytestreams) and of HTTP File Upload (XEP-0363, module upload)
// with the server's certificates, chosen by SNI; each is a no-op when its
// module is disabled or has no listen address.
func startProxy(host *module.Host, cm *certs.Manager) (stop func(), err error) {
	var stops []func()
	stopAll := func() {
		for _, s := range stops {
			s()
		}
	}
	if l, err := module.Depend[bytestreams.Listener](host, "bytestreams"); err == nil {
		s, err := l.Listen(certs.ServerTLSConfig(cm))
		if err != nil {
			return nil, err
		}
		stops = append(stops, s)
	}
	if l, err := module.Depend[upload.Listener](host, "upload"); err == nil {
		s, err := l.Listen(certs.ServerTLSConfig(cm))
		if err != nil {
			stopAll()
			return nil, err
		}
		stops = append(stops, s)
	}
	return stopAll, nil
}
