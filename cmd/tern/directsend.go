package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/direct/messages"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/ops/server"
	"github.com/tern-xmpp/tern/internal/storage"
)

// inlineFiles is how much file data a request to the server carries
// (base64 within the control socket's 16 MiB bound); above, paths.
const inlineFiles = 8 << 20

const directSendHelp = `Usage: tern direct send --from ADDRESS --to ADDRESS[,ADDRESS...] [--subject TEXT] [--text TEXT] [FILE...]
        [--config FILE] [--data DIR]

Sends a Direct message through the running server: an RFC 5322 message with the
text and each FILE as a part (C-CDA, PDF, anything), wrapped, signed with the
sender's certificate (its own, else its domain's: tern direct cert add with
--key) and encrypted to every trusted certificate discovery finds for each
recipient (docs/direct-discovery.md), then carried over XMPP
(docs/direct-messages.md). A recipient without a trusted certificate gets
nothing. Prints one line per recipient: sent, or FAILED and why.
Exit status: 0 when every recipient was sent to, 1 otherwise, 2 on bad usage.
`

func cmdDirectSend(e *env, args []string) int {
	fs := e.flags("direct send", directSendHelp)
	var cf configFlags
	cf.register(fs)
	from := fs.String("from", "", "the sender, a local Direct `address`")
	to := fs.String("to", "", "the recipients, comma-separated `addresses`")
	subject := fs.String("subject", "", "the message's `subject`")
	text := fs.String("text", "", "the message's `text`")
	wait := fs.Duration("wait", 15*time.Second, "how long to wait for each recipient's notifications (processed, dispatched, failed) before returning; 0: return once sent")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if *from == "" || *to == "" {
		return e.usageError(fs, "give --from and --to")
	}
	if *text == "" && len(pos) == 0 {
		return e.usageError(fs, "nothing to send: give --text or files")
	}
	var parts []server.SendPart
	total := int64(0)
	for _, f := range pos {
		st, err := os.Stat(f)
		if err != nil || !st.Mode().IsRegular() {
			fmt.Fprintf(e.stderr, "tern direct send: %s: not a readable file (%v)\n", f, err)
			return 2
		}
		total += st.Size()
	}
	for _, f := range pos {
		// Small files travel in the request; large ones by path, read by
		// the server (the control socket's requests are bounded).
		if total > inlineFiles {
			abs, _ := filepath.Abs(f)
			parts = append(parts, server.SendPart{Filename: filepath.Base(f), Path: abs})
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(e.stderr, "tern direct send: %v\n", err)
			return 2
		}
		parts = append(parts, server.SendPart{Filename: filepath.Base(f), Data: base64.StdEncoding.EncodeToString(b)})
	}
	if total > inlineFiles {
		fmt.Fprintf(e.stdout, "%d bytes of files: the server reads them from their paths and sends the message by reference\n", total)
	}
	cfg, err := cf.load()
	if err != nil {
		return e.fail("%v", err)
	}
	pj, _ := json.Marshal(parts)
	started := time.Now()
	stopProgress := func() {}
	if total > inlineFiles {
		stopProgress = progress(e, fmt.Sprintf("sealing and storing %d bytes for each recipient", total))
	}
	res, err := control.Call(e.ctx, cfg.ControlSocket(), "direct.send", map[string]string{
		"from": *from, "to": *to, "subject": *subject, "text": *text, "parts": string(pj)})
	stopProgress()
	if errors.Is(err, control.ErrNotRunning) {
		return e.fail("%v: start the server, or point --config/--data at its data directory (messages are sent by the server)", err)
	}
	if err != nil {
		return e.fail("%v", err)
	}
	var outs []messages.Outcome
	if err := json.Unmarshal([]byte(res), &outs); err != nil {
		return e.fail("the server's answer: %v", err)
	}
	failed := 0
	for _, o := range outs {
		if o.Sent {
			fmt.Fprintf(e.stdout, "%s: %s\n", o.Recipient, o.Detail)
		} else {
			failed++
			fmt.Fprintf(e.stdout, "%s: FAILED: %s\n", o.Recipient, o.Detail)
		}
	}
	if *wait > 0 && failed < len(outs) {
		failed += e.awaitNotifications(cfg, strings.ToLower(*from), outs, started, *wait)
	}
	if failed > 0 {
		fmt.Fprintf(e.stdout, "%d of %d recipient(s) not sent to or failed\n", failed, len(outs))
		return 1
	}
	return 0
}

