package upload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NS is XEP-0363's namespace.
const NS = "urn:xmpp:http:upload:0"

const nsData = "jabber:x:data"

// Config is the [upload] section.
type Config struct {
	Name   string `toml:"name"`   // the service is <name>.<domain> for every served domain
	Listen string `toml:"listen"` // the HTTPS listener, host:port; "" turns the service off
	// URL is the base of the slots' URLs as clients reach the listener
	// (a reverse proxy's, say); "{domain}" is replaced by the served
	// domain. "": https://<name>.<domain>:<listen's port>.
	URL         string `toml:"url"`
	Dir         string `toml:"dir"`           // "": <data_dir>/uploads
	MaxFileSize int64  `toml:"max_file_size"` // bytes per file
	QuotaBytes  int64  `toml:"quota_bytes"`   // per user, files and open slots; 0: none
	// ServerQuotaBytes bounds what the server keeps for its users
	// (received Direct documents, Direct messages sent by reference), all
	// together; 0: none.
	ServerQuotaBytes int64  `toml:"server_quota_bytes"`
	Expire           string `toml:"expire"`       // how long a file is kept
	SlotTimeout      string `toml:"slot_timeout"` // how long a slot waits for its PUT
	IdleTimeout      string `toml:"idle_timeout"` // a PUT that sends nothing this long is cut off
	PerMinute        int    `toml:"slots_per_minute"`
}

// DefaultConfig: off until listen is set.
var DefaultConfig = Config{Name: "upload", MaxFileSize: 100 << 20, QuotaBytes: 1 << 30, ServerQuotaBytes: 8 << 30, Expire: "168h", SlotTimeout: "5m",
	IdleTimeout: "30s", PerMinute: 30}

// Module is the HTTP File Upload service.
type Module struct {
	Cfg     Config
	DataDir string // where Dir defaults to

	r       *router.Router
	log     logger
	st      *store
	limit   *ratelimit.Window
	expire  time.Duration
	slotTTL time.Duration
	idle    time.Duration
	port    string
	m       *metrics

	mu      sync.Mutex
	running bool
}

type logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// New returns the module with the default configuration.
func New() *Module { return &Module{Cfg: DefaultConfig} }

// Name implements module.Module.
func (*Module) Name() string { return "upload" }

// Config implements module.Configurable.
func (m *Module) Config() any { return &m.Cfg }

// Listener is what the module provides the server (module.Depend under
// "upload"): Listen opens the HTTPS listener with tlsConf (certificates
// by SNI) and returns the function that stops it.
type Listener interface {
	Listen(tlsConf *tls.Config) (stop func(), err error)
}

func duration(key, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("[upload] %s = %q: not a positive duration with a unit, such as \"5m\"", key, v)
	}
	return d, nil
}

// Validate checks the section (at start-up and by tern check).
func (c *Config) Validate() error {
	if c.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("[upload] listen %q: %v (want host:port, e.g. \"0.0.0.0:5443\")", c.Listen, err)
	}
	if c.Name == "" {
		return errors.New("[upload] name is empty: the service needs a name (upload)")
	}
	if c.MaxFileSize <= 0 {
		return fmt.Errorf("[upload] max_file_size = %d: a positive number of bytes", c.MaxFileSize)
	}
	if c.QuotaBytes < 0 || c.ServerQuotaBytes < 0 || c.PerMinute < 0 {
		return errors.New("[upload] quota_bytes, server_quota_bytes and slots_per_minute: 0 (no limit) or more")
	}
	if c.URL != "" {
		u, err := url.Parse(strings.ReplaceAll(c.URL, "{domain}", "example.org"))
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
			return fmt.Errorf("[upload] url = %q: an https:// URL without a query (XEP-0363 requires HTTPS)", c.URL)
		}
		if strings.Contains(u.Path, "example.org") {
			return fmt.Errorf("[upload] url = %q: {domain} may stand in the host only, not in the path", c.URL)
		}
	}
	for _, d := range []struct{ key, v string }{{"expire", c.Expire}, {"slot_timeout", c.SlotTimeout}, {"idle_timeout", c.IdleTimeout}} {
		if _, err := duration(d.key, d.v); err != nil {
			return err
		}
	}
	return nil
}

