package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxPeerDomains caps the distinct peer domains used as label values;
// later ones are counted as "other", so a flood of made-up domains cannot
// grow the series without bound.
const MaxPeerDomains = 200

// S2S holds the federation collectors.
type S2S struct {
	Streams  *prometheus.GaugeVec   // by direction (in|out) and state (negotiating|established)
	Stanzas  *prometheus.CounterVec // by direction and peer domain (capped)
	Bounces  *prometheus.CounterVec // by stanza error condition
	Errors   *prometheus.CounterVec // stream errors sent, by condition
	mu       sync.Mutex
	domains  map[string]bool
	maxPeers int
}

// NewS2S registers the federation collectors on m's registry.
func (m *Metrics) NewS2S() *S2S {
	s := &S2S{
		Streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tern_s2s_streams", Help: "Server-to-server streams, by direction and state."}, []string{"direction", "state"}),
		Stanzas: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_s2s_stanzas_total", Help: "Stanzas exchanged with peer servers, by direction and peer domain (the first 200 domains, then \"other\")."}, []string{"direction", "domain"}),
		Bounces: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_s2s_bounces_total", Help: "Stanzas bounced to local senders because a peer could not be reached, by error condition."}, []string{"condition"}),
		Errors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_s2s_stream_errors_total", Help: "Stream errors sent to peer servers, by condition."}, []string{"condition"}),
		domains: map[string]bool{}, maxPeers: MaxPeerDomains,
	}
	m.Registry.MustRegister(s.Streams, s.Stanzas, s.Bounces, s.Errors)
	return s
}

// Stream moves one stream between states ("" for none).
func (s *S2S) Stream(direction, from, to string) {
	if from != "" {
		s.Streams.WithLabelValues(direction, from).Dec()
	}
	if to != "" {
		s.Streams.WithLabelValues(direction, to).Inc()
	}
}

// Stanza counts one stanza to or from a peer domain.
func (s *S2S) Stanza(direction, domain string) {
	s.Stanzas.WithLabelValues(direction, s.peerLabel(domain)).Inc()
}

func (s *S2S) peerLabel(domain string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.domains[domain] {
		return domain
	}
	if len(s.domains) >= s.maxPeers {
		return "other"
	}
	s.domains[domain] = true
	return domain
}

// Bounce counts one bounce by condition.
func (s *S2S) Bounce(condition string) {
	s.Bounces.WithLabelValues(Known(condition, s2sConditions...)).Inc()
}

// StreamError counts one stream error sent.
func (s *S2S) StreamError(condition string) {
	s.Errors.WithLabelValues(condition).Inc()
}

var s2sConditions = []string{"remote-server-not-found", "remote-server-timeout", "resource-constraint", "service-unavailable", "bad-request"}
