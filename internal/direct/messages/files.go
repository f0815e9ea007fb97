package messages

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Files is what this module needs of HTTP File Upload (module upload).
type Files interface {
	// Serving reports whether the service is on.
	Serving() bool
	// Keep stores data as owner's file and returns its download URL.
	Keep(owner, domain, name, ctype string, data []byte) (url string, err error)
	// Find returns the first file of the service that text links to
	// (its path /upload/<id>/, whatever host), with its owner, name, type,
	// path on disk and size; url "" when none.
	Find(text string) (url, owner, name, ctype, path string, size int64)
	// KeepFile is Keep for the contents of the file at path.
	KeepFile(owner, domain, name, ctype, path string) (url string, err error)
	// Delete removes the file behind one of the service's download URLs.
	Delete(url string) error
}

// NSOOB is XEP-0066's out-of-band data in messages.
const NSOOB = "jabber:x:oob"

// links keeps each document of an accepted message as a file of its
// recipient's and adds the download links to the chat message: the body,
// a <part url/>, and XEP-0066 <x/> as clients show attachments. The links
// are capabilities (192-bit random) delivered only to the recipient's
// clients; they expire with [upload] expire; the inbox keeps the message.
func (m *Module) links(to jid.JID, chat *router.Stanza, parts []partInfo) {
	if m.files == nil || chat == nil {
		return
	}
	v := chat.El.Child(NS, "verified")
	var lines []string
	i := 0
	for _, p := range parts {
		if p.name == "" || p.size < 0 {
			continue
		}
		var el *xml.Element
		for ; i < len(v.Children); i++ { // the <part/> of the same document, in order
			if e, ok := v.Children[i].(*xml.Element); ok && e.Name == "part" && e.Attr("name") == p.name {
				el = e
				i++
				break
			}
		}
		var u string
		var err error
		if p.path != "" {
			u, err = m.files.KeepFile(to.String(), to.Domain(), p.name, p.ctype, p.path)
		} else {
			u, err = m.files.Keep(to.String(), to.Domain(), p.name, p.ctype, p.data)
		}
		if err != nil {
			m.log.Error("received Direct document not kept for download: check the upload directory", "to", to.String(), "name", p.name, "err", err)
			continue
		}
		if el != nil {
			el.SetAttr("url", u)
		}
		lines = append(lines, p.name+": "+u)
		chat.El.Append(xml.New(NSOOB, "x").Append(xml.New(NSOOB, "url").SetText(u), xml.New(NSOOB, "desc").SetText(p.name)))
	}
	if len(lines) > 0 {
		if b := chat.El.Child(xml.NSClient, "body"); b != nil {
			b.SetText(b.Text() + "\n\nDownload (links for you only):\n" + strings.Join(lines, "\n"))
		}
	}
}

// uploaded sends a file a user of a Direct domain uploaded (XEP-0363)
// and then shared with a contact at another domain as a Direct message:
// signed, encrypted to the contact's certificates, tracked like `tern
// direct send` (inline or by reference, sealed from the file), not as the
// link in the clear. Any other message that would carry a link to a file
// of this server out of a Direct domain (someone else's file, the link
// inside other text, to a room) is refused: a Direct domain sends no
// document unencrypted.
func (m *Module) uploaded(ev *router.Event) bool {
	st := ev.Stanza
	if st.Kind != stanza.Message || st.Type == "error" || !m.Direct(st.From.Domain()) ||
		strings.EqualFold(st.To.Domain(), st.From.Domain()) {
		return false
	}
	link, owner, name, _, path, size := m.files.Find(st.El.String())
	if link == "" {
		return false
	}
	held := ev.Hold(openTimeout+30*time.Second, stanza.ErrRemoteServerTimeout.WithText("direct: the file could not be sent as a Direct message in time"))
	if held == nil {
		return false
	}
	shared := linkOf(st.El)
	if owner != st.From.Bare().String() || st.To.Local() == "" || st.Type == "groupchat" || shared == "" || !strings.Contains(shared, "/upload/") {
		held.Bounce(stanza.ErrNotAcceptable.WithText("direct: a link to a file on this server does not leave a Direct domain in the clear; share your own upload on its own with one contact, and it goes as a Direct message"))
		return false
	}
	if size > m.cfg.MaxMessageBytes {
		held.Bounce(stanza.ErrNotAcceptable.WithText(fmt.Sprintf("direct: %s is %d bytes; Direct messages are at most %d ([directmessages] max_message_bytes)", name, size, m.cfg.MaxMessageBytes)))
		return false
	}
	// Ours from here: a hold that times out later must not leave the
	// client thinking nothing went when the message did.
	if !held.Take() {
		return false
	}
	orig := st
	from, to, id := st.From.Bare(), st.To.Bare(), st.ID
	text := strings.TrimSpace(bodyOf(st.El))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout+25*time.Second)
		defer cancel()
		msg := smime.Message{From: from.String(), To: []string{to.String()}, Subject: name}
		if text != "" && text != shared {
			msg.Parts = append(msg.Parts, smime.Part{Data: []byte(strings.ReplaceAll(text, shared, name))})
		}
		msg.Parts = append(msg.Parts, smime.Part{Filename: name, Path: path}) // sealed from the file, streaming
		out := m.Send(ctx, msg)
		if len(out) != 1 || !out[0].Sent {
			why := "not sent"
			if len(out) == 1 {
				why = out[0].Detail
			}
			m.r.ReplyError(context.Background(), orig, stanza.ErrNotAcceptable.WithText("direct: the file was not sent as a Direct message: "+why))
			return
		}
		// The sender's clients learn what became of their message; the
		// processed notification follows as for any Direct message.
		notice := xml.New(xml.NSClient, "message", "from", from.Domain(), "to", from.String(), "type", "normal", "id", id+"-direct")
		notice.Append(xml.New(xml.NSClient, "body").SetText(fmt.Sprintf("Your file %s was sent to %s as a Direct message, signed and encrypted: %s.", name, to, out[0].Detail)))
		notice.Append(xml.New(NS, "sent", "to", to.String(), "name", name))
		if n, err := router.NewStanza(notice); err == nil {
			m.send(context.Background(), n)
		}
		m.log.Info("uploaded file sent as a Direct message", "from", from.String(), "to", to.String(), "name", name, "size", size, "detail", out[0].Detail)
	}()
	return false
}

// linkOf is the URL a message shares: its XEP-0066 <x><url/></x>, else a
// body that is nothing but a URL (as clients send an upload).
func linkOf(el *xml.Element) string {
	if x := el.Child(NSOOB, "x"); x != nil {
		if u := x.Child(NSOOB, "url"); u != nil {
			return strings.TrimSpace(u.Text())
		}
	}
	if b := strings.TrimSpace(bodyOf(el)); strings.HasPrefix(b, "https://") && !strings.ContainsAny(b, " \n\t") {
		return b
	}
	return ""
}

func bodyOf(el *xml.Element) string {
	if b := el.Child(xml.NSClient, "body"); b != nil {
		return b.Text()
	}
	return ""
}
