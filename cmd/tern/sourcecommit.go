package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// sourceCommit is the commit checked out in the source tree this binary
// was compiled from, for builds without VCS stamps (`go run` never stamps;
// -buildvcs=false). It finds the tree from this file's compiled-in path
// (absent with -trimpath) and reads .git without running git: a few small
// files, and only for `tern version`.
func sourceCommit() (string, bool) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", false
	}
	return gitHead(filepath.Dir(file))
}

// gitHead resolves HEAD of the repository (or worktree) containing dir.
func gitHead(dir string) (string, bool) {
	gitDir, ok := findGitDir(dir)
	if !ok {
		return "", false
	}
	head, ok := readLine(filepath.Join(gitDir, "HEAD"))
	if !ok {
		return "", false
	}
	ref, symbolic := strings.CutPrefix(head, "ref: ")
	if !symbolic {
		return commitID(head)
	}
	// A worktree keeps its HEAD; branches live in the common directory.
	common := gitDir
	if c, ok := readLine(filepath.Join(gitDir, "commondir")); ok {
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		common = c
	}
	for _, d := range []string{gitDir, common} {
		if id, ok := readLine(filepath.Join(d, filepath.FromSlash(ref))); ok {
			return commitID(id)
		}
	}
	packed, err := os.ReadFile(filepath.Join(common, "packed-refs"))
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(packed), "\n") {
		if id, name, ok := strings.Cut(strings.TrimSpace(line), " "); ok && name == ref {
			return commitID(id)
		}
	}
	return "", false
}

// findGitDir walks up from dir to a .git directory, or a .git file naming
// one ("gitdir: ...", as in a worktree).
func findGitDir(dir string) (string, bool) {
	for range 32 {
		p := filepath.Join(dir, ".git")
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return p, true
			}
			line, ok := readLine(p)
			g, isLink := strings.CutPrefix(line, "gitdir: ")
			if !ok || !isLink {
				return "", false
			}
			if !filepath.IsAbs(g) {
				g = filepath.Join(dir, g)
			}
			return g, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", false
}

// readLine returns the first line of a small file.
func readLine(path string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 4096 {
		return "", false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	return line, line != ""
}

// commitID accepts a SHA-1 or SHA-256 object name.
func commitID(s string) (string, bool) {
	if len(s) != 40 && len(s) != 64 {
		return "", false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	return s, true
}
