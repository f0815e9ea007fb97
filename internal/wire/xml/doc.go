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
//
// Specifications implemented:
//   - RFC 6120 §4.2-4.3 (stream header, restart: Decoder.Reset), §4.8
//     (stream namespaces: the header's declarations stay in scope),
//     §4.9.3 (error conditions: Error.Condition), §11 (XML usage).
//   - XML 1.0 (5th ed.) §2.2 Char, §2.3 names, §2.4 character data
//     (no "]]>"), §2.7 CDATA sections (accepted as text), §2.8 the XML
//     declaration (only at the very start; UTF-8 only, RFC 6120 §11.6),
//     §2.11 line ends, §3 tags and attributes (unique, no '<' in values),
//     §3.3.3 attribute-value normalization, §4.1 references.
//   - Namespaces in XML 1.0 (3rd ed.) §3-§6: QNames, the reserved xml and
//     xmlns prefixes, scoping, attribute uniqueness after resolution.
//
// Choices where the specs leave room:
//   - Non-whitespace text directly inside the stream root is "bad-format":
//     it is well-formed XML, but RFC 6120 gives it no meaning.
//   - All namespace declaration errors (unbound prefix, xmlns:xml bound
//     elsewhere, xmlns:p="", reserved namespaces) are
//     "bad-namespace-prefix"; undefined entities are "restricted-xml".
//   - Elements are built in two passes: tokens are recorded as offsets,
//     then one string holds every name and value of the element, and the
//     elements, attributes and child lists are one allocation each.
package xml
