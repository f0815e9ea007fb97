package xml

import (
	"strings"
)

// Building an element happens in two passes. While tokenizing, the
// Decoder records each token as offsets into the element's raw bytes
// (rec, arec: no allocation). Once the element is complete it makes one
// string holding the raw bytes plus every unescaped text or value, so all
// names and values are substrings of it, and allocates elements,
// attributes and child lists as one slice each. A typical message costs
// about five allocations.

const (
	kStart uint8 = iota
	kEnd
	kText
	kCDATA
)

type rec struct {
	kind   uint8
	self   bool  // kStart: <x/>
	esc    bool  // text: needs unescaping
	cont   bool  // text: continues the previous text node (text next to CDATA)
	more   bool  // text: followed by cont pieces
	off, n int32 // kStart: qualified name; text: raw data (later: the final string)
	a0, an int32 // kStart: attributes in arecs
	nchild int32 // kStart: child nodes, adjacent text merged
}

type arec struct {
	nOff, nN int32
	vOff, vN int32
	esc      bool
}

type binding struct{ prefix, uri string }

type frame struct {
	el   *Element
	mark int // len(ns) before the element's declarations
	fill int32
}

func (d *Decoder) begin() {
	d.recs, d.arecs, d.parents, d.last = d.recs[:0], d.arecs[:0], d.parents[:0], -1
}

// trim drops per-element scratch that grew large, so an idle session
// holds little.
func (d *Decoder) trim() {
	if cap(d.recs) > 256 {
		d.recs = nil
	}
	if cap(d.arecs) > 256 {
		d.arecs = nil
	}
	if cap(d.scratch) > 4096 {
		d.scratch = nil
	}
	if cap(d.parents) > 64 {
		d.parents = nil
	}
}

func (d *Decoder) record(tok *Token, base int64) {
	rel := int32(tok.Offset - base)
	switch tok.Kind {
	case StartElement:
		d.last = -1
		if len(d.parents) > 0 {
			d.recs[d.parents[len(d.parents)-1]].nchild++
		}
		r := rec{kind: kStart, self: tok.SelfClosing, off: rel + 1, n: int32(len(tok.Name)), a0: int32(len(d.arecs)), an: int32(len(tok.Attrs))}
		for i := range tok.Attrs {
			a := &tok.Attrs[i]
			d.arecs = append(d.arecs, arec{nOff: rel + a.nameRel, nN: int32(len(a.Name)), vOff: rel + a.valRel, vN: int32(len(a.Value)), esc: a.Escaped})
		}
		if !tok.SelfClosing {
			d.parents = append(d.parents, int32(len(d.recs)))
		}
		d.recs = append(d.recs, r)
	case EndElement:
		d.last = -1
		d.parents = d.parents[:len(d.parents)-1]
		d.recs = append(d.recs, rec{kind: kEnd})
	case CharData:
		if len(tok.Data) == 0 {
			return // <![CDATA[]]>: no node; the text around it still merges
		}
		r := rec{kind: kText, esc: tok.Escaped, off: rel, n: int32(len(tok.Data))}
		if tok.CDATA {
			r.kind, r.off = kCDATA, rel+9
		}
		if d.last >= 0 {
			r.cont = true
			d.recs[d.last].more = true
		} else {
			d.last = len(d.recs)
			d.recs[d.parents[len(d.parents)-1]].nchild++
		}
		d.recs = append(d.recs, r)
	}
}

func isDecl(name string) bool {
	return strings.HasPrefix(name, "xmlns") && (len(name) == 5 || name[5] == ':')
}

