package storage

import "errors"

// idAlphabet is base32hex in lower case: digits sort below letters, so
// fixed-width ids compare as strings in the order of the numbers they hold.
const idAlphabet = "0123456789abcdefghijklmnopqrstuv"

// idLen digits of 5 bits hold a non-negative int64 (63 bits).
const idLen = 13

var errBadID = errors.New("storage: malformed archive id")

// EncodeID renders a backend row id (n >= 0) as an archive id: opaque to
// callers, so none does arithmetic on ids, yet ordered like n, as string
// comparison of two ids gives the order of their rows. For backends only.
func EncodeID(n int64) string {
	if n < 0 {
		panic("storage: negative archive row id")
	}
	var b [idLen]byte
	for i := idLen - 1; i >= 0; i-- {
		b[i] = idAlphabet[n&31]
		n >>= 5
	}
	return string(b[:])
}

// DecodeID is the inverse of EncodeID; it accepts only what EncodeID
// produces (one spelling per id), else it returns an error.
func DecodeID(s string) (int64, error) {
	if len(s) != idLen || s[0] > '7' {
		return 0, errBadID
	}
	var n int64
	for i := 0; i < idLen; i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'v':
			d = c - 'a' + 10
		default:
			return 0, errBadID
		}
		n = n<<5 | int64(d)
	}
	return n, nil
}
