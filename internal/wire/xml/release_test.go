package xml

import (
	"io"
	"testing"
)

func TestReleaseBetweenElements(t *testing.T) {
	pr, pw := io.Pipe()
	d := NewDecoder(pr, DefaultLimits)
	go func() {
		pw.Write([]byte("<stream:stream xmlns='jabber:client' xmlns:stream='" + NSStream + "'>"))
		pw.Write([]byte("<message to='a@b'><body>one</body></message>"))
		pw.Write([]byte("<message to='a@b'><body>two</body></message>"))
		pw.Write([]byte("</stream:stream>"))
		pw.Close()
	}()
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	el, err := d.ReadElement()
	if err != nil || el.ChildText("", "body") != "one" {
		t.Fatalf("first element %v, %v", el, err)
	}
	if d.Buffered() == 0 && !d.Release() {
		t.Fatal("Release refused with nothing buffered")
	}
	el, err = d.ReadElement()
	if err != nil || el.ChildText("", "body") != "two" {
		t.Fatalf("after Release: %v, %v", el, err)
	}
	if _, err := d.ReadElement(); err != ErrStreamEnd {
		t.Fatalf("end: %v, want ErrStreamEnd", err)
	}
}
