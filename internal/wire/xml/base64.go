package xml

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ErrEmptyBase64 is Base64's error for an element with no content.
var ErrEmptyBase64 = errors.New("no base64 content")

// Base64 decodes the element's text as XML Schema base64Binary (white
// space between the characters allowed, as XEPs carrying data write it),
// refusing more than max decoded bytes before decoding anything.
func (e *Element) Base64(max int) ([]byte, error) {
	text := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, e.Text())
	if text == "" {
		return nil, ErrEmptyBase64
	}
	if base64.StdEncoding.DecodedLen(len(text)) > max+2 {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	out, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	if len(out) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return out, nil
}