func (d *Decoder) build(base int64, header bool) (*Element, error) {
	raw := d.raw
	// Pass 1: unescape into scratch, count.
	sc := d.scratch[:0]
	nl := int32(len(raw))
	nEl, nAttr, nNode := 0, 0, 0
	for i := 0; i < len(d.recs); i++ {
		r := &d.recs[i]
		switch r.kind {
		case kStart:
			nEl++
			nNode += int(r.nchild)
			for j := r.a0; j < r.a0+r.an; j++ {
				a := &d.arecs[j]
				if !isDeclBytes(raw[a.nOff : a.nOff+a.nN]) {
					nAttr++
				}
				if a.esc {
					s0 := len(sc)
					sc = unescape(sc, raw[a.vOff:a.vOff+a.vN], modeAttr)
					a.vOff, a.vN = nl+int32(s0), int32(len(sc)-s0)
				}
			}
		case kText, kCDATA:
			if r.cont || !(r.esc || r.more) {
				continue
			}
			s0 := len(sc)
			sc = appendPiece(sc, raw, r)
			for k := i + 1; k < len(d.recs) && d.recs[k].cont; k++ {
				sc = appendPiece(sc, raw, &d.recs[k])
			}
			r.off, r.n = nl+int32(s0), int32(len(sc)-s0)
		}
	}
	d.scratch = sc
	var sb strings.Builder
	sb.Grow(len(raw) + len(sc))
	sb.Write(raw)
	sb.Write(sc)
	s := sb.String()

	// Pass 2: the tree.
	els := make([]Element, nEl)
	var attrs []Attr
	if nAttr > 0 {
		attrs = make([]Attr, nAttr)
	}
	var nodes []Node
	if nNode > 0 {
		nodes = make([]Node, nNode)
	}
	// The header's declarations are searched after the element's own
	// (scopes), so they are not copied per element.
	ns, hdr := d.ns[:0], d.hdrNS
	if header {
		hdr = nil
	}
	frames := d.frames[:0]
	hiNS, hiFrames := 0, 0
	ei, ai, ci := 0, 0, 0
	var err error
	for i := range d.recs {
		r := &d.recs[i]
		switch r.kind {
		case kStart:
			e := &els[ei]
			ei++
			mark := len(ns)
			for j := r.a0; j < r.a0+r.an; j++ {
				a := &d.arecs[j]
				name := s[a.nOff : a.nOff+a.nN]
				if isDecl(name) {
					if ns, err = declare(ns, name, s[a.vOff:a.vOff+a.vN], base+int64(a.nOff)); err != nil {
						return nil, d.fail(err, frames[:max(hiFrames, len(frames))], ns)
					}
					hiNS = max(hiNS, len(ns))
				}
			}
			if e.Space, e.Name, err = resolve(ns, hdr, s[r.off:r.off+r.n], true, base+int64(r.off)); err != nil {
				return nil, d.fail(err, frames[:max(hiFrames, len(frames))], ns[:hiNS])
			}
			k0 := ai
			for j := r.a0; j < r.a0+r.an; j++ {
				a := &d.arecs[j]
				name := s[a.nOff : a.nOff+a.nN]
				if isDecl(name) {
					continue
				}
				at := &attrs[ai]
				if at.Space, at.Name, err = resolve(ns, hdr, name, false, base+int64(a.nOff)); err != nil {
					return nil, d.fail(err, frames[:max(hiFrames, len(frames))], ns[:hiNS])
				}
				for p := k0; p < ai; p++ {
					if attrs[p].Name == at.Name && attrs[p].Space == at.Space {
						return nil, d.fail(&Error{Condition: CondNotWellFormed, Offset: base + int64(a.nOff),
							Msg: "duplicate attribute " + name + " (after namespace resolution)"}, frames[:max(hiFrames, len(frames))], ns[:hiNS])
					}
				}
				at.Value = s[a.vOff : a.vOff+a.vN]
				ai++
			}
			if ai > k0 {
				e.Attrs = attrs[k0:ai:ai]
			}
			if r.nchild > 0 {
				c := int(r.nchild)
				e.Children = nodes[ci : ci+c : ci+c]
				ci += c
			}
			if len(frames) > 0 {
				f := &frames[len(frames)-1]
				f.el.Children[f.fill] = e
				f.fill++
			}
			if r.self {
				if !header {
					ns = ns[:mark]
				}
			} else {
				frames = append(frames, frame{el: e, mark: mark})
				hiFrames = max(hiFrames, len(frames))
			}
		case kEnd:
			f := frames[len(frames)-1]
			ns = ns[:f.mark]
			frames = frames[:len(frames)-1]
		case kText, kCDATA:
			if r.cont {
				continue
			}
			f := &frames[len(frames)-1]
			f.el.Children[f.fill] = Text(s[r.off : r.off+r.n])
			f.fill++
		}
	}
	if header {
		d.hdrNS = append(d.hdrNS[:0], ns...)
		d.defNS = lookup(ns, nil, "")
	}
	d.release(frames[:hiFrames], ns[:hiNS])
	return &els[0], nil
}

