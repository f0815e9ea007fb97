package messages

import "testing"

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
		{"unknown disposition", "Original-Message-ID: <1@a.example>\r\nDisposition: automatic-action/MDN-sent-automatically;exploded\r\n", "", "", true},
	} {
		n, err := readNotification(report(c.fields))
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
	if n, err := readNotification([]byte("From: a@b\r\nContent-Type: text/plain\r\n\r\nhello\r\n")); n != nil || err != nil {
		t.Errorf("a plain message read as a notification: %+v %v", n, err)
	}
}
