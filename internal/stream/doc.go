// Package stream holds the XML stream mechanics shared by client and server
// streams (RFC 6120 §4): the stream header, stream errors (§4.9), feature
// namespaces (§4.3, §5, §6, §7) and the connection wrapper that enforces
// read deadlines (authentication time-out, keepalive).
package stream
