package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/messages"
	"github.com/tern-xmpp/tern/internal/ops/server"
	"github.com/tern-xmpp/tern/internal/storage"
)

const directInboxHelp = `Usage: tern direct inbox ADDRESS [--json]
       tern direct show ADDRESS ID
       tern direct export ADDRESS ID --out DIR
        [--config FILE] [--data DIR]

The Direct messages a local address received and accepted, kept encrypted to
its certificate (docs/direct-messages.md). inbox lists them (ID, time, sender,
subject, parts); show prints one message's headers and text and names its
documents; export writes its documents into DIR, with message.eml, the signed
RFC 5322 message. Decrypting needs the address's key (tern direct cert add with
--key) and the server's secret, in the data directory. The signer's trust shown
is the verdict made when the message arrived.
`

func cmdDirectInbox(e *env, op string, args []string) int {
	fs := e.flags("direct "+op, directInboxHelp)
	var cf configFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "inbox: one JSON object per message")
	out := fs.String("out", "", "export: the `directory` to write the documents in")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	want := map[string]int{"inbox": 1, "show": 2, "export": 2}[op]
	if len(pos) != want {
		return e.usageError(fs, "write tern direct inbox ADDRESS, show ADDRESS ID or export ADDRESS ID --out DIR")
	}
	if op == "export" && *out == "" {
		return e.usageError(fs, "export needs --out DIR")
	}
	address := strings.ToLower(pos[0])
	cfg, err := cf.load()
	if err != nil {
		return e.fail("%v", err)
	}
	st, err := openStore(e.ctx, cfg)
	if err != nil {
		return e.fail("cannot open storage: %v", err)
	}
	defer st.Close()
	secret, err := server.SealingKey(cfg)
	if err != nil {
		return e.fail("%v", err)
	}
	keys, err := server.NewDirectKeys(st.DirectCerts(), secret)
	if err != nil {
		return e.fail("%v", err)
	}
	kept, err := messages.Inbox(e.ctx, st.Archive(), address, storage.Query{})
	if err != nil {
		return e.fail("the inbox of %s: %v", address, err)
	}
	if op == "inbox" {
		for _, k := range kept {
			subject, names := "(cannot decrypt)", []string{}
			if opened, err := messages.OpenKept(e.ctx, k, keys, address, cfg.DirectDir(), os.TempDir()); err == nil {
				var docs []messages.Document
				subject, docs = messages.Documents(opened)
				opened.Close()
				for _, d := range docs {
					if d.Name != "" {
						names = append(names, d.Name)
					}
				}
			}
			if *asJSON {
				b, _ := json.Marshal(map[string]any{"id": k.ID, "received": k.Received, "from": k.From, "message_id": k.MessageID,
					"subject": subject, "attachments": names, "signer": k.Signer, "bound": k.Bound})
				fmt.Fprintln(e.stdout, string(b))
				continue
			}
			fmt.Fprintf(e.stdout, "%s  %s  %-24s %q  %s\n", k.ID, k.Received.Format(time.RFC3339), k.From, subject, strings.Join(names, ", "))
		}
		if !*asJSON {
			fmt.Fprintf(e.stdout, "%d message(s)\n", len(kept))
		}
		return 0
	}
	var k *messages.Kept
	for i := range kept {
		if kept[i].ID == pos[1] {
			k = &kept[i]
		}
	}
	if k == nil {
		return e.fail("no message %s in the inbox of %s (tern direct inbox %s lists them)", pos[1], address, address)
	}
	opened, err := messages.OpenKept(e.ctx, *k, keys, address, cfg.DirectDir(), os.TempDir())
	if err != nil {
		return e.fail("message %s does not open: %v", k.ID, err)
	}
	defer opened.Close()
	subject, docs := messages.Documents(opened)
	if op == "show" {
		w := e.stdout
		fmt.Fprintf(w, "From:       %s\nSubject:    %s\nMessage-ID: %s\nReceived:   %s\n", k.From, subject, k.MessageID, k.Received.Format(time.RFC3339))
		fmt.Fprintf(w, "Verified:   signed by %s (%s-bound), %s, %s, at receipt\n", k.Signer, k.Bound, k.Cipher, k.Digest)
		for _, d := range docs {
			if d.Name != "" {
				fmt.Fprintf(w, "Attachment: %s (%s, %d bytes)\n", d.Name, d.Type, d.Size)
			}
		}
		for _, d := range docs {
			if d.Name == "" && strings.HasPrefix(d.Type, "text/") {
				text := d.Text
				if d.Data != nil {
					text = string(d.Data)
				}
				fmt.Fprintf(w, "\n%s", text)
				break
			}
		}
		return 0
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return e.fail("%v", err)
	}
	// A new file each time: never over an existing file or through a
	// link a document's name could point at; a clash gets a suffix.
	write := func(name string, data io.Reader) (string, error) {
		ext := filepath.Ext(name)
		for i := 0; i < 1000; i++ {
			try := name
			if i > 0 {
				try = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(name, ext), i, ext)
			}
			path := filepath.Join(*out, try)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
			if errors.Is(err, os.ErrExist) {
				continue
			}
			if err != nil {
				return "", err
			}
			if _, err := io.Copy(f, data); err != nil {
				f.Close()
				return "", err
			}
			return path, f.Close()
		}
		return "", fmt.Errorf("%s: 1000 files of that name already in %s", name, *out)
	}
	msgPath, err := write("message.eml", opened.Reader())
	if err != nil {
		return e.fail("%v", err)
	}
	n := 1
	for i, d := range docs {
		if d.Name == "" {
			continue
		}
		name := filepath.Base(filepath.Clean("/" + d.Name)) // never outside DIR
		if name == "/" || name == "." || name == "message.eml" {
			name = fmt.Sprintf("part-%d", i+1)
		}
		if d.Size < 0 {
			return e.fail("%s could not be taken out of the message: check the space in %s", d.Name, os.TempDir())
		}
		var data io.Reader = bytes.NewReader(d.Data)
		if d.Path != "" {
			f, err := os.Open(d.Path)
			if err != nil {
				return e.fail("%v", err)
			}
			defer f.Close()
			data = f
		}
		path, err := write(name, data)
		if err != nil {
			return e.fail("%v", err)
		}
		n++
		fmt.Fprintf(e.stdout, "wrote %s (%d bytes)\n", path, d.Size)
	}
	fmt.Fprintf(e.stdout, "wrote %s; %d file(s)\n", msgPath, n)
	return 0
}
