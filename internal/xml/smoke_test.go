package xml

import (
	"bytes"
	"testing"
)

func TestSmoke(t *testing.T) {
	s := recordedStream(30)
	hdr, els, err := decodeAll(bytes.NewReader(s), Limits{})
	t.Log(dump(hdr), len(els), err)
	for _, e := range els[:6] {
		t.Log(dump(e))
		t.Log(string(Append(nil, e, NSClient)))
	}
}
