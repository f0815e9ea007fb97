package xml

import "strconv"

// Namespaces the stream layer and the serializer know by name.
const (
	NSStream = "http://etherx.jabber.org/streams"
	NSClient = "jabber:client"
	NSServer = "jabber:server"
	NSXML    = "http://www.w3.org/XML/1998/namespace" // the xml: prefix, e.g. xml:lang
	nsXMLNS  = "http://www.w3.org/2000/xmlns/"        // may never be bound (Namespaces in XML §3)
)

// Limits bounds what one peer can make the decoder buffer or build. They
// are checked while tokenizing, before any tree is built (server-pitfalls
// §1). A zero field means its DefaultLimits value.
type Limits struct {
	MaxStanzaBytes int // bytes of one top-level element including markup
	MaxHeaderBytes int // bytes of the stream header start tag (and of an XML declaration)
	MaxDepth       int // nesting depth inside a stanza; the stanza itself is depth 1
	MaxAttrs       int // attributes per element, xmlns declarations included
	// Names are what error texts call each limit, e.g. the configuration
	// key that set it, so a peer or an operator reading the stream error
	// knows what to change. An empty name: the text gives the value alone.
	Names LimitNames
}

// LimitNames name the Limits fields in error texts.
type LimitNames struct {
	StanzaBytes, HeaderBytes, Depth, Attrs string
}

// DefaultLimits are Prosody's c2s defaults (256 KiB stanzas, XEP-0478).
var DefaultLimits = Limits{
	MaxStanzaBytes: 256 << 10,
	MaxHeaderBytes: 4 << 10,
	MaxDepth:       64,
	MaxAttrs:       64,
}

// withDefaults fills zero fields.
func (l Limits) withDefaults() Limits {
	if l.MaxStanzaBytes <= 0 {
		l.MaxStanzaBytes = DefaultLimits.MaxStanzaBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultLimits.MaxHeaderBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = DefaultLimits.MaxAttrs
	}
	return l
}

// describe renders a limit for an error text: "name (value unit)", or
// "value unit" without a name.
func describe(name string, v int, unit string) string {
	val := strconv.Itoa(v)
	if unit != "" {
		val += " " + unit
	}
	if name == "" {
		return val
	}
	return name + " (" + val + ")"
}

func (l Limits) stanzaText() string {
	return "stanza larger than " + describe(l.Names.StanzaBytes, l.MaxStanzaBytes, "bytes")
}

func (l Limits) headerText() string {
	return "stream header larger than " + describe(l.Names.HeaderBytes, l.MaxHeaderBytes, "bytes")
}

func (l Limits) depthText() string {
	return "elements nested deeper than " + describe(l.Names.Depth, l.MaxDepth, "levels")
}

func (l Limits) attrsText() string {
	return "more attributes on one element than " + describe(l.Names.Attrs, l.MaxAttrs, "")
}
