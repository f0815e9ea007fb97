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
// sets replace the default (a list replaces the whole default list). An
// unknown key is an error naming it, its line and the closest known key.
// Load does not call Validate.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w (create it with `tern config example > %s`)", err, path)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.Path = path
	return c, nil
}

// Parse is Load on file contents.
func Parse(data []byte) (*Config, error) {
	c := Default()
	// [[domain]] elements would otherwise be decoded on top of the default
	// "localhost" element and inherit its fields.
	c.Domains = nil
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, err
	}
	if err := unknownKeys(md, string(data)); err != nil {
		return nil, err
	}
	if !md.IsDefined("domain") {
		c.Domains = []Domain{{Name: DefaultDomain}}
	}
	for i := range c.Domains {
		if n, err := PrepareDomain(c.Domains[i].Name); err == nil {
			c.Domains[i].Name = n
		}
	}
	return c, nil
}

// unknownKeys reports every undecoded key, once per unknown subtree.
func unknownKeys(md toml.MetaData, data string) error {
	var errs []error
	reported := map[string]bool{}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && reported[toml.Key(k[:len(k)-1]).String()] {
			reported[k.String()] = true
			continue
		}
		reported[k.String()] = true
		msg := fmt.Sprintf("unknown key %q", k.String())
		if line := keyLine(data, k); line > 0 {
			msg = fmt.Sprintf("line %d: %s", line, msg)
		}
		if s := suggest(k); s != "" {
			msg += fmt.Sprintf(": did you mean %q?", s)
		} else {
			msg += ": remove it (see `tern config example` for every key)"
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// keyLine finds the line defining the last piece of k, as a key or a
// table header, searching after the header of k's parent table when there
// is one. Best effort: MetaData has no public key positions.
func keyLine(data string, k toml.Key) int {
	lines := strings.Split(data, "\n")
	start := 0
	if len(k) > 1 {
		parent := regexp.QuoteMeta(k[:len(k)-1].String())
		header := regexp.MustCompile(`^\s*\[\[?\s*` + parent + `\s*\]`)
		for i, line := range lines {
			if header.MatchString(line) {
				start = i
				break
			}
		}
	}
	last := regexp.QuoteMeta(k[len(k)-1])
	re := regexp.MustCompile(`^\s*(\[\[?\s*)?("?` + last + `"?)\s*(=|\.|\]|$)`)
	dotted := regexp.MustCompile(`^\s*(\[\[?\s*)?[A-Za-z0-9_."-]*\.("?` + last + `"?)\s*(=|\]|$)`)
	for i := start; i < len(lines); i++ {
		if re.MatchString(lines[i]) || dotted.MatchString(lines[i]) {
			return i + 1
		}
	}
	return 0
}

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
