package messages

import (
	"encoding/base64"
	"fmt"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NS is the Direct message extension.
const NS = "urn:tern:direct:message:0"

// DefaultInlineMax bounds the S/MIME bytes carried in one stanza: with
// base64 and the stanza around it they stay under the default
// limits.max_s2s_stanza_bytes (512 KiB).
const DefaultInlineMax = 360 << 10

// element is the <direct/> extension carrying raw S/MIME bytes.
func element(messageID string, raw []byte) *xml.Element {
	return xml.New(NS, "direct", "message-id", messageID).SetText(base64.StdEncoding.EncodeToString(raw))
}

// parse reads the S/MIME bytes of a <direct/> element, at most max.
func parse(el *xml.Element, max int) ([]byte, error) {
	raw, err := el.Base64(max)
	if err != nil {
		return nil, fmt.Errorf("the <direct/> element's S/MIME bytes: %v", err)
	}
	return raw, nil
}
