package xml

import "strings"

// Attr is one attribute of an element. Namespace declarations (xmlns, xmlns:p)
// are not kept as attributes: the decoder resolves them into Space fields and
// the encoder writes the declarations it needs.
type Attr struct {
	Space string // namespace URI; "" for unprefixed attributes (the common case)
	Name  string // local name
	Value string // unescaped value
}

// Element is a parsed element tree: one stanza, one stream feature, one child.
// Children keep document order; text between child elements is kept as Text
// nodes so mixed content (XHTML-IM) round-trips.
type Element struct {
	Space    string // namespace URI (resolved, never a prefix)
	Name     string // local name
	Attrs    []Attr
	Children []Node
}

// Node is *Element, Text or Raw.
type Node interface{ isNode() }

// Text is character data (unescaped).
type Text string

// Raw is serialized XML written as it is: one or more whole elements that
// declare their own namespaces, which the server serialized itself (an
// archived message put back into a result without parsing it again).
// Never input from the network: nothing checks it. Child and Elements do
// not see into it.
type Raw []byte

func (*Element) isNode() {}
func (Text) isNode()     {}
func (Raw) isNode()      {}

// New returns an element with the given namespace, local name and
// attribute pairs (name, value, name, value...).
func New(space, name string, attrs ...string) *Element {
	n := len(attrs) / 2
	if n <= 2 {
		// One allocation for the element and its attributes (a stanza-id,
		// a delay stamp: built for every message).
		s := &struct {
			e Element
			a [2]Attr
		}{e: Element{Space: space, Name: name}}
		for i := range n {
			s.a[i] = Attr{Name: attrs[2*i], Value: attrs[2*i+1]}
		}
		if n > 0 {
			s.e.Attrs = s.a[:n:n]
		}
		return &s.e
	}
	e := &Element{Space: space, Name: name, Attrs: make([]Attr, n)}
	for i := range n {
		e.Attrs[i] = Attr{Name: attrs[2*i], Value: attrs[2*i+1]}
	}
	return e
}

// Attr returns the value of the unprefixed attribute name, or "".
func (e *Element) Attr(name string) string {
	for i := range e.Attrs {
		if e.Attrs[i].Space == "" && e.Attrs[i].Name == name {
			return e.Attrs[i].Value
		}
	}
	return ""
}

// HasAttr reports whether the unprefixed attribute name is present.
func (e *Element) HasAttr(name string) bool {
	for i := range e.Attrs {
		if e.Attrs[i].Space == "" && e.Attrs[i].Name == name {
			return true
		}
	}
	return false
}

// SetAttr sets (or, with value "", removes) an unprefixed attribute.
func (e *Element) SetAttr(name, value string) *Element {
	for i := range e.Attrs {
		if e.Attrs[i].Space == "" && e.Attrs[i].Name == name {
			if value == "" {
				e.Attrs = append(e.Attrs[:i], e.Attrs[i+1:]...)
			} else {
				e.Attrs[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attrs = append(e.Attrs, Attr{Name: name, Value: value})
	}
	return e
}

// Append adds children and returns e, for building trees inline.
func (e *Element) Append(children ...Node) *Element {
	e.Children = append(e.Children, children...)
	return e
}

// SetText replaces all children with one text node.
func (e *Element) SetText(s string) *Element {
	e.Children = e.Children[:0]
	if s != "" {
		e.Children = append(e.Children, Text(s))
	}
	return e
}

// Child returns the first child element with the namespace and local name
// ("" matches any), or nil.
func (e *Element) Child(space, name string) *Element {
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok && (space == "" || c.Space == space) && (name == "" || c.Name == name) {
			return c
		}
	}
	return nil
}

// Elements returns the child elements, skipping text.
func (e *Element) Elements() []*Element {
	var out []*Element
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok {
			out = append(out, c)
		}
	}
	return out
}

// FirstElement returns the first child element, or nil.
func (e *Element) FirstElement() *Element {
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok {
			return c
		}
	}
	return nil
}

// Text returns the concatenated direct text children.
func (e *Element) Text() string {
	var b strings.Builder
	for _, n := range e.Children {
		if t, ok := n.(Text); ok {
			b.WriteString(string(t))
		}
	}
	return b.String()
}

// ChildText returns the text of the first matching child, or "".
func (e *Element) ChildText(space, name string) string {
	if c := e.Child(space, name); c != nil {
		return c.Text()
	}
	return ""
}

// RemoveChildren removes every child element with the namespace and name.
// It builds a new child list rather than compacting in place, because
// readdressed stanzas share their children's backing array.
func (e *Element) RemoveChildren(space, name string) {
	var out []Node
	for i, n := range e.Children {
		if c, ok := n.(*Element); ok && c.Space == space && c.Name == name {
			if out == nil {
				out = append(make([]Node, 0, len(e.Children)-1), e.Children[:i]...)
			}
			continue
		}
		if out != nil {
			out = append(out, n)
		}
	}
	if out != nil {
		e.Children = out
	}
}

// Copy returns a deep copy, so a stanza can be rewritten per recipient.
func (e *Element) Copy() *Element {
	c := &Element{Space: e.Space, Name: e.Name}
	if len(e.Attrs) > 0 {
		c.Attrs = append([]Attr(nil), e.Attrs...)
	}
	if len(e.Children) > 0 {
		c.Children = make([]Node, len(e.Children))
		for i, n := range e.Children {
			if ce, ok := n.(*Element); ok {
				c.Children[i] = ce.Copy()
			} else {
				c.Children[i] = n
			}
		}
	}
	return c
}
