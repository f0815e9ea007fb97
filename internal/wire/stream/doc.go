// Package stream holds the XML stream mechanics shared by client and server
// streams (RFC 6120 §4): the stream header, stream errors (§4.9), feature
// namespaces (§4.3, §5, §6, §7), the connection wrapper that enforces
// read deadlines (authentication time-out, keepalive), and Output, the one
// write path of every transport (queue, flusher, bound, close), framed by
// TCP today and by WebSocket (RFC 7395) or BOSH (XEP-0206) tomorrow.
package stream
