package metrics

import "testing"

// TestDirectMetrics: handshakes and re-validations by result and reason, closures, and the
// bundle collector (anchors, failing, refreshes by result); no peer domain label anywhere.
func TestDirectMetrics(t *testing.T) {
	m := New(func() int { return 0 })
	d := m.NewDirect(func() []BundleStat {
		return []BundleStat{{Name: "dt", Anchors: 3, Loaded: true, Failing: true, Fetches: 5, Failures: 2, Unchanged: 1}}
	})
	d.Handshake("")
	d.Handshake("revoked")
	d.Handshake("revoked")
	d.Revalidation("expired")
	d.Closures.Inc()
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tern_direct_handshakes_total", map[string]string{"result": "trusted", "reason": ""}, 1},
		{"tern_direct_handshakes_total", map[string]string{"result": "refused", "reason": "revoked"}, 2},
		{"tern_direct_revalidations_total", map[string]string{"result": "refused", "reason": "expired"}, 1},
		{"tern_direct_revalidation_closures_total", nil, 1},
		{"tern_direct_bundle_anchors", map[string]string{"bundle": "dt"}, 3},
		{"tern_direct_bundle_failing", map[string]string{"bundle": "dt"}, 1},
		{"tern_direct_bundle_refreshes_total", map[string]string{"bundle": "dt", "result": "changed"}, 2},
		{"tern_direct_bundle_refreshes_total", map[string]string{"bundle": "dt", "result": "failed"}, 2},
		{"tern_direct_bundle_refreshes_total", map[string]string{"bundle": "dt", "result": "unchanged"}, 1},
	} {
		if got, _ := value(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	fams, _ := m.Registry.Gather()
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "peer" || l.GetName() == "domain" && len(f.GetName()) > 11 && f.GetName()[:11] == "tern_direct" {
					t.Errorf("%s is labelled by %s", f.GetName(), l.GetName())
				}
			}
		}
	}
}