// Register implements module.Module.
func (m *Module) Register(h *module.Host) error {
	c := m.Cfg
	if c.Listen == "" {
		h.Log.Info("HTTP file upload off: set [upload] listen (e.g. \"0.0.0.0:5443\") to serve " + c.Name + ".<domain>")
		return nil
	}
	if err := c.Validate(); err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(c.Listen)
	m.expire, _ = duration("expire", c.Expire)
	m.slotTTL, _ = duration("slot_timeout", c.SlotTimeout)
	m.idle, _ = duration("idle_timeout", c.IdleTimeout)
	var err error
	dir := c.Dir
	if dir == "" {
		dir = filepath.Join(m.DataDir, "uploads")
	}
	if m.st, err = openStore(dir, h.Now); err != nil {
		return fmt.Errorf("[upload] dir: %w", err)
	}
	m.r, m.log, m.port = h.Router, h.Log, port
	m.limit = ratelimit.NewWindow(c.PerMinute, time.Minute)
	m.m = newMetrics(h.Metrics)
	hosts := h.Router.Hosts()
	slices.Sort(hosts)
	for _, d := range hosts {
		h.AddService(router.Service{
			Domain: c.Name + "." + d, Parent: d, Name: "HTTP File Upload",
			Identities: []router.Identity{{Category: "store", Type: "file", Name: "HTTP File Upload"}},
			Features:   []string{NS},
			Forms:      []*xml.Element{m.infoForm()},
			Handle:     m.handle,
		})
	}
	h.Hook(router.EvAccountDeleting, 0, func(ev *router.Event) bool {
		if n := m.st.deleteOwner(ev.Account.String()); n > 0 {
			m.log.Info("uploads deleted with their account", "account", ev.Account.String(), "files", n)
		}
		return false
	})
	h.Provide(Listener(m))
	return nil
}

// infoForm is XEP-0363 §3's XEP-0128 form.
func (m *Module) infoForm() *xml.Element {
	x := xml.New(nsData, "x", "type", "result")
	x.Append(xml.New(nsData, "field", "var", "FORM_TYPE", "type", "hidden").Append(xml.New(nsData, "value").SetText(NS)))
	x.Append(xml.New(nsData, "field", "var", "max-file-size").Append(xml.New(nsData, "value").SetText(strconv.FormatInt(m.Cfg.MaxFileSize, 10))))
	return x
}

// handle takes the slot requests; disco#info is the router's.
func (m *Module) handle(ctx context.Context, st *router.Stanza) bool {
	if st.Kind != stanza.IQ || st.Type != "get" || st.To.Local() != "" || st.To.Resource() != "" {
		return false
	}
	q := st.Payload()
	if q == nil || q.Space != NS || q.Name != "request" {
		return false
	}
	slot, err := m.request(st, q)
	if err != nil {
		m.m.slots.WithLabelValues(errLabel(err)).Inc()
		var se *stanza.Error
		if !errors.As(err, &se) {
			m.log.Error("upload slot not made: check the upload directory", "from", st.From.String(), "err", err)
			se = stanza.ErrInternalServerError
		}
		m.r.ReplyError(ctx, st, se)
		return true
	}
	m.m.slots.WithLabelValues("granted").Inc()
	m.r.Route(ctx, &router.Stanza{El: stanza.Result(st.El, slot), Kind: stanza.IQ, Type: "result", ID: st.ID, From: st.To, To: st.From})
	return true
}

func errLabel(err error) string {
	var se *stanza.Error
	if errors.As(err, &se) {
		return se.Condition
	}
	return "internal"
}

