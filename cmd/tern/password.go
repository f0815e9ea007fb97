package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// errNeedPasswordSource is a usage error: no terminal to prompt on.
var errNeedPasswordSource = errors.New("stdin is not a terminal: pass --password-file FILE, or --password-file - to read the password from stdin")

// readPassword gets a new password: from file ("-" is stdin, first line),
// or prompted twice on the terminal. Never from the command line, where
// other users could read it in the process list.
func (e *env) readPassword(file, who string) (string, error) {
	if file != "" {
		var r io.Reader = e.stdin
		if file != "-" {
			f, err := os.Open(file)
			if err != nil {
				return "", err
			}
			defer f.Close()
			r = f
		}
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", fmt.Errorf("the password in %s is empty", displayFile(file))
		}
		return pw, nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errNeedPasswordSource
	}
	fd := int(f.Fd())
	fmt.Fprintf(e.stderr, "New password for %s: ", who)
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	if len(p1) == 0 {
		return "", errors.New("empty password")
	}
	fmt.Fprint(e.stderr, "Repeat the password: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", errors.New("the passwords differ: nothing changed, try again")
	}
	return string(p1), nil
}

func displayFile(f string) string {
	if f == "-" {
		return "stdin"
	}
	return f
}

// confirm asks a yes/no question on stderr and reads the answer from stdin.
func (e *env) confirm(question string) bool {
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil {
		fmt.Fprintln(e.stderr) // no newline was typed: end the prompt line
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}
