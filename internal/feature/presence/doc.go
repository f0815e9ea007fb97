// Package presence implements presence exchange for local users (RFC 6121
// §4): initial presence with probes and delivery of pending subscription
// requests, broadcast to subscribers and the user's other resources,
// directed presence, answers to probes, and unavailable presence when a
// session ends for whatever reason (close, time-out, replacement).
package presence
