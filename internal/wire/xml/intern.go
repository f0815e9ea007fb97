package xml

// intern returns a constant for common names and namespaces, so that long
// lived references (a stanza's name kept in a map, a namespace) do not pin
// the whole stanza string they were cut from.
func intern(s string) string {
	switch s {
	case "message":
		return "message"
	case "presence":
		return "presence"
	case "iq":
		return "iq"
	case "body":
		return "body"
	case "subject":
		return "subject"
	case "thread":
		return "thread"
	case "show":
		return "show"
	case "status":
		return "status"
	case "priority":
		return "priority"
	case "query":
		return "query"
	case "error":
		return "error"
	case "to":
		return "to"
	case "from":
		return "from"
	case "id":
		return "id"
	case "type":
		return "type"
	case "lang":
		return "lang"
	case "c":
		return "c"
	case "x":
		return "x"
	case "item":
		return "item"
	case "ping":
		return "ping"
	case "r", "a":
		if s == "r" {
			return "r"
		}
		return "a"
	case NSClient:
		return NSClient
	case NSServer:
		return NSServer
	case NSStream:
		return NSStream
	case "urn:ietf:params:xml:ns:xmpp-stanzas":
		return "urn:ietf:params:xml:ns:xmpp-stanzas"
	case "urn:xmpp:ping":
		return "urn:xmpp:ping"
	case "urn:xmpp:sm:3":
		return "urn:xmpp:sm:3"
	case "http://jabber.org/protocol/caps":
		return "http://jabber.org/protocol/caps"
	case "http://jabber.org/protocol/chatstates":
		return "http://jabber.org/protocol/chatstates"
	case "jabber:iq:roster":
		return "jabber:iq:roster"
	case "urn:xmpp:receipts":
		return "urn:xmpp:receipts"
	}
	return s
}
