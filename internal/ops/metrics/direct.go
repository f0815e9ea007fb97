package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Direct holds the Direct trust collectors. No series is labelled by peer
// domain: reasons and bundle names come from the code and the
// configuration, never from the network.
type Direct struct {
	Handshakes    *prometheus.CounterVec // by result (trusted|refused) and reason
	Revalidations *prometheus.CounterVec // re-validation checks, by result and reason
	Closures      prometheus.Counter     // live streams closed by re-validation
}

// BundleStat is what the bundle collector reports for one trust bundle.
type BundleStat struct {
	Name                         string
	Anchors                      int
	Loaded, Failing              bool
	Fetches, Failures, Unchanged uint64
}

// NewDirect registers the Direct trust collectors; bundles is read at
// every scrape (the trust registry's Status).
func (m *Metrics) NewDirect(bundles func() []BundleStat) *Direct {
	d := &Direct{
		Handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_direct_handshakes_total",
			Help: "Direct s2s trust checks at stream set-up, by result (trusted|refused) and reason (untrusted-anchor, revoked, ...)."}, []string{"result", "reason"}),
		Revalidations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_direct_revalidations_total",
			Help: "Re-validations of live Direct s2s streams, by result and reason."}, []string{"result", "reason"}),
		Closures: prometheus.NewCounter(prometheus.CounterOpts{Name: "tern_direct_revalidation_closures_total",
			Help: "Live Direct s2s streams closed because their certificate no longer validates."}),
	}
	m.Registry.MustRegister(d.Handshakes, d.Revalidations, d.Closures, bundleCollector(bundles))
	return d
}

// Handshake counts a trust check; reason "" is a trusted peer.
func (d *Direct) Handshake(reason string) {
	d.Handshakes.WithLabelValues(result(reason), reason).Inc()
}

// Revalidation counts one re-validation check.
func (d *Direct) Revalidation(reason string) {
	d.Revalidations.WithLabelValues(result(reason), reason).Inc()
}

func result(reason string) string {
	if reason == "" {
		return "trusted"
	}
	return "refused"
}

type bundleCollector func() []BundleStat

var (
	descAnchors   = prometheus.NewDesc("tern_direct_bundle_anchors", "Anchors in use per trust bundle (the last good load).", []string{"bundle"}, nil)
	descFailing   = prometheus.NewDesc("tern_direct_bundle_failing", "1 when the last refresh of the bundle failed (its last good anchors are kept).", []string{"bundle"}, nil)
	descRefreshes = prometheus.NewDesc("tern_direct_bundle_refreshes_total", "Trust bundle refreshes, by result (changed|unchanged|failed).", []string{"bundle", "result"}, nil)
)

func (b bundleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descAnchors
	ch <- descFailing
	ch <- descRefreshes
}

func (b bundleCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range b() {
		failing := 0.0
		if s.Failing {
			failing = 1
		}
		changed := s.Fetches - s.Failures - s.Unchanged
		if s.Failures+s.Unchanged > s.Fetches {
			changed = 0
		}
		ch <- prometheus.MustNewConstMetric(descAnchors, prometheus.GaugeValue, float64(s.Anchors), s.Name)
		ch <- prometheus.MustNewConstMetric(descFailing, prometheus.GaugeValue, failing, s.Name)
		ch <- prometheus.MustNewConstMetric(descRefreshes, prometheus.CounterValue, float64(changed), s.Name, "changed")
		ch <- prometheus.MustNewConstMetric(descRefreshes, prometheus.CounterValue, float64(s.Unchanged), s.Name, "unchanged")
		ch <- prometheus.MustNewConstMetric(descRefreshes, prometheus.CounterValue, float64(s.Failures), s.Name, "failed")
	}
}
