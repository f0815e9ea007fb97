package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load returns Default() overlaid with the TOML file at path. Keys the file
// sets replace the default (a list replaces the whole default list). Every
// unknown key and every value of the wrong type is reported at once, each
// with its line, what the key expects and an example, in a *FileError.
// Load does not call Validate.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w (create it with `tern config example > %s`)", err, path)
	}
	c, err := Parse(data)
	if err != nil {
		fe := &FileError{Path: path, Errs: []error{err}}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			fe.Errs = j.Unwrap()
		}
		return nil, fe
	}
	c.Path = path
	return c, nil
}

// FileError lists the problems of a configuration file, one per error.
type FileError struct {
	Path string
	Errs []error
}

func (e *FileError) Error() string {
	if len(e.Errs) == 1 {
		return fmt.Sprintf("config %s: %v", e.Path, e.Errs[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config %s has %d problems:", e.Path, len(e.Errs))
	for _, err := range e.Errs {
		b.WriteString("\n  " + err.Error())
	}
	return b.String()
}

func (e *FileError) Unwrap() []error { return e.Errs }

// Parse is Load on file contents. Its error joins every problem found.
func Parse(data []byte) (*Config, error) {
	// First into a map, to check every key against the Config type: the
	// decoder would stop at the first type error and say it in Go terms.
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, syntaxError(err)
	}
	if probs := checkFile(raw, string(data)); len(probs) > 0 {
		errs := make([]error, len(probs))
		for i, p := range probs {
			errs[i] = p
		}
		return nil, errors.Join(errs...)
	}
	c := Default()
	// [[domain]] elements would otherwise be decoded on top of the default
	// "localhost" element and inherit its fields.
	c.Domains = nil
	if _, err := toml.Decode(string(data), c); err != nil {
		return nil, syntaxError(err) // a case checkFile does not know: the decoder's words
	}
	// Module sections stay undecoded until their module asks (DecodeSection).
	var prims map[string]toml.Primitive
	meta, err := toml.Decode(string(data), &prims)
	if err != nil {
		return nil, syntaxError(err)
	}
	for name := range prims {
		if _, ok := sectionType(name); !ok {
			delete(prims, name)
		}
	}
	if len(prims) > 0 {
		c.sections = &sections{prims, meta}
	}
	if _, ok := raw["domain"]; !ok {
		c.Domains = []Domain{{Name: DefaultDomain}}
	}
	for i := range c.Domains {
		if n, err := PrepareDomain(c.Domains[i].Name); err == nil {
			c.Domains[i].Name = n
		}
	}
	return c, nil
}

func syntaxError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
	}
	return err
}

// keyLine finds the line defining the last piece of k, as a key or a
// table header, searching in the nth table whose header is k's parent
// when there is one (nth counts [[array table]] elements). Best effort:
// MetaData has no public key positions.
func keyLine(data string, k toml.Key, nth int) int {
	lines := strings.Split(data, "\n")
	last := regexp.QuoteMeta(k[len(k)-1])
	re := regexp.MustCompile(`^\s*(\[\[?\s*)?("?` + last + `"?)\s*(=|\.|\]|$)`)
	dotted := regexp.MustCompile(`^\s*(\[\[?\s*)?[A-Za-z0-9_."-]*\.("?` + last + `"?)\s*(=|\]|$)`)
	find := func(from, to int) int {
		for i := from; i < to; i++ {
			if re.MatchString(lines[i]) || dotted.MatchString(lines[i]) {
				return i + 1
			}
		}
		return 0
	}
	if len(k) > 1 {
		parent := regexp.QuoteMeta(k[:len(k)-1].String())
		header := regexp.MustCompile(`^\s*\[\[?\s*` + parent + `\s*\]`)
		seen := 0
		for i, line := range lines {
			if !header.MatchString(line) {
				continue
			}
			if seen == nth {
				end := i + 1
				for end < len(lines) && !isHeader(lines[end]) {
					end++
				}
				if n := find(i, end); n > 0 {
					return n
				}
				break
			}
			seen++
		}
	}
	return find(0, len(lines))
}

var headerLine = regexp.MustCompile(`^\s*\[`)

func isHeader(line string) bool { return headerLine.MatchString(line) }

// suggest returns the known key at the same level closest to k's last piece.
func suggest(k toml.Key) string {
	t := reflect.TypeOf(Config{})
	for _, piece := range k[:len(k)-1] {
		f, ok := fieldByTag(t, piece)
		if !ok {
			return ""
		}
		t = f.Type
		for t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return ""
		}
	}
	want := k[len(k)-1]
	best, bestD := "", len(want)/3+2
	for _, name := range tags(t) {
		if d := distance(want, name); d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return toml.Key(append(append(toml.Key{}, k[:len(k)-1]...), best)).String()
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("toml") == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func tags(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

// distance is the Levenshtein distance, for "did you mean".
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
