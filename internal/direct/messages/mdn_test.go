package messages

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// TestReadNotification: RFC 3798 reports as Direct senders write them.
func TestReadNotification(t *testing.T) {
	report := func(fields string) []byte {
		return []byte("From: nurse@b.example\r\nTo: drjones@a.example\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/report; report-type=disposition-notification; boundary=\"b1\"\r\n\r\n" +
			"--b1\r\nContent-Type: text/plain\r\n\r\nProcessed.\r\n" +
			"--b1\r\nContent-Type: message/disposition-notification\r\n\r\n" + fields + "\r\n--b1--\r\n")
	}
	for _, c := range []struct {
		name, fields       string
		disposition, final string
		err                bool
	}{
		{"tern", "Reporting-UA: b.example; tern\r\nFinal-Recipient: rfc822; nurse@b.example\r\nOriginal-Message-ID: <1@a.example>\r\nDisposition: automatic-action/MDN-sent-automatically;processed\r\n",
			"processed", "nurse@b.example", false},
		{"spaces, a modifier", "Final-Recipient: rfc822;Nurse@B.example\r\nOriginal-Message-ID: <1@a.example>\r\nDisposition: automatic-action/MDN-sent-automatically; dispatched/error\r\n",
			"dispatched", "nurse@b.example", false},
		{"no original id", "Disposition: automatic-action/MDN-sent-automatically;processed\r\n", "", "", true},
		{"original id not a msg-id", "Original-Message-ID: 1@a.example\r\nDisposition: automatic-action/MDN-sent-automatically;processed\r\n", "", "", true},
		{"folded id", "Original-Message-ID: <1@a.example>\r\n Bcc: x@y\r\nDisposition: automatic-action/MDN-sent-automatically;processed\r\n", "", "", true},
		{"dispatched, final", "Original-Message-ID: <1@a.example>\r\nFinal-Recipient: rfc822; nurse@b.example\r\nX-DIRECT-FINAL-DESTINATION-DELIVERY:\r\nDisposition: automatic-action/MDN-sent-automatically;dispatched\r\n",
			"dispatched", "nurse@b.example", false},
		{"unknown disposition", "Original-Message-ID: <1@a.example>\r\nDisposition: automatic-action/MDN-sent-automatically;exploded\r\n", "", "", true},
	} {
		n, err := readNotification(bytes.NewReader(report(c.fields)))
		if c.err {
			if err == nil {
				t.Errorf("%s: accepted %+v", c.name, n)
			}
			continue
		}
		if err != nil || n == nil || n.Disposition != c.disposition || n.Recipient != c.final || n.OriginalID != "<1@a.example>" {
			t.Errorf("%s: %+v, %v", c.name, n, err)
		}
	}
	if n, err := readNotification(strings.NewReader("From: a@b\r\nContent-Type: text/plain\r\n\r\nhello\r\n")); n != nil || err != nil {
		t.Errorf("a plain message read as a notification: %+v %v", n, err)
	}
}

// TestDispatchRequested: the option as the Implementation Guide writes it
// (any case, spaces), and a garbled one (ETT MT 40) that asks for nothing.
func TestDispatchRequested(t *testing.T) {
	for v, want := range map[string]bool{
		"X-DIRECT-FINAL-DESTINATION-DELIVERY=optional,true":                                                   true,
		"x-direct-final-destination-delivery = Required , TRUE":                                               true,
		"signed-receipt-protocol=optional,pkcs7-signature; X-DIRECT-FINAL-DESTINATION-DELIVERY=optional,true": true,
		"X-XXXX-FINAL-X-DELXXXX=optioXXX,tXX":                                                                 false,
		"X-DIRECT-FINAL-DESTINATION-DELIVERY=optional,false":                                                  false,
		"X-DIRECT-FINAL-DESTINATION-DELIVERY":                                                                 false,
	} {
		msg := []byte("From: a@b\r\nDisposition-Notification-Options: " + v + "\r\n\r\nhi\r\n")
		if got := dispatchRequested(bytes.NewReader(msg)); got != want {
			t.Errorf("%q: %v; want %v", v, got, want)
		}
	}
	if dispatchRequested(strings.NewReader("From: a@b\r\n\r\nhi\r\n")) {
		t.Error("no option header: requested")
	}
}

// TestStripForeign: only <direct/> of this namespace survives in a message
// tern did not make.
func TestStripForeign(t *testing.T) {
	el, err := xml.Parse([]byte("<message xmlns='jabber:client'><body>hi</body><verified xmlns='" + NS + "' message-id='&lt;1@a&gt;'/>" +
		"<direct xmlns='" + NS + "'>QUJD</direct><notification xmlns='" + NS + "'/></message>"))
	if err != nil {
		t.Fatal(err)
	}
	if !stripForeign(el) || el.Child(NS, "verified") != nil || el.Child(NS, "notification") != nil || el.Child(NS, "direct") == nil || el.Child(xml.NSClient, "body") == nil {
		t.Errorf("after stripping: %s", el)
	}
	if stripForeign(el) {
		t.Error("a second pass found something")
	}
}

func TestReadNotificationFinalDestination(t *testing.T) {
	msg := "From: nurse@b.example\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: message/disposition-notification\r\n\r\nOriginal-Message-ID: <1@a.example>\r\n" +
		"X-DIRECT-FINAL-DESTINATION-DELIVERY:\r\nDisposition: automatic-action/MDN-sent-automatically;dispatched\r\n\r\n--b1--\r\n"
	if n, err := readNotification(strings.NewReader(msg)); err != nil || n == nil || !n.FinalDestination {
		t.Errorf("%+v %v; want the X-DIRECT field seen", n, err)
	}
	if n, _ := readNotification(strings.NewReader(strings.Replace(msg, "X-DIRECT-FINAL-DESTINATION-DELIVERY:\r\n", "", 1))); n == nil || n.FinalDestination {
		t.Errorf("%+v; want a dispatched without the field", n)
	}
}
