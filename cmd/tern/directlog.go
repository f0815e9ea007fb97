package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/storage"
)

const directLogHelp = `Usage: tern direct log [DOMAIN] [--address ADDRESS] [--since TIME] [--until TIME] [--json] [--verify]
        [--config FILE] [--data DIR]

Shows the Direct audit trail of the Direct domains (or of DOMAIN): every message
sent, not sent (failed), received, rejected (with the rule) or refused by the
recipient's server, and every disposition notification sent or received
(mdn-sent, mdn-received: the disposition where a refusal shows its rule), with the Message-ID, the SHA-256 of the S/MIME bytes and the
certificates' fingerprints; never document content. TIME is RFC 3339 or a date
(2026-12-02). --verify checks the hash chain of each domain's whole trail and
prints its length and last hash (keep that elsewhere: a chain cannot show a cut
tail); exit 1 when a chain is broken.
`

func cmdDirectLog(e *env, args []string) int {
	fs := e.flags("direct log", directLogHelp)
	var cf configFlags
	cf.register(fs)
	address := fs.String("address", "", "only the entries of this local `address`")
	since := fs.String("since", "", "entries at or after `time`")
	until := fs.String("until", "", "entries at or before `time`")
	asJSON := fs.Bool("json", false, "one JSON object per entry")
	verify := fs.Bool("verify", false, "check the hash chains instead of listing")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return e.usageError(fs, "at most one DOMAIN")
	}
	q := storage.Query{Peer: strings.ToLower(*address)}
	for _, f := range []struct {
		v   string
		dst *time.Time
		end bool
	}{{*since, &q.Start, false}, {*until, &q.End, true}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.v)
		if err != nil {
			d, derr := time.Parse(time.DateOnly, f.v)
			if derr != nil {
				return e.usageError(fs, "%q is not a time: write 2026-12-02 or 2026-12-02T15:04:05Z", f.v)
			}
			if t = d; f.end {
				t = d.Add(24*time.Hour - time.Nanosecond)
			}
		}
		*f.dst = t
	}
	cfg, err := cf.load()
	if err != nil {
		return e.fail("%v", err)
	}
	domains := cfg.DirectDomains()
	if len(pos) == 1 {
		domains = []string{strings.ToLower(pos[0])}
	}
	if *address != "" {
		_, d, _ := strings.Cut(q.Peer, "@")
		domains = []string{d}
	}
	if len(domains) == 0 {
		return e.fail("no Direct domain is configured (set direct = true in a [[domain]])")
	}
	st, err := openStore(e.ctx, cfg)
	if err != nil {
		return e.fail("cannot open storage: %v", err)
	}
	defer st.Close()
	broken := false
	for _, d := range domains {
		if *verify {
			n, last, err := audit.Verify(e.ctx, st.Archive(), d)
			if err != nil {
				broken = true
				fmt.Fprintf(e.stdout, "%s: BROKEN after %d entries: %v\n", d, n, err)
				continue
			}
			fmt.Fprintf(e.stdout, "%s: %d entries, chain intact, last hash %s\n", d, n, last)
			continue
		}
		recs, err := audit.Read(e.ctx, st.Archive(), d, q)
		if err != nil {
			return e.fail("the audit trail of %s: %v", d, err)
		}
		for _, r := range recs {
			if *asJSON {
				b, _ := json.Marshal(r)
				fmt.Fprintln(e.stdout, string(b))
				continue
			}
			fmt.Fprintf(e.stdout, "%s %-15s %s %s %s", r.Time.Format(time.RFC3339), r.Event, r.Address, arrow(r.Event), r.Peer)
			if r.MessageID != "" {
				fmt.Fprintf(e.stdout, " %s", r.MessageID)
			}
			if r.Digest != "" {
				fmt.Fprintf(e.stdout, " sha256 %.16s", r.Digest)
			}
			if r.Rule != "" {
				fmt.Fprintf(e.stdout, " rule %s", r.Rule)
			}
			if r.Reason != "" {
				fmt.Fprintf(e.stdout, "\n    %s", strings.SplitN(r.Reason, "\n", 2)[0])
			}
			fmt.Fprintln(e.stdout)
		}
	}
	if broken {
		return 1
	}
	return 0
}

func arrow(event string) string {
	switch event {
	case audit.Received, audit.Rejected, audit.NotificationReceived:
		return "<-"
	}
	return "->"
}