// progress prints what is under way every few seconds on stderr until
// the returned func is called.
func progress(e *env, what string) func() {
	done := make(chan struct{})
	start := time.Now()
	fmt.Fprintf(e.stderr, "%s...\n", what)
	go func() {
		t := time.NewTicker(3 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(e.stderr, "%s: %s so far\n", what, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { close(done) }
}

// awaitNotifications follows the sender's audit trail until each sent
// recipient is dispatched or failed, or wait ends, printing each
// notification as it comes; it returns how many failed.
func (e *env) awaitNotifications(cfg *config.Config, from string, outs []messages.Outcome, since time.Time, wait time.Duration) int {
	st, err := openStore(e.ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "tern direct send: the notifications cannot be followed (%v): tern direct log shows them\n", err)
		return 0
	}
	defer st.Close()
	_, domain, _ := strings.Cut(from, "@")
	state := map[string]string{} // Message-ID -> "" (sent), processed, dispatched, failed
	rcpt := map[string]string{}
	for _, o := range outs {
		if o.Sent && o.MessageID != "" {
			state[o.MessageID], rcpt[o.MessageID] = "", o.Recipient
		}
	}
	fmt.Fprintf(e.stdout, "waiting up to %s for the notifications (--wait)\n", wait)
	deadline, after, failed := time.Now().Add(wait), "", 0
	for {
		recs, err := audit.Read(e.ctx, st.Archive(), domain, storage.Query{Start: since.Add(-time.Second), AfterID: after})
		if err != nil {
			fmt.Fprintf(e.stderr, "tern direct send: the audit trail: %v\n", err)
			return failed
		}
		for _, r := range recs {
			after = r.ID
			s, ok := state[r.MessageID]
			if !ok || r.Address != from || !strings.EqualFold(r.Peer, rcpt[r.MessageID]) || s == "dispatched" || s == "failed" {
				continue
			}
			switch {
			case r.Event == audit.NotificationReceived && (r.Rule == "processed" || r.Rule == "dispatched") && s != r.Rule:
				state[r.MessageID] = r.Rule
				fmt.Fprintf(e.stdout, "%s: %s %s\n", rcpt[r.MessageID], r.Rule, map[string]string{"processed": "(accepted by its server: decrypted, verified, trusted)",
					"dispatched": "(delivered to the recipient)"}[r.Rule])
			case r.Event == audit.NotificationReceived && (r.Rule == "failed" || r.Rule == "denied" || r.Rule == "deleted"),
				r.Event == audit.RefusedByPeer, r.Event == audit.Failed:
				state[r.MessageID] = "failed"
				failed++
				why := r.Reason
				if r.Event == audit.NotificationReceived {
					why = r.Rule + " (its server's notification)"
					if r.Reason != "" {
						why += ": " + r.Reason
					}
				}
				if r.Event == audit.RefusedByPeer {
					why = "refused by its server (rule " + r.Rule + "): " + r.Reason
				}
				fmt.Fprintf(e.stdout, "%s: FAILED: %s\n", rcpt[r.MessageID], firstLine(why))
			}
		}
		open := 0
		for _, s := range state {
			if s != "dispatched" && s != "failed" {
				open++
			}
		}
		if open == 0 {
			return failed
		}
		if time.Now().After(deadline) {
			for id, s := range state {
				if s == "" {
					fmt.Fprintf(e.stdout, "%s: no notification yet (tern direct log --address %s shows it when it comes)\n", rcpt[id], from)
				} else if s == "processed" {
					fmt.Fprintf(e.stdout, "%s: not dispatched yet: the recipient has not fetched it (tern direct log --address %s)\n", rcpt[id], from)
				}
			}
			return failed
		}
		select {
		case <-e.ctx.Done():
			return failed
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
