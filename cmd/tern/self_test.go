package main

import "testing"

func TestSelfCommand(t *testing.T) {
	t.Setenv("GOCACHE", "/srv/cache/go")
	for _, tt := range []struct{ args0, exe, want string }{
		// go run: the work directory, then (Go 1.24+) the build cache.
		{"/tmp/go-build1571242397/b001/exe/tern", "/tmp/go-build1571242397/b001/exe/tern", "go run ./cmd/tern"},
		{"/home/a/.cache/go-build/50/50ee7bab-d/tern", "/home/a/.cache/go-build/50/50ee7bab-d/tern", "go run ./cmd/tern"},
		{"/srv/cache/go/50/50ee7bab-d/tern", "/srv/cache/go/50/50ee7bab-d/tern", "go run ./cmd/tern"},
		// Started by path: that path, quoted for the shell when needed.
		{"./tern", "/home/a/src/tern/tern", "./tern"},
		{"/usr/local/bin/tern", "/usr/local/bin/tern", "/usr/local/bin/tern"},
		{"/opt/my tern/tern", "/opt/my tern/tern", "'/opt/my tern/tern'"},
		// Found on the PATH.
		{"tern", "/usr/local/bin/tern", "tern"},
		{"", "", "tern"},
		{"/srv/cache/gox/tern", "/srv/cache/gox/tern", "/srv/cache/gox/tern"},
	} {
		if got := selfCommand(tt.args0, tt.exe); got != tt.want {
			t.Errorf("selfCommand(%q, %q) = %q, want %q", tt.args0, tt.exe, got, tt.want)
		}
	}
}
