package smime

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

// A small BER reader (X.690 §8.1): enough to walk a CMS structure that a
// sender streamed with indefinite lengths, to read its algorithm
// identifiers before anything is decrypted. encoding/asn1 reads DER only.

type tlv struct {
	tag     byte   // the identifier octet (low tag numbers only: CMS has no others)
	full    []byte // the whole encoding, header to end (end-of-contents included)
	content []byte // the contents; for an indefinite length, its children without the end-of-contents
}

const maxDepth = 32

var errBER = errors.New("malformed BER")

// parseTLV reads one value at the start of b.
func parseTLV(b []byte, depth int) (tlv, []byte, error) {
	if depth > maxDepth {
		return tlv{}, nil, fmt.Errorf("%w: nested deeper than %d", errBER, maxDepth)
	}
	if len(b) < 2 {
		return tlv{}, nil, fmt.Errorf("%w: truncated", errBER)
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return tlv{}, nil, fmt.Errorf("%w: high tag numbers are not used in CMS", errBER)
	}
	l, i := int(b[1]), 2
	switch {
	case l < 0x80:
	case l == 0x80:
		if tag&0x20 == 0 {
			return tlv{}, nil, fmt.Errorf("%w: indefinite length on a primitive value", errBER)
		}
		rest := b[2:]
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				n := len(b) - len(rest)
				return tlv{tag: tag, full: b[:n+2], content: b[2:n]}, rest[2:], nil
			}
			_, r, err := parseTLV(rest, depth+1)
			if err != nil {
				return tlv{}, nil, err
			}
			rest = r
		}
	default:
		n := l & 0x7f
		if n > 4 || len(b) < 2+n {
			return tlv{}, nil, fmt.Errorf("%w: bad length", errBER)
		}
		l = 0
		for _, c := range b[2 : 2+n] {
			l = l<<8 | int(c)
		}
		i = 2 + n
		if l < 0 {
			return tlv{}, nil, fmt.Errorf("%w: bad length", errBER)
		}
	}
	if len(b)-i < l {
		return tlv{}, nil, fmt.Errorf("%w: truncated", errBER)
	}
	return tlv{tag: tag, full: b[:i+l], content: b[i : i+l]}, b[i+l:], nil
}

// children reads the constructed value at the start of b, which must have
// tag want, and returns its children.
func children(b []byte, want byte) ([]tlv, error) {
	t, _, err := parseTLV(b, 0)
	if err != nil {
		return nil, err
	}
	if t.tag != want {
		return nil, fmt.Errorf("%w: tag %#x where %#x was expected", errBER, t.tag, want)
	}
	if t.tag&0x20 == 0 {
		return nil, fmt.Errorf("%w: a primitive value where a constructed one was expected", errBER)
	}
	var out []tlv
	for rest := t.content; len(rest) > 0; {
		c, r, err := parseTLV(rest, 1)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		rest = r
	}
	return out, nil
}

func oidOf(t tlv) (asn1.ObjectIdentifier, error) {
	if t.tag != 0x06 {
		return nil, fmt.Errorf("%w: tag %#x where an OBJECT IDENTIFIER was expected", errBER, t.tag)
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(t.full, &oid); err != nil {
		return nil, fmt.Errorf("%w: %v", errBER, err)
	}
	return oid, nil
}
