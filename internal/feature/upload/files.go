package upload

import (
	"bytes"
	"errors"
	"io"
	neturl "net/url"
	"os"
	"regexp"
	"strings"
)

// What other modules use (through module.Depend and an interface of
// their own): Direct messages keep received documents here for their
// recipient, and send a user's uploaded file as a Direct message.

// Keep stores data as a file of owner's (no quota: the server keeps it
// for the user) and returns its GET URL on domain's service.
func (m *Module) Keep(owner, domain, name, ctype string, data []byte) (string, error) {
	return m.keep(owner, domain, name, ctype, bytes.NewReader(data), int64(len(data)))
}

// KeepFile is Keep for the contents of the file at path (streamed: a
// large sealed message is not read into memory).
func (m *Module) KeepFile(owner, domain, name, ctype, path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return "", err
	}
	return m.keep(owner, domain, name, ctype, src, info.Size())
}

func (m *Module) keep(owner, domain, name, ctype string, r io.Reader, size int64) (string, error) {
	if m.st == nil {
		return "", errors.New("HTTP file upload is off ([upload] listen)")
	}
	n, err := checkName(name)
	if err != nil {
		n = "document"
	}
	f, token, err := m.st.reserve(owner, n, ctype, size, m.Cfg.ServerQuotaBytes, m.slotTTL, true)
	if err != nil {
		return "", err
	}
	claimed, err := m.st.begin(f.ID, token)
	if err == nil {
		err = m.st.receive(claimed, r, m.expire)
	}
	if err != nil {
		m.st.drop(f)
		return "", err
	}
	return m.base(domain) + "/upload/" + f.ID + "/" + neturl.PathEscape(n), nil
}

// Find returns the first file of this service that text links to: a path
// /upload/<id>/<name> whatever the host before it (a link spelled with
// another host still downloads), with its owner, name, type, path on disk
// and size; url "" when none.
func (m *Module) Find(text string) (url, owner, name, ctype, path string, size int64) {
	if m.st == nil {
		return
	}
	for _, mm := range linkRE.FindAllStringSubmatch(text, -1) {
		f, ok := m.st.get(mm[1])
		if !ok || !f.Done {
			continue
		}
		_, domain, _ := strings.Cut(f.Owner, "@")
		return m.base(domain) + "/upload/" + f.ID + "/" + neturl.PathEscape(f.Name), f.Owner, f.Name, f.Type, m.st.path(f.ID), f.Size
	}
	return
}

var linkRE = regexp.MustCompile(`/upload/([0-9a-f]{48})/`)

// basePath is the path the configured URL puts before /upload/.
func (m *Module) basePath() string {
	if m.Cfg.URL == "" {
		return ""
	}
	u, err := neturl.Parse(strings.ReplaceAll(m.Cfg.URL, "{domain}", "d"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Path, "/")
}

// ours reports whether host is the host of one of the services' URLs.
func (m *Module) ours(host string) bool {
	for _, d := range m.r.Hosts() {
		if u, err := neturl.Parse(m.base(d)); err == nil && strings.EqualFold(u.Host, host) {
			return true
		}
	}
	return false
}

// Serving reports whether the service is on (listen set).
func (m *Module) Serving() bool { return m.st != nil }

// Delete removes the file behind one of this service's GET URLs.
func (m *Module) Delete(rawURL string) error {
	if m.st == nil {
		return errNoSlot
	}
	u, err := neturl.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return errNoSlot
	}
	id, _, ok := m.parsePath(strings.TrimPrefix(u.Path, m.basePath()))
	if !ok {
		return errNoSlot
	}
	f, ok := m.st.get(id)
	if !ok {
		return errNoSlot
	}
	m.st.drop(&f)
	return nil
}
