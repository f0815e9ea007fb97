package c2s_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// TestAckNotKept: while the stanzas' archive copies cannot be written
// (Sync fails), <a h/> stays at the count already acknowledged, and a
// resumption reports that count too (it reported every stanza read, and
// the next <a/> went back below it); when copies were lost for good
// (ErrLost) the stream ends, so that no later ack covers them.
func TestAckNotKept(t *testing.T) {
	ts := newTestServer(t, nil)
	var failing atomic.Pointer[error]
	ts.r.OnSync(func(context.Context) error {
		if e := failing.Load(); e != nil {
			return *e
		}
		return nil
	})
	a := ts.connect(t)
	a.login()
	a.bind("a")
	a.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	en := a.next()
	if en == nil || en.Name != "enabled" {
		t.Fatalf("enable: %v", en)
	}
	ack := func(c *client) string {
		c.send("<r xmlns='urn:xmpp:sm:3'/>")
		for {
			el := c.next()
			if el == nil {
				t.Fatal("no <a/>")
			}
			if el.Space == stream.NSSM && el.Name == "a" {
				return el.Attr("h")
			}
		}
	}
	a.send("<presence/>")
	if h := ack(a); h != "1" {
		t.Fatalf("first ack h=%s, want 1", h)
	}
	slow := context.DeadlineExceeded
	failing.Store(&slow)
	a.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
	if h := ack(a); h != "1" {
		t.Fatalf("ack while the archive is not written: h=%s, want 1", h)
	}
	a.c.Close()

	b := ts.connect(t)
	b.login()
	b.send("<resume xmlns='urn:xmpp:sm:3' previd='" + en.Attr("id") + "' h='0'/>")
	for {
		el := b.next()
		if el == nil {
			t.Fatal("no <resumed/>")
		}
		if el.Name == "resumed" {
			if el.Attr("h") != "1" {
				t.Fatalf("resumed with h=%s, want 1 (the count kept)", el.Attr("h"))
			}
			break
		}
	}
	if h := ack(b); h != "1" {
		t.Fatalf("ack on the resumed stream: h=%s, want 1", h)
	}
	lost := storage.ErrLost
	failing.Store(&lost)
	b.send("<presence/>")
	if h := ack(b); h != "1" {
		t.Fatalf("ack after entries were lost: h=%s, want 1", h)
	}
	for {
		el := b.next()
		if el == nil {
			t.Fatal("the stream went on after entries were lost")
		}
		if el.Space == xml.NSStream && el.Name == "error" {
			if el.Child(stream.NSStreamErrors, "internal-server-error") == nil {
				t.Fatalf("stream error %s", el)
			}
			break
		}
	}
}
