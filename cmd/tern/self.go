package main

import (
	"os"
	"path/filepath"
	"strings"
)

// selfCommand is the command that runs this tern again, for hints such as
// the banner's "add a user": "go run ./cmd/tern" when `go run` built it
// (after the README's `go run ./cmd/tern serve` no tern is on the PATH),
// else what it was started as: a path (args0 with a slash) or a name
// found on the PATH.
func selfCommand(args0, exe string) string {
	if builtByGoRun(exe) {
		return "go run ./cmd/tern"
	}
	if args0 == "" {
		return "tern"
	}
	return quote(args0)
}

// builtByGoRun reports whether exe lives where `go run` puts what it
// builds: its work directory (<tmp>/go-build<N>/b001/exe/) or, since Go
// 1.24, the build cache ($GOCACHE, by default <user cache>/go-build).
func builtByGoRun(exe string) bool {
	if exe == "" {
		return false
	}
	dir := filepath.Dir(exe)
	if c := os.Getenv("GOCACHE"); c != "" && within(dir, c) {
		return true
	}
	for _, piece := range strings.Split(filepath.ToSlash(dir), "/") {
		if strings.HasPrefix(piece, "go-build") {
			return true
		}
	}
	return false
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
