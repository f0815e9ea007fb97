package main

import "github.com/tern-xmpp/tern/internal/ops/server"

// openStore opens the configured storage backend, as the server does;
// tests replace it.
var openStore = server.OpenStore
