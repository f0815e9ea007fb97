package main

import (
	"errors"
	"strconv"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// nsSM is XEP-0198 stream management.
const nsSM = "urn:xmpp:sm:3"

// enableSM turns stream management on (XEP-0198 §3), as modern clients
// do, so the load includes the server's acknowledgement work.
func (c *conn) enableSM() error {
	if c.feats.Child(nsSM, "sm") == nil {
		return errors.New("server offers no stream management (urn:xmpp:sm:3)")
	}
	if err := c.writeString("<enable xmlns='" + nsSM + "'/>"); err != nil {
		return err
	}
	for {
		el, err := c.read()
		if err != nil {
			return err
		}
		switch {
		case el.Space == nsSM && el.Name == "enabled":
			c.sm = true
			return nil
		case el.Space == nsSM && el.Name == "failed":
			return errors.New("stream management refused: " + el.FirstElement().Name)
		}
	}
}

// smHandle counts a stanza the reader took, or answers the server's ack
// request; it reports whether el was a stream management element.
func (c *conn) smHandle(el *xml.Element) bool {
	if !c.sm {
		return false
	}
	if el.Space == nsSM {
		if el.Name == "r" {
			_ = c.writeString("<a xmlns='" + nsSM + "' h='" + strconv.FormatUint(uint64(c.smH), 10) + "'/>")
		}
		return true
	}
	switch el.Name {
	case "message", "presence", "iq":
		c.smH++
	}
	return false
}
