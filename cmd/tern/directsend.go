package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tern-xmpp/tern/internal/direct/messages"
	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/ops/server"
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
	res, err := control.Call(e.ctx, cfg.ControlSocket(), "direct.send", map[string]string{
		"from": *from, "to": *to, "subject": *subject, "text": *text, "parts": string(pj)})
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
	if failed > 0 {
		fmt.Fprintf(e.stdout, "%d of %d recipient(s) not sent to\n", failed, len(outs))
		return 1
	}
	return 0
}
