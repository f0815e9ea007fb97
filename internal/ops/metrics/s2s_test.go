package metrics

import (
	"fmt"
	"testing"
)

// value reads one series from the registry (0 when absent) and counts the family's series.
func value(t *testing.T, m *Metrics, name string, labels map[string]string) (float64, int) {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		v := 0.0
	series:
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue series
				}
			}
			if s.Counter != nil {
				v = s.Counter.GetValue()
			} else {
				v = s.Gauge.GetValue()
			}
		}
		return v, len(f.GetMetric())
	}
	return 0, 0
}

func TestS2SPeerLabelsAreCapped(t *testing.T) {
	m := New(func() int { return 0 })
	s := m.NewS2S()
	for i := 0; i < MaxPeerDomains+50; i++ {
		s.Stanza("in", fmt.Sprintf("d%d.example", i))
	}
	s.Stanza("in", "d0.example")
	if _, n := value(t, m, "tern_s2s_stanzas_total", nil); n != MaxPeerDomains+1 {
		t.Fatalf("%d series, want %d (cap + other)", n, MaxPeerDomains+1)
	}
	if v, _ := value(t, m, "tern_s2s_stanzas_total", map[string]string{"domain": "other"}); v != 50 {
		t.Fatalf("other = %v, want 50", v)
	}
	if v, _ := value(t, m, "tern_s2s_stanzas_total", map[string]string{"domain": "d0.example"}); v != 2 {
		t.Fatalf("d0 = %v, want 2", v)
	}
}

func TestS2SStreamStatesAndBounces(t *testing.T) {
	m := New(func() int { return 0 })
	s := m.NewS2S()
	s.Stream("out", "", "negotiating")
	s.Stream("out", "negotiating", "established")
	if v, _ := value(t, m, "tern_s2s_streams", map[string]string{"direction": "out", "state": "established"}); v != 1 {
		t.Fatalf("established = %v", v)
	}
	if v, _ := value(t, m, "tern_s2s_streams", map[string]string{"direction": "out", "state": "negotiating"}); v != 0 {
		t.Fatalf("negotiating = %v", v)
	}
	s.Bounce("remote-server-timeout")
	s.Bounce("made-up")
	if v, _ := value(t, m, "tern_s2s_bounces_total", map[string]string{"condition": "other"}); v != 1 {
		t.Fatalf("made-up condition not mapped to other: %v", v)
	}
}
