package sasl

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"
)

// clientFirst is the part of an RFC 5802 §7 client-first-message this
// package decides on before handing the message to xdg-go/scram.
type clientFirst struct {
	flag     byte   // 'n', 'y' or 'p'
	cbName   string // with 'p'
	authzid  string // decoded, "" if absent
	username string // decoded saslname
}

var errMalformed = errors.New("malformed")

// parseClientFirst checks the syntax of
//
//	gs2-cbind-flag "," [ "a=" saslname ] "," "n=" saslname "," "r=" c-nonce ["," extensions]
func parseClientFirst(msg string) (c clientFirst, err error) {
	if !wellFormed(msg) {
		return c, errMalformed
	}
	f := strings.SplitN(msg, ",", 5)
	if len(f) < 4 {
		return c, errMalformed
	}
	switch {
	case f[0] == "n" || f[0] == "y":
		c.flag = f[0][0]
	case strings.HasPrefix(f[0], "p=") && isCBName(f[0][2:]):
		c.flag, c.cbName = 'p', f[0][2:]
	default:
		return c, errMalformed
	}
	if f[1] != "" {
		a, ok := strings.CutPrefix(f[1], "a=")
		if !ok {
			return c, errMalformed
		}
		if c.authzid, ok = decodeSaslname(a); !ok {
			return c, errMalformed
		}
	}
	// RFC 5802 §5.1: a mandatory extension ("m=") we don't know must fail.
	u, ok := strings.CutPrefix(f[2], "n=")
	if !ok {
		return c, errMalformed
	}
	if c.username, ok = decodeSaslname(u); !ok {
		return c, errMalformed
	}
	nonce, ok := strings.CutPrefix(f[3], "r=")
	if !ok || !isPrintable(nonce) {
		return c, errMalformed
	}
	if len(f) == 5 && !validExtensions(strings.Split(f[4], ",")) {
		return c, errMalformed
	}
	return c, nil
}

// checkClientFinal checks the syntax of
//
//	"c=" base64 "," "r=" nonce ["," extensions] "," "p=" base64
//
// and that the proof has the hash's size (xdg-go reports that as a generic
// error otherwise).
func checkClientFinal(msg string, hashSize int) error {
	if !wellFormed(msg) {
		return errMalformed
	}
	f := strings.Split(msg, ",")
	if len(f) < 3 {
		return errMalformed
	}
	cb, ok := strings.CutPrefix(f[0], "c=")
	if !ok {
		return errMalformed
	}
	if _, err := base64.StdEncoding.Strict().DecodeString(cb); err != nil {
		return errMalformed
	}
	if n, ok := strings.CutPrefix(f[1], "r="); !ok || !isPrintable(n) {
		return errMalformed
	}
	p, ok := strings.CutPrefix(f[len(f)-1], "p=")
	if !ok {
		return errMalformed
	}
	proof, err := base64.StdEncoding.Strict().DecodeString(p)
	if err != nil || len(proof) != hashSize {
		return errMalformed
	}
	if !validExtensions(f[2 : len(f)-1]) {
		return errMalformed
	}
	return nil
}

// validExtensions checks optional attr=value extensions; "m" is the
// reserved mandatory extension, which must fail (RFC 5802 §5.1).
func validExtensions(exts []string) bool {
	for _, ext := range exts {
		if len(ext) < 2 || ext[1] != '=' || !isAlpha(ext[0]) || ext[0] == 'm' {
			return false
		}
	}
	return true
}

// maxMessage bounds a SCRAM message; real ones are a few hundred octets.
const maxMessage = 8 << 10

func wellFormed(msg string) bool {
	return len(msg) <= maxMessage && utf8.ValidString(msg) && !strings.ContainsRune(msg, 0)
}

func isCBName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isPrintable is RFC 5802's printable: %x21-2B / %x2D-7E, at least one.
func isPrintable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// decodeSaslname undoes RFC 5802 §5.1's "=2C" / "=3D" escapes; a bare '='
// is an error, and the name may not be empty.
func decodeSaslname(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}
