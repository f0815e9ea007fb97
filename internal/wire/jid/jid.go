package jid

// JID is a prepared XMPP address. The zero value is the empty JID
// (IsZero). A JID is comparable with == and Equal, since it holds only the
// canonical text and the offsets of its parts.
type JID struct {
	s      string // canonical form: [local@]domain[/resource]
	dstart uint16 // start of the domainpart (0 when there is no localpart)
	dend   uint16 // end of the domainpart
}

// Local returns the localpart, or "" if there is none.
func (j JID) Local() string {
	if j.dstart == 0 {
		return ""
	}
	return j.s[:j.dstart-1]
}

// Domain returns the domainpart.
func (j JID) Domain() string { return j.s[j.dstart:j.dend] }

// Resource returns the resourcepart, or "" if there is none.
func (j JID) Resource() string {
	if int(j.dend) >= len(j.s) {
		return ""
	}
	return j.s[j.dend+1:]
}

// Bare returns the JID without its resourcepart (local@domain).
func (j JID) Bare() JID { return JID{s: j.s[:j.dend], dstart: j.dstart, dend: j.dend} }

// DomainJID returns the JID made of the domainpart alone.
func (j JID) DomainJID() JID {
	return JID{s: j.s[j.dstart:j.dend], dstart: 0, dend: j.dend - j.dstart}
}

// WithResource returns the bare JID with resourcepart r (prepared with
// OpaqueString). An empty r returns the bare JID.
func (j JID) WithResource(r string) (JID, error) {
	if j.IsZero() {
		return JID{}, errZeroJID
	}
	if r == "" {
		return j.Bare(), nil
	}
	res, err := prepareResource(r)
	if err != nil {
		return JID{}, err
	}
	b := j.Bare()
	return JID{s: b.s + "/" + res, dstart: b.dstart, dend: b.dend}, nil
}

// IsZero reports whether j is the zero JID.
func (j JID) IsZero() bool { return j.s == "" }

// IsBare reports whether j has no resourcepart.
func (j JID) IsBare() bool { return !j.IsZero() && int(j.dend) == len(j.s) }

// IsDomain reports whether j has neither localpart nor resourcepart.
func (j JID) IsDomain() bool { return !j.IsZero() && j.dstart == 0 && int(j.dend) == len(j.s) }

// String returns the canonical form local@domain/resource.
func (j JID) String() string { return j.s }

// Equal reports whether j and o are the same address. Both are prepared, so
// this is a byte comparison of their canonical forms.
func (j JID) Equal(o JID) bool { return j.s == o.s }
