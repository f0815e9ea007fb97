package check

import (
	"context"
	"net"
	"testing"

	"github.com/tern-xmpp/tern/internal/ops/config"
)

func TestS2SRoutes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	cfg := config.Default()
	if rs := (&Checker{}).S2S(context.Background(), cfg); len(rs) != 1 || rs[0].Severity != Info {
		t.Fatalf("federation off: %v", rs)
	}
	cfg.S2S.Listen = []string{"127.0.0.1:0"}
	cfg.S2S.Routes = map[string]string{"up.test": l.Addr().String(), "down.test": deadAddr}
	got := map[string]Severity{}
	for _, r := range (&Checker{}).S2S(context.Background(), cfg) {
		got[r.Check] = r.Severity
	}
	if got["s2s route up.test"] != OK || got["s2s route down.test"] != Warning {
		t.Fatalf("results %v", got)
	}
}
