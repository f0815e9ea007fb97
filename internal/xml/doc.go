// Package xml is tern's XML layer for XMPP streams: a streaming,
// namespace-aware tokenizer that accepts only the restricted XML of
// RFC 6120 §11 (no DTD, comments, processing instructions or entity
// declarations; predefined entities and character references only; valid
// UTF-8 and XML Char ranges), builds one Element per top-level stream child
// under size, depth and attribute limits, and a serializer that writes
// correct namespace declarations and escapes.
//
// It never needs more input than the element it returns: the stream header
// is returned as soon as its '>' arrives, so an interactive peer is never
// kept waiting (unlike some lexers that read ahead).
package xml
