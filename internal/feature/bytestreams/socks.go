package bytestreams

import (
	"fmt"
	"io"
)

// SOCKS5 constants (RFC 1928, RFC 1929).
const (
	socksVersion    = 0x05
	methodNoAuth    = 0x00
	methodUserPass  = 0x02
	methodNone      = 0xFF // RFC 1928 §3: no acceptable methods
	userPassVersion = 0x01 // RFC 1929 §2
	cmdConnect      = 0x01
	atypIPv4        = 0x01
	atypDomain      = 0x03
	atypIPv6        = 0x04

	// RFC 1928 §6 replies.
	repSucceeded        = 0x00
	repGeneralFailure   = 0x01
	repNotAllowed       = 0x02
	repCommandNotSupp   = 0x07
	repAddrTypeNotSupp  = 0x08
	hashLen             = 40 // XEP-0065 §5.3.2: hex SHA-1
	maxMethods          = 255
	maxUserPassFieldLen = 255
)

// handshakeError is a malformed or refused SOCKS5 handshake: Problem names
// it for the log, Reply is what the client was told (already written).
type handshakeError struct {
	Stage   string // greeting, auth, request
	Problem string
}

func (e *handshakeError) Error() string { return "socks5 " + e.Stage + ": " + e.Problem }

func hsErr(stage, format string, args ...any) *handshakeError {
	return &handshakeError{Stage: stage, Problem: fmt.Sprintf(format, args...)}
}

// authFunc checks an RFC 1929 username/password and returns the owner.
type authFunc func(user, pass string) (owner string, problem string)

// request is a parsed, accepted SOCKS5 CONNECT: the XEP-0065 DST.ADDR hash.
type request struct {
	owner string // the credential's owner ("" without authentication)
	hash  string
	port  uint16
}

