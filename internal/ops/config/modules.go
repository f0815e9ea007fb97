package config

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// Feature modules own their configuration sections ([vcard], [privatexml]
// ...): the server declares each module, with a pointer to its section's
// struct holding the defaults (nil: no section), before any file is loaded.
// A file's section is then checked like the rest (unknown keys, types) and
// decoded for the module with DecodeSection; modules_disabled may name any
// declared module.
var mods = struct {
	sync.Mutex
	sections map[string]any // name -> prototype (a pointer to a struct)
	names    []string
}{sections: map[string]any{}}

// RegisterModule declares a module and its section (nil for none).
func RegisterModule(name string, section any) {
	mods.Lock()
	defer mods.Unlock()
	if _, ok := mods.sections[name]; !ok {
		mods.names = append(mods.names, name)
	}
	mods.sections[name] = section
}

func moduleSection(name string) (any, bool) {
	mods.Lock()
	defer mods.Unlock()
	v, ok := mods.sections[name]
	return v, ok && v != nil
}

func moduleNames() []string {
	mods.Lock()
	defer mods.Unlock()
	return append([]string(nil), mods.names...)
}

// sectionType is the struct type of a module's section.
func sectionType(name string) (reflect.Type, bool) {
	v, ok := moduleSection(name)
	if !ok {
		return nil, false
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t, t.Kind() == reflect.Struct
}

// sectionExample renders the default of a module section's key.
func sectionExample(key toml.Key) string {
	v, ok := moduleSection(key[0])
	if !ok || len(key) != 2 {
		return ""
	}
	rv := reflect.Indirect(reflect.ValueOf(v))
	if f, ok := fieldByTag(rv.Type(), key[1]); ok {
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(map[string]any{"v": rv.FieldByIndex(f.Index).Interface()}); err == nil {
			return strings.TrimSpace(strings.TrimPrefix(b.String(), "v = "))
		}
	}
	return ""
}

// DecodeSection decodes the file's section of module name into v (a
// pointer holding the defaults); without a section v is left as it is.
func (c *Config) DecodeSection(name string, v any) error {
	if c.sections == nil {
		return nil
	}
	p, ok := c.sections.prims[name]
	if !ok {
		return nil
	}
	if err := c.sections.meta.PrimitiveDecode(p, v); err != nil {
		return fmt.Errorf("[%s]: %w", name, err)
	}
	return nil
}

// ExampleSections is the commented example of every module section, with
// the defaults, for `tern config example`.
func ExampleSections() string {
	var b strings.Builder
	names := moduleNames()
	sort.Strings(names)
	for _, n := range names {
		v, ok := moduleSection(n)
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "\n# Module %s (see docs/modules.md); the values are the defaults.\n[%s]\n", n, n)
		var e bytes.Buffer
		if err := toml.NewEncoder(&e).Encode(v); err == nil {
			b.Write(e.Bytes())
		}
	}
	return b.String()
}

// checkModules reports modules_disabled entries that name no module.
func (c *Config) checkModules() []error {
	known := moduleNames()
	var errs []error
	for _, n := range c.ModulesDisabled {
		ok := false
		best, bestD := "", len(n)/3+2
		for _, k := range known {
			if k == n {
				ok = true
			}
			if d := distance(n, k); d < bestD {
				best, bestD = k, d
			}
		}
		switch {
		case ok:
		case best != "":
			errs = append(errs, fmt.Errorf("modules_disabled: no module %q: did you mean %q?", n, best))
		default:
			sort.Strings(known)
			errs = append(errs, fmt.Errorf("modules_disabled: no module %q; the modules are %s", n, strings.Join(known, ", ")))
		}
	}
	// A section with a Validate method is checked here, so that `tern
	// check` names its problems as start-up would.
	off := map[string]bool{}
	for _, n := range c.ModulesDisabled {
		off[n] = true
	}
	for _, n := range known {
		v, ok := moduleSection(n)
		rv := reflect.ValueOf(v)
		if !ok || off[n] || rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
			continue
		}
		cp := reflect.New(rv.Elem().Type())
		cp.Elem().Set(rv.Elem()) // the defaults, then the file's keys
		if c.DecodeSection(n, cp.Interface()) != nil {
			continue // a type error, reported with its line by the loader
		}
		if val, ok := cp.Interface().(interface{ Validate() error }); ok {
			if err := val.Validate(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}
