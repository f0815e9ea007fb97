package config

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/BurntSushi/toml"
)

// problem is one mistake in a file: its line (0 if not found) and what to do.
type problem struct {
	line int
	msg  string
}

func (p problem) Error() string {
	if p.line > 0 {
		return fmt.Sprintf("line %d: %s", p.line, p.msg)
	}
	return p.msg
}

// checker walks a file's decoded TOML beside the Config type and collects
// every unknown key and every value of the wrong type. The TOML decoder
// stops at the first type error; this reports them all, each saying what
// the key expects.
type checker struct {
	data  string
	probs []problem
}

func checkFile(raw map[string]any, data string) []problem {
	c := &checker{data: data}
	c.table(raw, reflect.TypeOf(Config{}), nil, 0)
	sort.SliceStable(c.probs, func(i, j int) bool {
		a, b := c.probs[i].line, c.probs[j].line
		return a != 0 && (b == 0 || a < b)
	})
	return c.probs
}

// table checks the keys of m against struct type t. nth is the index of
// the [[array table]] element m is in, for finding lines.
func (c *checker) table(m map[string]any, t reflect.Type, path toml.Key, nth int) {
	for _, k := range sortedKeys(m) {
		key := append(path[:len(path):len(path)], k)
		if len(path) == 0 {
			if st, ok := sectionType(k); ok {
				c.value(m[k], st, key, nth) // a module's own section
				continue
			}
		}
		f, ok := fieldByTag(t, k)
		if !ok {
			c.unknown(key, nth)
			continue
		}
		c.value(m[k], f.Type, key, nth)
	}
}

func (c *checker) value(v any, t reflect.Type, key toml.Key, nth int) {
	switch {
	case t == durationType:
		s, ok := v.(string)
		if !ok {
			c.wrong(key, nth, t, "it is "+describe(v))
			return
		}
		var d Duration
		if err := d.UnmarshalText([]byte(s)); err != nil {
			c.wrong(key, nth, t, fmt.Sprintf("%.40q is not one", s))
		}
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.wrong(key, nth, t, "it is "+describe(v))
			return
		}
		c.table(m, t, key, nth)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		tables, ok := v.([]map[string]any)
		if list, isList := v.([]any); isList && len(list) == 0 {
			ok = true // domain = []: none (Validate says what is missing)
		}
		if !ok {
			c.wrong(key, nth, t, "it is "+describe(v))
			return
		}
		for i, m := range tables {
			c.table(m, t.Elem(), key, i)
		}
	case t.Kind() == reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			c.wrong(key, nth, t, "it is "+describe(v))
			return
		}
		for _, k := range sortedKeys(m) {
			if !fits(m[k], t.Elem()) {
				c.wrong(key, nth, t, fmt.Sprintf("%s is %s", toml.Key{k}, describe(m[k])))
				return
			}
		}
	case t.Kind() == reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			c.wrong(key, nth, t, "it is "+describe(v))
			return
		}
		for i, e := range list {
			if !fits(e, t.Elem()) {
				c.wrong(key, nth, t, fmt.Sprintf("element %d is %s", i+1, describe(e)))
				return
			}
		}
	default:
		if !fits(v, t) {
			c.wrong(key, nth, t, "it is "+describe(v))
		}
	}
}

// fits reports whether a decoded TOML value can be decoded into t: a
// string, bool, int, or a list of those.
func fits(v any, t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		_, ok := v.(string)
		return ok
	case reflect.Bool:
		_, ok := v.(bool)
		return ok
	case reflect.Int, reflect.Int64:
		_, ok := v.(int64)
		return ok
	case reflect.Slice:
		list, ok := v.([]any)
		for _, e := range list {
			ok = ok && fits(e, t.Elem())
		}
		return ok
	}
	return false
}

// describe names a decoded TOML value for "it is ...".
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %.40q", v)
	case int64:
		return fmt.Sprintf("the number %d", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case bool:
		return fmt.Sprintf("%t", v)
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "a [[table]] array"
	}
	return "a date or time"
}

func (c *checker) wrong(key toml.Key, nth int, t reflect.Type, found string) {
	msg := fmt.Sprintf("%s must be %s", key, expectation(key.String(), t))
	if eg := exampleOf(key, t); eg != "" {
		msg += ", e.g. " + eg
	}
	c.probs = append(c.probs, problem{keyLine(c.data, key, nth), msg + " (" + found + ")"})
}

func (c *checker) unknown(key toml.Key, nth int) {
	msg := fmt.Sprintf("unknown key %q", key.String())
	if s := suggest(key); s != "" {
		msg += fmt.Sprintf(": did you mean %q?", s)
	} else {
		msg += ": remove it (see `tern config example` for every key)"
	}
	c.probs = append(c.probs, problem{keyLine(c.data, key, nth), msg})
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
