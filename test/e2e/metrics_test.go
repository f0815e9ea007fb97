package e2e

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestMetricsEndpoint checks that [http] listen serves Prometheus text exposition on /metrics.
func TestMetricsEndpoint(t *testing.T) {
	p := startTern(t, ternOpts{})
	client := &http.Client{Timeout: rawTimeout}
	resp, err := client.Get(p.httpURL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, clip(body))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") && !strings.Contains(ct, "openmetrics") {
		t.Errorf("Content-Type %q; want Prometheus text format", ct)
	}
	if !strings.Contains(string(body), "# TYPE ") {
		t.Errorf("/metrics has no '# TYPE' line; got:\n%s", clip(body))
	}
}

// metricValue reads one unlabelled sample from p's /metrics (0 if absent).
func metricValue(t *testing.T, p *ternProc, name string) float64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: rawTimeout}).Get(p.httpURL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("/metrics: %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}
