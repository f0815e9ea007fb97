// Package serverinfo holds the small modules that answer questions about
// the server itself, one file each:
//   - Ping: XMPP Ping (XEP-0199 §4.2 client-to-server, §4.3 to an
//     account); the server's own keepalive pings are c2s's.
//   - Version: Software Version (XEP-0092), the 'os' element left out
//     unless configured (§4: privacy).
//   - Time: Entity Time (XEP-0202), UTC in the XEP-0082 profile.
//   - Contacts: Contact Addresses for XMPP Services (XEP-0157), an
//     extended disco#info form (XEP-0128) per domain.
package serverinfo