func appendPiece(dst, raw []byte, r *rec) []byte {
	b := raw[r.off : r.off+r.n]
	switch {
	case !r.esc:
		return append(dst, b...)
	case r.kind == kCDATA:
		return unescape(dst, b, modeCDATA)
	}
	return unescape(dst, b, modeText)
}

func isDeclBytes(b []byte) bool {
	return len(b) >= 5 && string(b[:5]) == "xmlns" && (len(b) == 5 || b[5] == ':')
}

func (d *Decoder) fail(err error, frames []frame, ns []binding) error {
	d.release(frames, ns)
	return err
}

// release keeps the scratch slices but drops their references into the
// element (the used part, given by the caller), so an idle session does
// not pin the last stanza.
func (d *Decoder) release(frames []frame, ns []binding) {
	clear(frames)
	clear(ns)
	d.frames, d.ns = frames[:0], ns[:0]
	d.trim()
}

// lookup finds prefix in the element's scopes, then the header's.
func lookup(ns, hdr []binding, prefix string) string {
	uri, _ := find(ns, hdr, prefix)
	return uri
}

func find(ns, hdr []binding, prefix string) (string, bool) {
	for i := len(ns) - 1; i >= 0; i-- {
		if ns[i].prefix == prefix {
			return ns[i].uri, true
		}
	}
	for i := len(hdr) - 1; i >= 0; i-- {
		if hdr[i].prefix == prefix {
			return hdr[i].uri, true
		}
	}
	return "", false
}

// declare applies one xmlns or xmlns:p attribute (Namespaces in XML §3).
func declare(ns []binding, name, uri string, off int64) ([]binding, error) {
	bad := func(msg string) error {
		return &Error{Condition: CondBadNamespacePrefix, Offset: off, Msg: msg}
	}
	if len(name) == 5 {
		if uri == NSXML || uri == nsXMLNS {
			return ns, bad("the xml and xmlns namespaces cannot be the default namespace")
		}
		return append(ns, binding{"", intern(uri)}), nil
	}
	prefix := name[6:]
	switch {
	case prefix == "xmlns":
		return ns, bad("the xmlns prefix cannot be declared")
	case prefix == "xml":
		if uri != NSXML {
			return ns, bad("the xml prefix can only be bound to " + NSXML)
		}
		return ns, nil
	case uri == "":
		return ns, bad("xmlns:" + prefix + `="" cannot undeclare a prefix in XML 1.0`)
	case uri == NSXML || uri == nsXMLNS:
		return ns, bad("the xml and xmlns namespaces cannot be bound to another prefix")
	}
	return append(ns, binding{prefix, intern(uri)}), nil
}

// resolve splits a qualified name and finds its namespace. Unprefixed
// attributes have no namespace; unprefixed elements take the default.
func resolve(ns, hdr []binding, qname string, elem bool, off int64) (space, local string, err error) {
	colon := strings.IndexByte(qname, ':')
	if colon < 0 {
		if elem {
			return lookup(ns, hdr, ""), intern(qname), nil
		}
		return "", intern(qname), nil
	}
	prefix, local := qname[:colon], intern(qname[colon+1:])
	switch prefix {
	case "xml":
		return NSXML, local, nil
	case "xmlns":
		return "", "", &Error{Condition: CondBadNamespacePrefix, Offset: off, Msg: "element names cannot use the xmlns prefix"}
	}
	if uri, ok := find(ns, hdr, prefix); ok {
		return uri, local, nil
	}
	return "", "", &Error{Condition: CondBadNamespacePrefix, Offset: off, Msg: "prefix " + prefix + " is not bound to a namespace: declare it with xmlns:" + prefix}
}
