package config

import _ "embed"

//go:embed example.toml
var example []byte

// Example returns an example configuration file: every key with a comment
// and its default value (`tern config example`).
func Example() []byte { return append([]byte(nil), example...) }