// request checks a slot request (§4) and opens the slot.
func (m *Module) request(st *router.Stanza, q *xml.Element) (*xml.Element, error) {
	from := st.From.Bare()
	if from.Local() == "" || !m.r.IsLocal(from.Domain()) {
		return nil, stanza.ErrNotAllowed.WithText("this upload service is for the accounts of " + st.To.Domain()[len(m.Cfg.Name)+1:] + " only")
	}
	name, err := checkName(q.Attr("filename"))
	if err != nil {
		return nil, stanza.ErrBadRequest.WithText(err.Error())
	}
	size, err := strconv.ParseInt(q.Attr("size"), 10, 64)
	if err != nil || size <= 0 {
		return nil, stanza.ErrBadRequest.WithText(fmt.Sprintf("size %q: the file's size in bytes, a positive integer", q.Attr("size")))
	}
	if size > m.Cfg.MaxFileSize {
		return nil, fileTooLarge(m.Cfg.MaxFileSize)
	}
	ctype := q.Attr("content-type")
	if ctype != "" {
		if len(ctype) > 255 || !utf8.ValidString(ctype) {
			return nil, stanza.ErrBadRequest.WithText("content-type: at most 255 characters")
		}
		if _, _, err := mime.ParseMediaType(ctype); err != nil || strings.ContainsAny(ctype, "\r\n") {
			return nil, stanza.ErrBadRequest.WithText(fmt.Sprintf("content-type %q is not a media type (RFC 2045): %v", ctype, err))
		}
	}
	if !m.limit.Add(from.String()) {
		return nil, retry(stanza.ErrResourceConstraint.WithText(fmt.Sprintf("too many upload slots: at most %d a minute", m.Cfg.PerMinute)),
			m.st.now().Add(time.Minute))
	}
	f, token, err := m.st.reserve(from.String(), name, ctype, size, m.Cfg.QuotaBytes, m.slotTTL, false)
	var qe *quotaError
	if errors.As(err, &qe) {
		e := stanza.ErrResourceConstraint.WithText(qe.Error())
		if qe.retry.IsZero() {
			e.Type = "cancel" // larger than what expiry alone will free
			return nil, e
		}
		return nil, retry(e, qe.retry)
	}
	if err != nil {
		return nil, err
	}
	u := m.base(st.To.Domain()[len(m.Cfg.Name)+1:]) + "/upload/" + f.ID + "/" + url.PathEscape(name)
	slot := xml.New(NS, "slot")
	put := xml.New(NS, "put", "url", u)
	put.Append(xml.New(NS, "header", "name", "Authorization").SetText("Bearer " + token))
	slot.Append(put)
	slot.Append(xml.New(NS, "get", "url", u))
	return slot, nil
}

// base is the URL the slots of domain start with.
func (m *Module) base(domain string) string {
	if m.Cfg.URL != "" {
		return strings.TrimSuffix(strings.ReplaceAll(m.Cfg.URL, "{domain}", domain), "/")
	}
	return "https://" + net.JoinHostPort(m.Cfg.Name+"."+domain, m.port)
}

// fileTooLarge is §5's error with the limit.
func fileTooLarge(max int64) *stanza.Error {
	e := stanza.ErrNotAcceptable.WithText(fmt.Sprintf("file too large: the maximum file size is %d bytes", max))
	e.Type = "modify"
	ftl := xml.New(NS, "file-too-large")
	ftl.Append(xml.New(NS, "max-file-size").SetText(strconv.FormatInt(max, 10)))
	e.App = ftl
	return e
}

// retry adds §5's <retry stamp/> (type wait: the client may ask again then).
func retry(e *stanza.Error, at time.Time) *stanza.Error {
	e.Type = "wait"
	e.App = xml.New(NS, "retry", "stamp", at.UTC().Format(time.RFC3339))
	return e
}

// checkName refuses what is no plain file name: empty, too long, a path,
// control characters, "." and "..".
func checkName(n string) (string, error) {
	switch {
	case n == "":
		return "", errors.New("filename is empty")
	case len(n) > 255:
		return "", errors.New("filename: at most 255 bytes")
	case !utf8.ValidString(n):
		return "", errors.New("filename is not UTF-8")
	case n == "." || n == "..":
		return "", fmt.Errorf("filename %q is not a file name", n)
	case strings.ContainsAny(n, "/\\"):
		return "", fmt.Errorf("filename %q: a name, not a path", n)
	}
	for _, r := range n {
		if unicode.IsControl(r) || r == 0xFFFD {
			return "", fmt.Errorf("filename %q holds control characters", n)
		}
	}
	return n, nil
}

type metrics struct {
	slots   *prometheus.CounterVec
	puts    *prometheus.CounterVec
	bytesIn prometheus.Counter
	gets    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		slots: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_upload_slots_total",
			Help: "HTTP File Upload slot requests (XEP-0363), by result (granted or the error condition)."}, []string{"result"}),
		puts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_upload_puts_total",
			Help: "Uploads (HTTP PUT), by HTTP status."}, []string{"status"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "tern_upload_bytes_total", Help: "Bytes of completed uploads."}),
		gets:    prometheus.NewCounter(prometheus.CounterOpts{Name: "tern_upload_downloads_total", Help: "Uploaded files served (GET)."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.slots, m.puts, m.bytesIn, m.gets} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					panic(err)
				}
			}
		}
	}
	return m
}
