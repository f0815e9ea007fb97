package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at release time: -ldflags "-X main.version=v1.2.3".
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

const versionHelp = `Usage: tern version

Prints tern's version, the Go version it was built with and the commit.
Built without VCS information (go run, -buildvcs=false), the commit is
the one checked out in the source tree it was built from, if found.
`

func cmdVersion(e *env, args []string) int {
	fs := e.flags("version", versionHelp)
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageError(fs, "unexpected argument %q", pos[0])
	}
	const unknown = "unknown (built without VCS information)"
	commit, when, modified := unknown, "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = " " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	if commit == unknown {
		if id, ok := sourceCommit(); ok {
			commit = id + " (from the source tree)"
		}
	}
	fmt.Fprintf(e.stdout, "tern %s\ngo: %s %s/%s\ncommit: %s%s%s\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH, commit, when, modified)
	return 0
}
