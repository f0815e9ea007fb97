package server

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/messages"
	"github.com/tern-xmpp/tern/internal/direct/sealed"
	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/storage"
)

// directKeys opens the private keys `tern direct cert add` sealed.
type directKeys struct {
	store storage.DirectCerts
	box   *sealed.Box
}

type keyed struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// of returns who's certificates that have a key, opened.
func (k *directKeys) of(ctx context.Context, who string) ([]keyed, error) {
	rows, err := k.store.Certs(ctx, who)
	if err != nil {
		return nil, err
	}
	var out []keyed
	for _, r := range rows {
		if r.Key == nil {
			continue
		}
		c, err := x509.ParseCertificate(r.DER)
		if err != nil {
			continue
		}
		der, err := k.box.Open(r.Key, who+"/"+r.SHA256)
		if err != nil {
			return nil, fmt.Errorf("the key of %s %s does not open with this server's secret: %w", who, r.SHA256[:12], err)
		}
		key, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, err
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			continue
		}
		out = append(out, keyed{c, s})
	}
	return out, nil
}

func (k *directKeys) both(ctx context.Context, address string) ([]keyed, error) {
	own, err := k.of(ctx, address)
	if err != nil {
		return nil, err
	}
	_, domain, _ := strings.Cut(address, "@")
	dom, err := k.of(ctx, domain)
	return append(own, dom...), err
}

// Signer implements messages.Keys: the newest certificate valid now,
// allowed to sign and bound to the address (or its domain): what any
// receiver would refuse is never used.
func (k *directKeys) Signer(ctx context.Context, address string) (smime.Signer, error) {
	all, err := k.both(ctx, address)
	if err != nil {
		return smime.Signer{}, err
	}
	now := time.Now()
	for i := len(all) - 1; i >= 0; i-- {
		c := all[i].cert
		if now.After(c.NotBefore) && now.Before(c.NotAfter) && (c.KeyUsage == 0 || c.KeyUsage&x509.KeyUsageDigitalSignature != 0) &&
			trust.BoundTo(c, address) != "" {
			return smime.Signer{Cert: c, Key: all[i].key}, nil
		}
	}
	return smime.Signer{}, fmt.Errorf("none is valid now, allowed to sign and bound to %s (its SAN)", address)
}

// Recipients implements messages.Keys.
func (k *directKeys) Recipients(ctx context.Context, address string) ([]smime.Recipient, error) {
	all, err := k.both(ctx, address)
	var out []smime.Recipient
	for _, c := range all {
		out = append(out, smime.Recipient{Cert: c.cert, Key: c.key})
	}
	return out, err
}

// SendPart is one file of a `tern direct send`, as the CLI passes it.
type SendPart struct {
	Filename string `json:"filename"`
	Data     string `json:"data,omitempty"` // base64
	Path     string `json:"path,omitempty"` // a large file the server reads (absolute)
}

// handleSend serves `tern direct send`.
func handleSend(ctl *control.Server, m *messages.Module) {
	ctl.Handle("direct.send", func(ctx context.Context, args map[string]string) (string, error) {
		if m == nil || m.Keys == nil {
			return "", errNoDirect
		}
		var parts []SendPart
		if err := json.Unmarshal([]byte(args["parts"]), &parts); err != nil {
			return "", fmt.Errorf("the files: %v", err)
		}
		msg := smime.Message{From: args["from"], Subject: args["subject"]}
		for _, r := range strings.Split(args["to"], ",") {
			if r = strings.TrimSpace(r); r != "" {
				msg.To = append(msg.To, r)
			}
		}
		if len(msg.To) == 0 {
			return "", errors.New("no recipient: give --to ADDRESS")
		}
		if t := args["text"]; t != "" {
			msg.Parts = append(msg.Parts, smime.Part{Data: []byte(t)})
		}
		for _, p := range parts {
			if p.Path != "" { // sealed as it is read, never whole in memory
				if err := checkPart(p.Path, m.MaxMessageBytes()); err != nil {
					return "", fmt.Errorf("%s: %v", p.Filename, err)
				}
				msg.Parts = append(msg.Parts, smime.Part{Filename: p.Filename, Path: p.Path})
				continue
			}
			data, err := base64.StdEncoding.DecodeString(p.Data)
			if err != nil {
				return "", fmt.Errorf("%s: %v", p.Filename, err)
			}
			msg.Parts = append(msg.Parts, smime.Part{Filename: p.Filename, Data: data})
		}
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		b, err := json.Marshal(m.Send(ctx, msg))
		return string(b), err
	})
}

// NewDirectKeys opens the keys `tern direct cert add` sealed in store with
// the server's secret (the CLI's inbox, show and export use it).
func NewDirectKeys(store storage.DirectCerts, secret []byte) (messages.Keys, error) {
	box, err := sealed.New(secret)
	if err != nil {
		return nil, err
	}
	return &directKeys{store: store, box: box}, nil
}

// checkPart checks a file `tern direct send` names by path: absolute, a
// regular file the server can read, at most max bytes.
func checkPart(path string, max int64) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: not an absolute path", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("the server cannot read it: %v (it reads large files itself: make them readable by the user tern runs as)", err)
	}
	defer f.Close()
	info, err := f.Stat()
	switch {
	case err != nil:
		return err
	case !info.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case info.Size() > max:
		return fmt.Errorf("%d bytes, larger than [directmessages] max_message_bytes (%d)", info.Size(), max)
	}
	return nil
}
