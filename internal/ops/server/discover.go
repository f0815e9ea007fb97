package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/discovery"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/ops/control"
)

// DiscoverReport is what `tern direct discover` gets from the server, as
// JSON (its --json output).
type DiscoverReport struct {
	Address    string              `json:"address"`
	For        string              `json:"for"`
	Purpose    string              `json:"purpose"`
	Tried      []string            `json:"tried"`
	Candidates []DiscoverCandidate `json:"candidates"`
	Usable     int                 `json:"usable"`
}

// DiscoverCandidate is one certificate found, and the verdict on it.
type DiscoverCandidate struct {
	Source   string `json:"source"`
	Where    string `json:"where"`
	Subject  string `json:"subject,omitempty"`
	Serial   string `json:"serial,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	NotAfter string `json:"not_after,omitempty"`
	Usable   bool   `json:"usable"`
	Bound    string `json:"bound,omitempty"`
	Reason   string `json:"reason,omitempty"` // trust.Reason, or "bad-record"
	Detail   string `json:"detail,omitempty"` // the error, or the validation step by step
}

// handleDiscover serves `tern direct discover`: discovery as the server
// runs it, with its trust circles and CRL cache, for a Direct domain.
func (d *directTrust) handleDiscover(ctl *control.Server) {
	ctl.Handle("direct.discover", func(ctx context.Context, args map[string]string) (string, error) {
		if d == nil {
			return "", errNoDirect
		}
		local, address := args["for"], args["address"]
		if !d.direct[local] {
			return "", fmt.Errorf("%s is not a Direct domain of this server (set direct = true in its [[domain]]): its circles decide which certificates are usable", local)
		}
		purpose := trust.Purpose(args["purpose"])
		if purpose == "" {
			purpose = trust.PurposeEncrypt
		}
		if purpose != trust.PurposeEncrypt && purpose != trust.PurposeVerify {
			return "", fmt.Errorf("purpose %q: use encrypt or verify", purpose)
		}
		disc := d.disc
		if s := args["dns"]; s != "" {
			disc = d.discoverer(s) // its own DNS cache: another resolver
		}
		if s := args["sources"]; s != "" {
			order := strings.Split(s, ",")
			if err := discovery.CheckOrder(order); err != nil {
				return "", fmt.Errorf("--sources: %v", err)
			}
			c := *disc // the same sources and caches, asked in another order
			c.Order = order
			disc = &c
		}
		rep, err := disc.Discover(ctx, local, address, purpose)
		if err != nil {
			return "", err
		}
		out := DiscoverReport{Address: rep.Address, For: local, Purpose: string(purpose), Tried: rep.Tried, Usable: len(rep.Usable)}
		for _, c := range rep.All {
			dc := DiscoverCandidate{Source: c.Source, Where: c.Where, Usable: c.Usable()}
			if c.Cert != nil {
				sum := sha256.Sum256(c.Cert.Raw)
				dc.Subject, dc.Serial, dc.SHA256 = c.Cert.Subject.String(), c.Cert.SerialNumber.String(), hex.EncodeToString(sum[:])
				dc.NotAfter = c.Cert.NotAfter.UTC().Format(time.RFC3339)
			}
			switch {
			case c.Result != nil:
				dc.Bound, dc.Reason, dc.Detail = string(c.Result.Bound), string(c.Result.Reason), trust.Explain(c.Result)
			case c.Err != nil:
				dc.Reason, dc.Detail = "bad-record", c.Err.Error()
			}
			out.Candidates = append(out.Candidates, dc)
		}
		b, err := json.Marshal(out)
		return string(b), err
	})
}
