package xml

import (
	"bytes"
	"io"
)

var standaloneHeader = []byte("<stream:stream xmlns='jabber:client' xmlns:stream='" + NSStream + "'>")

// Parse decodes one standalone element (a stored stanza, a vCard) with the
// same restricted-XML rules and default limits as a stream. Elements
// written with Append(buf, e, e.Space) come back in jabber:client when they
// carry no namespace declaration of their own.
func Parse(b []byte) (*Element, error) {
	d := NewDecoder(io.MultiReader(bytes.NewReader(standaloneHeader), bytes.NewReader(b)), Limits{
		MaxStanzaBytes: max(len(b)+1, DefaultLimits.MaxStanzaBytes), MaxHeaderBytes: DefaultLimits.MaxHeaderBytes,
		MaxDepth: DefaultLimits.MaxDepth, MaxAttrs: DefaultLimits.MaxAttrs,
	})
	if _, err := d.ReadHeader(); err != nil {
		return nil, err
	}
	return d.ReadElement()
}
