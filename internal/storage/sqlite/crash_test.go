package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const crashChildEnv = "TERN_SQLITE_CRASH_CHILD"

// TestKill9LosesNothingAcknowledged runs a child process that stores
// offline messages and reports each one Store acknowledged, kills it with
// SIGKILL mid-stream, and checks every acknowledged message is in the file:
// the Offline contract ("Store returns only once the message is durable")
// under synchronous=NORMAL.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9LosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() && acked < 300 {
		if n, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked, _ = strconv.Atoi(n)
		}
	}
	cmd.Process.Kill() // SIGKILL: no deferred Close, no flush
	cmd.Wait()
	if acked < 0 {
		t.Fatal("child acknowledged nothing")
	}

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	msgs, err := s.Offline().Fetch(t.Context(), "crash@x.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range msgs {
		have[string(m.Stanza)] = true
	}
	for i := 0; i <= acked; i++ {
		if !have[fmt.Sprintf("<message id='%d'/>", i)] {
			t.Errorf("message %d was acknowledged before kill -9 but is missing", i)
		}
	}
}

// crashChild stores messages until killed, printing each acknowledgement.
func crashChild(path string) {
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		if err := s.Offline().Store(context.Background(), "crash@x.example", fmt.Appendf(nil, "<message id='%d'/>", i), 0); err != nil {
			fmt.Println("store:", err)
			os.Exit(1)
		}
		fmt.Printf("acked %d\n", i)
	}
}
