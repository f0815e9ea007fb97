// Package internal_test enforces the layering of docs/architecture.md: the
// folders under internal/ are layers, and no package imports one above it.
package internal_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/tern-xmpp/tern/"

// layer is one folder of the house. Layers of equal rank are neighbours and
// do not import each other; siblings says whether the packages of one layer
// may import each other (features may not: they meet through the router's
// events and small interfaces, so any one can be turned off).
type layer struct {
	rank     int
	siblings bool
}

var layers = map[string]layer{
	"internal/wire":      {0, true},  // XML, JIDs, stanzas, stream framing and output
	"internal/storage":   {1, true},  // aggregates and their backends
	"internal/auth":      {2, true},  // SASL, rate limits
	"internal/pki":       {2, true},  // certificates, TLS configuration
	"internal/routing":   {3, true},  // router, module contract
	"internal/transport": {4, false}, // c2s, s2s (later WebSocket, BOSH)
	"internal/feature":   {4, false}, // one package per feature module
	"internal/direct":    {4, true},  // the Direct binding (trust, discovery, documents)
	"internal/ops":       {5, true},  // config, metrics, control, check, wiring
	"cmd":                {6, false},
	"test":               {7, true},
}

// layerOf returns the layer folder of a repository-relative package path and
// the package's top folder inside it ("internal/feature/roster" for
// "internal/feature/roster/sub"), or "" if it lies in no layer.
func layerOf(pkg string) (name, top string) {
	for l := range layers {
		if pkg == l || strings.HasPrefix(pkg, l+"/") {
			rest := strings.TrimPrefix(strings.TrimPrefix(pkg, l), "/")
			if rest == "" {
				return l, l
			}
			first, _, _ := strings.Cut(rest, "/")
			return l, l + "/" + first
		}
	}
	return "", ""
}

func TestLayers(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]map[string]bool{} // package -> repository imports
	for _, dir := range []string{"internal", "cmd", "test"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			pkg := filepath.ToSlash(rel)
			if imports[pkg] == nil {
				imports[pkg] = map[string]bool{}
			}
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				if strings.HasPrefix(p, module) {
					imports[pkg][strings.TrimPrefix(p, module)] = true
				}
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if len(imports) < 20 {
		t.Fatalf("found only %d packages under %s: is the test running from internal/?", len(imports), root)
	}
	pkgs := make([]string, 0, len(imports))
	for p := range imports {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		from, fromTop := layerOf(pkg)
		if from == "" {
			t.Errorf("%s lies in no layer: move it under one of the folders in layers_test.go (see docs/architecture.md)", pkg)
			continue
		}
		for im := range imports[pkg] {
			to, toTop := layerOf(im)
			switch {
			case to == "":
				t.Errorf("%s imports %s, which lies in no layer", pkg, im)
			case layers[to].rank > layers[from].rank:
				t.Errorf("%s (%s) imports %s (%s), a layer above it", pkg, from, im, to)
			case layers[to].rank == layers[from].rank && to != from:
				t.Errorf("%s (%s) imports %s (%s), a neighbouring layer: go through the layer below (an interface or an event)", pkg, from, im, to)
			case to == from && fromTop != toTop && !layers[from].siblings:
				t.Errorf("%s imports its sibling %s: packages of %s meet through the router (events, small interfaces), not imports", pkg, im, from)
			}
		}
	}
}

// TestLayerOf pins the helper the test above relies on.
func TestLayerOf(t *testing.T) {
	for pkg, want := range map[string][2]string{
		"internal/feature/roster":            {"internal/feature", "internal/feature/roster"},
		"internal/routing/module/moduletest": {"internal/routing", "internal/routing/module"},
		"internal/storage/sqlite":            {"internal/storage", "internal/storage/sqlite"},
		"cmd/tern":                           {"cmd", "cmd/tern"},
		"internal/featureflags":              {"", ""},
		"internal/storagex":                  {"", ""},
	} {
		if l, top := layerOf(pkg); l != want[0] || top != want[1] {
			t.Errorf("layerOf(%q) = %q, %q; want %q, %q", pkg, l, top, want[0], want[1])
		}
	}
}
