package server

import (
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/direct/introduce"
	"github.com/tern-xmpp/tern/internal/direct/messages"
	"github.com/tern-xmpp/tern/internal/feature/blocking"
	"github.com/tern-xmpp/tern/internal/feature/bytestreams"
	"github.com/tern-xmpp/tern/internal/feature/carbons"
	"github.com/tern-xmpp/tern/internal/feature/csi"
	"github.com/tern-xmpp/tern/internal/feature/delivery"
	"github.com/tern-xmpp/tern/internal/feature/disco"
	"github.com/tern-xmpp/tern/internal/feature/lastactivity"
	"github.com/tern-xmpp/tern/internal/feature/mam"
	"github.com/tern-xmpp/tern/internal/feature/muc"
	"github.com/tern-xmpp/tern/internal/feature/offline"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/privatexml"
	"github.com/tern-xmpp/tern/internal/feature/register"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/feature/serverinfo"
	"github.com/tern-xmpp/tern/internal/feature/upload"
	"github.com/tern-xmpp/tern/internal/feature/vcard"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
)

// modules is the server's one list of features, one line each, in the
// order they register (a module comes after those it Depends on). Their
// settings from the configuration are plain fields here; a module with a
// section of its own ([vcard], [privatexml]) gets it decoded before
// Register. modules_disabled names the ones to leave out.
func modules(cfg *config.Config, started time.Time, regLimit *ratelimit.Window, trusted ratelimit.Networks, intro *introduce.Module, dmsg *messages.Module) []module.Module {
	return []module.Module{
		disco.Module{},
		serverinfo.Ping{},
		serverinfo.Version{Software: "tern", Version: Version},
		serverinfo.Time{},
		serverinfo.Contacts{ByDomain: contacts(cfg)},
		roster.Module{MaxItems: cfg.Limits.RosterMaxItems},
		presence.Module{},
		offline.Module{Quota: cfg.Limits.OfflineQuota},
		delivery.New(cfg.Limits.OfflineQuota).WithDirect(isDirect(cfg)),       // XEP-0079 deliver notices and the TIM+ message monitor; section [delivery]
		&vcard.Module{MaxBytes: vcard.DefaultMaxBytes, Direct: isDirect(cfg)}, // section [vcard]
		&privatexml.Module{Limits: privatexml.DefaultLimits},
		blocking.Module{},
		carbons.Module{},
		mam.New(),                           // XEP-0313 user archives, section [mam]
		muc.New().WithDirect(isDirect(cfg)), // XEP-0045 at conference.<domain> (groupchat.<domain> on Direct domains), section [muc]
		csi.Module{},
		lastactivity.Module{Started: started},
		register.Module{Open: registrationOpen(cfg), PerIP: regLimit, Trusted: trusted, MinPassword: cfg.Limits.MinPasswordLength},
		bytestreams.New(), // XEP-0065 proxy; its listener opens in startProxy (proxy.go)
		&upload.Module{Cfg: upload.DefaultConfig, DataDir: cfg.DataDir}, // XEP-0363 HTTP File Upload, section [upload]; its HTTPS listener opens in startProxy
		intro, // Direct peer introduction (docs/direct-introduction.md); section [introduce]; wired in server.go
		dmsg,  // Direct messages over XMPP (docs/direct-messages.md); wired in server.go
		module.Feature{ModuleName: "receipts", Target: router.Account, Namespaces: []string{"urn:xmpp:receipts"}}, // pass through untouched
	}
}

// The configuration knows every module's name and section before a file
// is read (config.RegisterModule), from the same list.
func init() {
	for _, m := range modules(config.Default(), time.Time{}, nil, nil, introduce.New(), messages.New()) {
		var section any
		if c, ok := m.(module.Configurable); ok {
			section = c.Config()
		}
		config.RegisterModule(m.Name(), section)
	}
}

// loadModules decodes each module's section and registers the modules
// that are not disabled.
func loadModules(host *module.Host, cfg *config.Config, mods []module.Module) error {
	disabled := map[string]bool{}
	for _, n := range cfg.ModulesDisabled {
		disabled[n] = true
	}
	for _, m := range mods {
		if c, ok := m.(module.Configurable); ok && !disabled[m.Name()] {
			if err := cfg.DecodeSection(m.Name(), c.Config()); err != nil {
				return err
			}
		}
	}
	return host.Load(mods, disabled)
}

func registrationOpen(cfg *config.Config) func(string) bool {
	return func(d string) bool { dom, ok := cfg.Domain(d); return ok && dom.Registration }
}

// isDirect reports the local domains marked direct = true.
func isDirect(cfg *config.Config) func(domain string) bool {
	return func(d string) bool { dom, ok := cfg.Domain(d); return ok && dom.Direct }
}
