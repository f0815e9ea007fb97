package stream

// Namespaces of stream-level elements.
const (
	NSStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
	NSTLS          = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL         = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind         = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession      = "urn:ietf:params:xml:ns:xmpp-session"
	NSSASLCB       = "urn:xmpp:sasl-cb:0"
	NSRosterVer    = "urn:xmpp:features:rosterver"
	NSPreApproval  = "urn:xmpp:features:pre-approval"
	NSRegisterFeat = "http://jabber.org/features/iq-register"
	NSLimits       = "urn:xmpp:stream-limits:0"
	NSSM           = "urn:xmpp:sm:3" // XEP-0198 stream management
)
