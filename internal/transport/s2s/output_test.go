package s2s

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// An s2s stream's output is the shared stream.Output with s2s framing:
// dialback elements carry the db: prefix, a drained notification comes
// once the peer has read what was sent, and the close ends it.
func TestStreamOutput(t *testing.T) {
	ca := newCA(t)
	n := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool)
	x, y := net.Pipe()
	defer y.Close()
	c := newConn(n.s, x, true, false)
	got := make(chan string)
	go func() { b, _ := io.ReadAll(y); got <- string(b) }()

	c.send(xml.New(NSDialback, "result", "from", "a.test", "to", "b.test").SetText("key"))
	c.send(xml.New(xml.NSClient, "message", "to", "bob@b.test"))
	drained := make(chan bool, 1)
	c.output.NotifyDrained(func(ok bool) { drained <- ok })
	select {
	case ok := <-drained:
		if !ok {
			t.Fatal("drained: not ok on an open stream")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no drained notification")
	}
	c.close(stream.NewError("system-shutdown", ""))
	c.output.NotifyDrained(func(ok bool) { drained <- ok })
	if <-drained {
		t.Error("drained after the close: ok")
	}
	out := <-got // the connection was closed after the final flush
	for _, want := range []string{`<db:result from="a.test" to="b.test">key</db:result>`, `<message to="bob@b.test"/>`, `<system-shutdown `, `</stream:stream>`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s: %s", want, out)
		}
	}
}
