package xml

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