// serverHandshake runs the server side of RFC 1928 (greeting, method
// selection, request) with RFC 1929 authentication when auth is not nil
// (then "no authentication" is refused). On success the CONNECT reply is
// not yet written (the caller registers the connection first, then calls
// writeReply). Every failure writes the RFC's reply and returns a
// *handshakeError naming the problem. Lengths are bounded by the one-byte
// fields of the protocol: at most 1+1+255 + 1+1+255+1+255 + 4+1+255+2 bytes.
func serverHandshake(rw io.ReadWriter, auth authFunc) (request, error) {
	var req request
	var b [2]byte
	// RFC 1928 §3: VER NMETHODS METHODS
	if _, err := io.ReadFull(rw, b[:2]); err != nil {
		return req, hsErr("greeting", "connection ended before the version and method count: %v", err)
	}
	if b[0] != socksVersion {
		return req, hsErr("greeting", "version %#x, want 5 (SOCKS5, RFC 1928)", b[0])
	}
	n := int(b[1])
	if n == 0 {
		rw.Write([]byte{socksVersion, methodNone})
		return req, hsErr("greeting", "no authentication methods offered (NMETHODS = 0)")
	}
	var methods [maxMethods]byte
	if _, err := io.ReadFull(rw, methods[:n]); err != nil {
		return req, hsErr("greeting", "connection ended within the %d methods: %v", n, err)
	}
	want := byte(methodNoAuth)
	if auth != nil {
		want = methodUserPass
	}
	found := false
	for _, m := range methods[:n] {
		if m == want {
			found = true
		}
	}
	if !found {
		rw.Write([]byte{socksVersion, methodNone})
		if auth != nil {
			return req, hsErr("greeting", "methods %x offered, but this proxy requires username/password (0x02, RFC 1929) with a one-time credential", methods[:n])
		}
		return req, hsErr("greeting", "methods %x offered, but this proxy takes no authentication (0x00)", methods[:n])
	}
	if _, err := rw.Write([]byte{socksVersion, want}); err != nil {
		return req, hsErr("greeting", "cannot reply: %v", err)
	}
	if auth != nil {
		// RFC 1929 §2: VER ULEN UNAME PLEN PASSWD
		if _, err := io.ReadFull(rw, b[:2]); err != nil {
			return req, hsErr("auth", "connection ended before the username: %v", err)
		}
		if b[0] != userPassVersion {
			rw.Write([]byte{userPassVersion, 0x01})
			return req, hsErr("auth", "username/password version %#x, want 1 (RFC 1929)", b[0])
		}
		var user, pass [maxUserPassFieldLen]byte
		ulen := int(b[1])
		if ulen == 0 {
			rw.Write([]byte{userPassVersion, 0x01})
			return req, hsErr("auth", "empty username (ULEN = 0)")
		}
		if _, err := io.ReadFull(rw, user[:ulen]); err != nil {
			return req, hsErr("auth", "connection ended within the %d-byte username: %v", ulen, err)
		}
		if _, err := io.ReadFull(rw, b[:1]); err != nil {
			return req, hsErr("auth", "connection ended before the password length: %v", err)
		}
		plen := int(b[0])
		if plen == 0 {
			rw.Write([]byte{userPassVersion, 0x01})
			return req, hsErr("auth", "empty password (PLEN = 0)")
		}
		if _, err := io.ReadFull(rw, pass[:plen]); err != nil {
			return req, hsErr("auth", "connection ended within the %d-byte password: %v", plen, err)
		}
		owner, problem := auth(string(user[:ulen]), string(pass[:plen]))
		if problem != "" {
			rw.Write([]byte{userPassVersion, 0x01})
			return req, hsErr("auth", "login refused: %s", problem)
		}
		if _, err := rw.Write([]byte{userPassVersion, 0x00}); err != nil {
			return req, hsErr("auth", "cannot reply: %v", err)
		}
		req.owner = owner
	}
	// RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT
	var h [4]byte
	if _, err := io.ReadFull(rw, h[:]); err != nil {
		return req, hsErr("request", "connection ended before the request: %v", err)
	}
	if h[0] != socksVersion {
		writeReply(rw, repGeneralFailure, "")
		return req, hsErr("request", "version %#x in the request, want 5", h[0])
	}
	if h[1] != cmdConnect {
		writeReply(rw, repCommandNotSupp, "")
		return req, hsErr("request", "command %#x, only CONNECT (1) is supported (XEP-0065 §6.3.2)", h[1])
	}
	if h[3] != atypDomain {
		writeReply(rw, repAddrTypeNotSupp, "")
		return req, hsErr("request", "address type %#x, want a domain name (3) carrying the SHA-1 hash (XEP-0065 §5.3.2)", h[3])
	}
	if _, err := io.ReadFull(rw, b[:1]); err != nil {
		return req, hsErr("request", "connection ended before the address length: %v", err)
	}
	alen := int(b[0])
	var addr [255 + 2]byte
	if _, err := io.ReadFull(rw, addr[:alen+2]); err != nil {
		return req, hsErr("request", "connection ended within the %d-byte address and port: %v", alen, err)
	}
	req.port = uint16(addr[alen])<<8 | uint16(addr[alen+1])
	if alen != hashLen || !isLowerHex(addr[:alen]) {
		writeReply(rw, repAddrTypeNotSupp, "")
		return req, hsErr("request", "address %q is not the 40 lowercase hex digits of SHA1(SID + requester JID + target JID) (XEP-0065 §5.3.2)", addr[:min(alen, 64)])
	}
	req.hash = string(addr[:alen])
	return req, nil
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// writeReply writes an RFC 1928 §6 reply; hash (the DST.ADDR the client
// sent) is echoed as BND.ADDR with port 0, as XEP-0065 §6.3.2 shows.
func writeReply(w io.Writer, rep byte, hash string) error {
	if hash == "" {
		_, err := w.Write([]byte{socksVersion, rep, 0, atypIPv4, 0, 0, 0, 0, 0, 0})
		return err
	}
	b := make([]byte, 0, 7+len(hash))
	b = append(b, socksVersion, rep, 0, atypDomain, byte(len(hash)))
	b = append(b, hash...)
	b = append(b, 0, 0)
	_, err := w.Write(b)
	return err
}
