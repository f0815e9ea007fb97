package messages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// By reference (docs/direct-messages.md §3): a message whose sealed bytes
// exceed the inline limit waits on the sender's HTTP upload service under
// a random https URL; the stanza carries the URL, the size and the
// SHA-256 of those bytes, and the recipient's server fetches them. The
// bytes are the S/MIME message encrypted to the recipient: the URL gives
// a fetcher nothing it can read, and the digest, which came over the
// authenticated s2s stream, is checked before anything is opened.

// RuleFetchFailed: a message sent by reference could not be fetched, or
// was not what the stanza said.
const RuleFetchFailed smime.Rule = "fetch-failed"

var errUnknown = errors.New("no such account")

// referenceElement is <direct message-id url size sha256/>.
func referenceElement(messageID, u string, size int64, sum []byte) *xml.Element {
	return xml.New(NS, "direct", "message-id", messageID, "url", u, "size", strconv.FormatInt(size, 10), "sha256", hex.EncodeToString(sum))
}

type fetchError struct{ err error }

func (e *fetchError) Error() string { return "fetch-failed: " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// payload is a received message's S/MIME bytes: inline, in memory, or
// fetched into a temporary file (removed by done unless the inbox took it).
type payload struct {
	raw  []byte
	path string
	sum  []byte // SHA-256
}

func (p *payload) done() {
	if p.path != "" {
		os.Remove(p.path)
	}
}

// payload returns the S/MIME bytes of a <direct/> element: inline, or
// fetched from its https URL, at the sender's domain or under it (public
// addresses only, no redirects; fetch_private lifts both, in a lab).
func (m *Module) payload(el *xml.Element, from jid.JID) (*payload, error) {
	ref := el.Attr("url")
	if ref == "" {
		raw, err := parse(el, m.InlineMax)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		return &payload{raw: raw, sum: sum[:]}, nil
	}
	size, err := strconv.ParseInt(el.Attr("size"), 10, 64)
	sum, herr := hex.DecodeString(el.Attr("sha256"))
	switch {
	case err != nil || size <= 0:
		return nil, fmt.Errorf("a <direct url/> needs the size of the message in bytes, not %q", el.Attr("size"))
	case herr != nil || len(sum) != sha256.Size:
		return nil, fmt.Errorf("a <direct url/> needs the SHA-256 of the message as 64 hex digits, not %q", el.Attr("sha256"))
	case size > m.cfg.MaxMessageBytes:
		return nil, &fetchError{fmt.Errorf("the message is %d bytes; this server accepts at most %d ([directmessages] max_message_bytes)", size, m.cfg.MaxMessageBytes)}
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("the message's url %q is not an https URL", ref)
	}
	if host, dom := strings.ToLower(u.Hostname()), from.Domain(); !m.cfg.FetchPrivate && host != dom && !strings.HasSuffix(host, "."+dom) {
		return nil, &fetchError{fmt.Errorf("the url's host %s is not %s or a name under it", host, dom)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.fetchTimeout)
	defer cancel()
	path, err := m.fetcher.get(ctx, u.String(), size, sum, m.tmpDir())
	if err != nil {
		return nil, &fetchError{err}
	}
	return &payload{path: path, sum: sum}, nil
}

// fetcher gets messages by reference over HTTPS.
type fetcher struct {
	client *http.Client
}

func newFetcher(c Config, timeout time.Duration) (*fetcher, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, f := range c.FetchCA {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("[directmessages] fetch_ca %s: %w", f, err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("[directmessages] fetch_ca %s: no PEM certificate in it", f)
		}
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !c.FetchPrivate {
		d.Control = trust.RefuseNonPublic // [directmessages] fetch_private = true lifts it, in a lab
	}
	return &fetcher{client: &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:           d.DialContext,
			TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("redirects are not followed") },
	}}, nil
}

// get reads exactly size bytes from u into a new file under dir, checks
// their SHA-256 and returns the file's path.
func (f *fetcher) get(ctx context.Context, u string, size int64, sum []byte, dir string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != size {
		return "", fmt.Errorf("GET %s: %d bytes; the stanza says %d", u, resp.ContentLength, size)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("%w: %v", smime.ErrLocal, err)
	}
	out, err := os.CreateTemp(dir, "fetched-*.p7m")
	if err != nil {
		return "", fmt.Errorf("%w: %v", smime.ErrLocal, err)
	}
	ok := false
	defer func() {
		if !ok {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	h := sha256.New()
	disk := &diskWriter{w: out}
	n, err := io.CopyBuffer(io.MultiWriter(disk, h), io.LimitReader(resp.Body, size+1), make([]byte, 64<<10))
	switch {
	case disk.err != nil:
		return "", fmt.Errorf("%w: %v", smime.ErrLocal, disk.err)
	case err != nil:
		return "", fmt.Errorf("GET %s: %w", u, err)
	case n > size:
		return "", fmt.Errorf("GET %s: more than the %d bytes the stanza says", u, size)
	case n < size:
		return "", fmt.Errorf("GET %s: %d bytes; the stanza says %d", u, n, size)
	}
	if got := h.Sum(nil); !bytes.Equal(got, sum) {
		return "", fmt.Errorf("GET %s: SHA-256 %x; the stanza says %x (changed on the way or at rest)", u, got, sum)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("%w: %v", smime.ErrLocal, err)
	}
	ok = true
	return out.Name(), nil
}

// diskWriter keeps the first write error (this server's disk, not the peer).
type diskWriter struct {
	w   io.Writer
	err error
}

func (d *diskWriter) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.w.Write(p)
	d.err = err
	return n, err
}
