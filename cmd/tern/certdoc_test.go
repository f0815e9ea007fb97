package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/pki/ca"
)

// TestDirectPKIWalkthrough runs the `$ tern ...` lines of the console
// blocks of docs/direct-pki.md in order and checks that the output lines
// shown there appear in the real output, in order, so the walk-through
// stays true. The two organisations' HTTP listeners (127.0.0.1:5280 and
// :5281 in the text) are httptest servers serving the CA directories.
func TestDirectPKIWalkthrough(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "direct-pki.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps := parseConsole(t, string(doc))
	if len(steps) < 10 {
		t.Fatalf("found only %d commands in docs/direct-pki.md", len(steps))
	}
	t.Chdir(t.TempDir())
	serve := func(dir string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h, err := ca.Handler(dir)
			if err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(s.Close)
		return s
	}
	urls := strings.NewReplacer(
		"http://127.0.0.1:5280", serve("lab/orga").URL,
		"http://127.0.0.1:5281", serve("lab/orgb").URL,
	)
	for _, st := range steps {
		args := make([]string, len(st.args))
		for i, a := range st.args {
			args[i] = urls.Replace(a)
		}
		code, out, errOut := tern(t, st.stdin, args...)
		if code != st.code {
			t.Fatalf("docs/direct-pki.md:%d: %s: exit %d, the doc says %d\n%s%s", st.line, st.cmd, code, st.code, out, errOut)
		}
		got := strings.Split(normalize(out+errOut), "\n")
		i := 0
		for _, want := range st.out {
			want = normalize(urls.Replace(want))
			for i < len(got) && strings.TrimRight(got[i], " ") != want {
				i++
			}
			if i == len(got) {
				t.Errorf("docs/direct-pki.md:%d: %s: output lacks (in this order) %q; got:\n%s", st.line, st.cmd, want, out+errOut)
				break
			}
			i++
		}
	}
}

type docStep struct {
	line       int
	cmd, stdin string
	args, out  []string
	code       int
}

var (
	reTime   = regexp.MustCompile(`\d{4}-\d{2}-\d{2}( \d{2}:\d{2} UTC|T\d{2}:\d{2}:\d{2}Z)`)
	reDate   = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
	reSerial = regexp.MustCompile(`\b[0-9a-f]{15,16}\b`)
	reDays   = regexp.MustCompile(`\(in \d+ days\)`)
	reEcho   = regexp.MustCompile(`^echo '([^']*)' \| (.*)$`)
	port     = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// normalize replaces what changes from run to run by its shape.
func normalize(s string) string {
	s = reTime.ReplaceAllString(s, "<time>")
	s = reDate.ReplaceAllString(s, "<date>")
	s = reSerial.ReplaceAllString(s, "<serial>")
	s = reDays.ReplaceAllString(s, "(in N days)")
	return port.ReplaceAllString(s, "127.0.0.1:<port>")
}

// parseConsole returns the commands of the ```console blocks: "$ tern
// ..." lines (optionally "echo 'x' | tern ..." for stdin), each followed
// by its expected output lines; "(exit status N)" gives the exit code.
func parseConsole(t *testing.T, doc string) []docStep {
	var steps []docStep
	in := false
	sc := bufio.NewScanner(strings.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```console"):
			in = true
			continue
		case strings.HasPrefix(line, "```"):
			in = false
			continue
		case !in:
			continue
		}
		if cmd, ok := strings.CutPrefix(line, "$ "); ok {
			st := docStep{line: n, cmd: cmd}
			if m := reEcho.FindStringSubmatch(cmd); m != nil {
				st.stdin, cmd = m[1]+"\n", m[2]
			}
			words := shellWords(t, cmd)
			if len(words) == 0 || words[0] != "tern" {
				t.Fatalf("docs/direct-pki.md:%d: console commands must run tern: %q", n, line)
			}
			st.args = words[1:]
			steps = append(steps, st)
			continue
		}
		if len(steps) == 0 {
			t.Fatalf("docs/direct-pki.md:%d: output before any command", n)
		}
		st := &steps[len(steps)-1]
		if c, ok := strings.CutPrefix(line, "(exit status "); ok {
			if _, err := fmt.Sscan(strings.TrimSuffix(c, ")"), &st.code); err != nil {
				t.Fatalf("docs/direct-pki.md:%d: %v", n, err)
			}
			continue
		}
		if strings.TrimSpace(line) != "" {
			st.out = append(st.out, strings.TrimRight(line, " "))
		}
	}
	return steps
}

// shellWords splits a command line with single and double quotes.
func shellWords(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
