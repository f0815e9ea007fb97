// Command tern is an XMPP server (RFC 6120, RFC 6121). `tern serve` runs
// it; the other subcommands manage accounts (`tern user`), check the setup
// like `prosodyctl check` (`tern check`) and print the configuration
// (`tern config`). Exit codes: 0 ok, 1 failure, 2 usage error.
//
// Each subcommand lives in its own file; run() is main without os.Exit so
// tests drive the real command line.
package main
