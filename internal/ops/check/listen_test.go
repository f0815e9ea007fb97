package check

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/certs"
)

// serve accepts on ln and runs h on each connection until the test ends.
func serve(t *testing.T, ln net.Listener, h func(net.Conn)) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); h(c) }()
		}
	}()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestListeners(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	crt, key, _ := cfg.CertFiles(cfg.Domains[0])
	if _, err := certs.EnsureSelfSigned(crt, key, cfg.Domains[0].Name, certs.Options{}); err != nil {
		t.Fatal(err)
	}
	m, err := certs.NewManager(nil, []certs.Source{{Domain: cfg.Domains[0].Name, CertFile: crt, KeyFile: key}})
	if err != nil {
		t.Fatal(err)
	}

	// A fake tern: direct TLS with this configuration's certificate.
	ternTLS := listen(t)
	serve(t, ternTLS, func(c net.Conn) { tls.Server(c, certs.ServerTLSConfig(m)).Handshake() })
	// An XMPP server answering a stream header.
	xmpp := listen(t)
	serve(t, xmpp, func(c net.Conn) {
		buf := make([]byte, 512)
		c.Read(buf)
		c.Write([]byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'>"))
	})
	// A fake tern on a STARTTLS port.
	ternStartTLS := listen(t)
	serve(t, ternStartTLS, func(c net.Conn) {
		buf := make([]byte, 512)
		c.Read(buf)
		c.Write([]byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='y' version='1.0'>" +
			"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"))
		n, _ := c.Read(buf)
		if !strings.Contains(string(buf[:n]), "<starttls") {
			return
		}
		c.Write([]byte("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
		tls.Server(c, certs.ServerTLSConfig(m)).Handshake()
	})
	// Something else.
	other := listen(t)
	serve(t, other, func(c net.Conn) { c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n")) })
	// A free address.
	free := listen(t)
	freeAddr := free.Addr().String()
	free.Close()

	cfg.C2S.Listen = []string{xmpp.Addr().String(), freeAddr, "127.0.0.1:0", ternStartTLS.Addr().String()}
	cfg.C2S.ListenTLS = []string{ternTLS.Addr().String()}
	cfg.S2S.Listen = []string{other.Addr().String()}
	cfg.HTTP.Listen = ""
	c := &Checker{}
	rs := c.Listeners(context.Background(), cfg)
	for _, w := range []struct {
		sev  Severity
		want string
	}{
		{Info, "c2s.listen_tls: in use by a running tern"},
		{Info, "c2s.listen: in use by a running tern"},
		{Warning, "c2s.listen: in use by a running XMPP server"},
		{OK, "c2s.listen: free"},
		{Info, "port 0"},
		{Error, "s2s.listen: in use by another program"},
	} {
		if !has(rs, w.sev, w.want) {
			t.Errorf("no %v result containing %q:%s", w.sev, w.want, dump(rs))
		}
	}
}

type fakeStore struct{ pingErr error }

func (f fakeStore) Ping(context.Context) error { return f.pingErr }
func (fakeStore) Close() error                 { return nil }

func TestStorage(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	opened := false
	c := &Checker{OpenStore: func(context.Context, *config.Config) (Pinger, error) { opened = true; return fakeStore{}, nil }}
	if rs := c.Storage(context.Background(), cfg); !has(rs, Info, "will create it") || opened {
		t.Errorf("missing sqlite file: opened=%v%s", opened, dump(rs))
	}
	cfg.Storage = config.Storage{Backend: "postgres", DSN: "postgres://x/y"}
	if rs := c.Storage(context.Background(), cfg); !has(rs, OK, "answers") {
		t.Errorf("ok store:%s", dump(rs))
	}
	c.OpenStore = func(context.Context, *config.Config) (Pinger, error) { return fakeStore{errors.New("down")}, nil }
	if rs := c.Storage(context.Background(), cfg); !has(rs, Error, "ping failed: down") {
		t.Errorf("ping error:%s", dump(rs))
	}
	c.OpenStore = func(context.Context, *config.Config) (Pinger, error) { return nil, errors.New("refused") }
	if rs := c.Storage(context.Background(), cfg); !has(rs, Error, "cannot open: refused") {
		t.Errorf("open error:%s", dump(rs))
	}
}

func TestRunAndWrite(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.C2S.Listen, cfg.C2S.ListenTLS, cfg.HTTP.Listen = []string{"127.0.0.1:0"}, nil, ""
	rs := (&Checker{SkipDNS: true}).Run(context.Background(), cfg)
	var b strings.Builder
	errs, warns := Write(&b, rs)
	if errs != 0 || warns != 0 {
		t.Errorf("fresh default config: %d errors, %d warnings:\n%s", errs, warns, b.String())
	}
	if !strings.HasSuffix(b.String(), "0 errors, 0 warnings\n") {
		t.Errorf("summary missing:\n%s", b.String())
	}

	cfg.LogLevel, cfg.Storage.Backend = "loud", "mysql"
	rs = (&Checker{SkipDNS: true}).Run(context.Background(), cfg)
	b.Reset()
	if errs, _ := Write(&b, rs); errs != 2 || !strings.Contains(b.String(), "error config: log_level") {
		t.Errorf("invalid config:\n%s", b.String())
	}
	if !strings.HasSuffix(b.String(), "2 errors, 0 warnings\n") {
		t.Errorf("summary:\n%s", b.String())
	}
}
