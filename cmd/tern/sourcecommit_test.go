package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const (
	idA = "0123456789abcdef0123456789abcdef01234567"
	idB = "89abcdef0123456789abcdef0123456789abcdef"
)

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGitHead(t *testing.T) {
	root := t.TempDir()
	// A repository with a loose branch ref, read from a subdirectory.
	repo := filepath.Join(root, "repo")
	write(t, filepath.Join(repo, ".git", "HEAD"), "ref: refs/heads/main\n")
	write(t, filepath.Join(repo, ".git", "refs", "heads", "main"), idA+"\n")
	write(t, filepath.Join(repo, "cmd", "tern", "main.go"), "package main\n")
	// A worktree: .git is a file, the branch is packed in the common directory.
	wt := filepath.Join(root, "wt")
	write(t, filepath.Join(wt, ".git"), "gitdir: ../repo/.git/worktrees/wt\n")
	write(t, filepath.Join(repo, ".git", "worktrees", "wt", "HEAD"), "ref: refs/heads/topic\n")
	write(t, filepath.Join(repo, ".git", "worktrees", "wt", "commondir"), "../..\n")
	write(t, filepath.Join(repo, ".git", "packed-refs"), "# pack-refs with: peeled fully-peeled sorted\n"+idA+" refs/heads/main\n"+idB+" refs/heads/topic\n")
	// Detached HEAD.
	det := filepath.Join(root, "detached")
	write(t, filepath.Join(det, ".git", "HEAD"), idB+"\n")
	// Broken: HEAD names a branch that does not exist; HEAD is garbage.
	broken := filepath.Join(root, "broken")
	write(t, filepath.Join(broken, ".git", "HEAD"), "ref: refs/heads/gone\n")
	garbage := filepath.Join(root, "garbage")
	write(t, filepath.Join(garbage, ".git", "HEAD"), "not a commit\n")

	for _, tt := range []struct {
		dir, want string
	}{
		{filepath.Join(repo, "cmd", "tern"), idA},
		{wt, idB},
		{det, idB},
		{broken, ""},
		{garbage, ""},
		{filepath.Join(root, "nothing"), ""},
	} {
		os.MkdirAll(tt.dir, 0o755)
		got, ok := gitHead(tt.dir)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("gitHead(%s) = %q, %v; want %q", tt.dir, got, ok, tt.want)
		}
	}
}

// TestVersionFromSourceTree: a binary built without VCS stamps (go test,
// go run) reports the source tree's commit.
func TestVersionFromSourceTree(t *testing.T) {
	if _, file, _, _ := runtime.Caller(0); !filepath.IsAbs(file) {
		t.Skip("built with -trimpath: no source path to find the tree from")
	}
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("no git checkout to compare with: %v", err)
	}
	_, stdout, _ := tern(t, "", "version")
	want := "commit: " + strings.TrimSpace(string(out)) + " (from the source tree)\n"
	if !strings.Contains(stdout, want) {
		t.Errorf("version = %q, want it to contain %q", stdout, want)
	}
}
