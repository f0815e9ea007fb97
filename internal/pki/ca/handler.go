package ca

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// served are the files a CA publishes and their media types (RFC 2585
// §3-4 for certificates and CRLs, RFC 5751 §3.2.2/RFC 8551 for certs-only
// PKCS#7).
var served = map[string]string{
	"crl.der":      "application/pkix-crl",
	"crl.pem":      "application/x-pem-file",
	"ca.der":       "application/pkix-cert",
	"ca.pem":       "application/x-pem-file",
	"root.der":     "application/pkix-cert",
	"root-crl.der": "application/pkix-crl",
	"bundle.p7b":   "application/pkcs7-mime",
	"bundle.pem":   "application/x-pem-file",
}

// maxServed bounds what the handler reads into memory per file.
const maxServed = 10 << 20

// Handler serves each CA directory's published files under
// /pki/<name>/<file> (crl.der, ca.der, bundle.p7b, ...). Files are re-read
// when they change on disk, so a CRL re-published by `tern cert crl` (or
// revoke) is served on the next request, without a restart. The CA names
// are read once, here.
func Handler(dirs ...string) (http.Handler, error) {
	h := &handler{cas: map[string]*servedCA{}}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, indexFile))
		if err != nil {
			return nil, fmt.Errorf("pki: serving %s: %w (create the CA with `tern cert init`)", d, err)
		}
		var idx index
		if err := json.Unmarshal(b, &idx); err != nil || !nameRE.MatchString(idx.Name) {
			return nil, fmt.Errorf("pki: serving %s: %s is not a CA index (%v)", d, indexFile, err)
		}
		if prev, dup := h.cas[idx.Name]; dup {
			return nil, fmt.Errorf("pki: CAs in %s and %s are both named %q: URLs would clash", prev.dir, d, idx.Name)
		}
		h.cas[idx.Name] = &servedCA{dir: d, files: map[string]*cachedFile{}}
	}
	return h, nil
}

type handler struct{ cas map[string]*servedCA }

type servedCA struct {
	dir   string
	mu    sync.Mutex
	files map[string]*cachedFile
}

type cachedFile struct {
	info os.FileInfo
	data []byte
	etag string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/pki/")
	name, file, ok2 := strings.Cut(rest, "/")
	ca := h.cas[name]
	typ, known := served[file]
	if !ok || !ok2 || ca == nil || !known {
		http.NotFound(w, r)
		return
	}
	f, err := ca.read(file)
	if os.IsNotExist(err) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		http.Error(w, "cannot read "+file, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", typ)
	// Peers cache by nextUpdate; intermediaries should not hide a re-publish.
	w.Header().Set("Cache-Control", "no-cache")
	// An ETag, because Last-Modified has a granularity of a second and
	// a CRL re-published within it would be answered 304.
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, file, f.info.ModTime(), bytes.NewReader(f.data))
}

// read returns the file, from memory unless it changed on disk (another
// inode after the atomic rename, or another size or time).
func (s *servedCA) read(file string) (*cachedFile, error) {
	p := filepath.Join(s.dir, file)
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.files[file]; c != nil && os.SameFile(c.info, fi) && c.info.Size() == fi.Size() && c.info.ModTime().Equal(fi.ModTime()) {
		return c, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err = f.Stat() // of what we read, should it have changed since
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxServed+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxServed {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxServed)
	}
	sum := sha256.Sum256(data)
	c := &cachedFile{info: fi, data: data, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	s.files[file] = c
	return c, nil
}
