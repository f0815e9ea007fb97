// Package control is tern's local administration channel: a Unix socket
// in the data directory (mode 0600, peers checked by uid on Linux) on
// which the running server takes one JSON request per connection from the
// tern CLI. It lets `tern user del` go through the server, which tells
// the account's contacts and ends its sessions, as ejabberdctl and
// prosodyctl's shell do; when no server answers, the CLI works on the
// storage alone. It also keeps a second server off the same data directory.
package control
