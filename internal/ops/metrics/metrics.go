// Package metrics exposes tern's Prometheus metrics. Labels are bounded
// sets (stanza kind, mechanism, error condition): never a JID or an
// address, so cardinality stays fixed however many users there are.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors.
type Metrics struct {
	Registry     *prometheus.Registry
	Connections  prometheus.Gauge
	StanzasIn    *prometheus.CounterVec
	StanzasOut   *prometheus.CounterVec
	Routed       *prometheus.CounterVec
	AuthFailures *prometheus.CounterVec
	AuthSuccess  *prometheus.CounterVec
	StreamErrors *prometheus.CounterVec
	Unacked      prometheus.Counter
}

// New registers the collectors; sessions reports bound resources.
func New(sessions func() int) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry:     reg,
		Connections:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "tern_c2s_connections", Help: "Open client connections (authenticated or not)."}),
		StanzasIn:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_stanzas_in_total", Help: "Stanzas received from clients, by kind."}, []string{"kind"}),
		StanzasOut:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_stanzas_out_total", Help: "Stanzas sent to clients, by kind."}, []string{"kind"}),
		Routed:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_stanzas_routed_total", Help: "Stanzas routed, by kind."}, []string{"kind"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_auth_failures_total", Help: "Failed SASL authentications, by mechanism."}, []string{"mechanism"}),
		AuthSuccess:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_auth_success_total", Help: "Successful SASL authentications, by mechanism."}, []string{"mechanism"}),
		StreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_stream_errors_total", Help: "Stream errors sent, by condition."}, []string{"condition"}),
		Unacked:      prometheus.NewCounter(prometheus.CounterOpts{Name: "tern_sm_unacked_rerouted_total", Help: "Stanzas a client never acknowledged (XEP-0198) when its session ended, handed back for delivery."}),
	}
	reg.MustRegister(m.Connections, m.StanzasIn, m.StanzasOut, m.Routed, m.AuthFailures, m.AuthSuccess, m.StreamErrors, m.Unacked,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tern_sessions", Help: "Bound client resources."}, func() float64 { return float64(sessions()) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Known bounds a label value to a known set, so a peer cannot invent
// labels (a client picks the SASL mechanism name it sends).
func Known(v string, known ...string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return "other"
}

// ByKind counts into vec by stanza kind (message, presence, iq; anything
// else as "other"), with the three counters looked up once: a label lookup
// hashes its values, and these run several times for every stanza.
func ByKind(vec *prometheus.CounterVec) func(kind string) {
	msg, pres, iq := vec.WithLabelValues("message"), vec.WithLabelValues("presence"), vec.WithLabelValues("iq")
	return func(kind string) {
		switch kind {
		case "message":
			msg.Inc()
		case "presence":
			pres.Inc()
		case "iq":
			iq.Inc()
		default:
			vec.WithLabelValues("other").Inc()
		}
	}
}
