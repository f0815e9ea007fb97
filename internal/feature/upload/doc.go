// Package upload is HTTP File Upload (XEP-0363, urn:xmpp:http:upload:0):
// a service at <name>.<domain> (default upload.<domain>) hands a local
// user a slot, a PUT URL and a GET URL, and an HTTPS listener of its own
// ([upload] listen) takes the upload and serves it.
//
// XMPP side, on the service JID (router.Service, listed in the domain's
// disco#items, XEP-0030):
//
//   - §3: disco#info gives identity store/file, the feature and a
//     XEP-0128 form with max-file-size.
//   - §4: <request filename size content-type/> get returns
//     <slot><put url><header name='Authorization'>Bearer ...</header></put><get url/></slot>.
//     The GET URL holds a 192-bit random id (crypto/rand) and the file
//     name; the PUT needs a second secret, the Authorization header, so
//     the GET URL a user shares cannot be used to write. Only the
//     header's SHA-256 is kept.
//   - §5 errors: a file over max_file_size is not-acceptable with
//     <file-too-large><max-file-size/></file-too-large>; over the user's
//     quota (quota_bytes, uploads and open slots together) or over
//     slots_per_minute, resource-constraint (type wait) with <retry stamp/>
//     when a retry will do; a bad file name, size or content type,
//     bad-request; users of other servers, servers and components,
//     not-allowed.
//
// HTTP side (RFC 9110), on [upload] listen, always TLS (certificates by
// SNI, as the XMPP listeners):
//
//   - PUT of the slot's URL with its Authorization: the body is streamed
//     to a file beside the others (never held in memory), hashed, synced
//     and renamed into place; 201 Created. The Content-Length must be the
//     size asked (411 without one, 413 above it, 400 for less), the
//     Content-Type the one asked; a slot takes one upload (409 after), for
//     slot_timeout after it was handed (404 after: its space is freed); a
//     client that sends nothing for idle_timeout is cut off (the partial
//     file is removed: nothing half-uploaded is ever served).
//   - GET and HEAD of the URL serve the file (ranges too) with its type,
//     X-Content-Type-Options: nosniff and a Content-Security-Policy that
//     lets nothing run; files expire (expire, default one week) and go
//     with their owner's account. OPTIONS answers CORS preflights (web
//     clients such as converse.js PUT from another origin).
//
// The files live in [upload] dir (default <data_dir>/uploads): <id> with
// <id>.json beside it (owner, name, type, size, SHA-256, expiry); the
// index is read back at start, so slots and files survive restarts.
package upload
