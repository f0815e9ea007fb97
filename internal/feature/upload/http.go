package upload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Listen implements Listener: the HTTPS listener and the expiry scanner,
// both stopped by the function returned.
func (m *Module) Listen(tlsConf *tls.Config) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		return nil, errors.New("upload: listening already")
	}
	if tlsConf == nil {
		return nil, errors.New("upload: the server gave no TLS configuration (XEP-0363 requires HTTPS)")
	}
	tc := tlsConf.Clone()
	tc.NextProtos = []string{"h2", "http/1.1"}
	ln, err := net.Listen("tcp", m.Cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("upload: cannot listen on %s: %w (change [upload] listen)", m.Cfg.Listen, err)
	}
	hs := &http.Server{Handler: m, TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 16 << 10}
	go func() { _ = hs.ServeTLS(ln, "", "") }()
	done := make(chan struct{})
	go m.scan(done)
	m.running = true
	m.log.Info("HTTP file upload listening", "addr", ln.Addr().String(), "url", m.base("<domain>"), "max_file_size", m.Cfg.MaxFileSize, "dir", m.st.dir)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(ctx)
			m.mu.Lock()
			m.running = false
			m.mu.Unlock()
		})
	}, nil
}

// scan removes expired slots and files every minute (and at start).
func (m *Module) scan(done chan struct{}) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if n := m.st.expire(); n > 0 {
			m.log.Info("expired uploads removed", "count", n)
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

// ServeHTTP serves /upload/<id>/<name>.
func (m *Module) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*") // web clients upload from their own origin
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "7200")
	id, name, ok := m.parsePath(strings.TrimPrefix(r.URL.Path, m.basePath()))
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		m.put(w, r, id, name)
	case http.MethodGet, http.MethodHead:
		m.serve(w, r, id, name)
	default:
		h.Set("Allow", "GET, HEAD, PUT, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (m *Module) parsePath(p string) (id, name string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/upload/")
	if !ok {
		return "", "", false
	}
	id, name, ok = strings.Cut(rest, "/")
	return id, name, ok && validID(id)
}

func (m *Module) put(w http.ResponseWriter, r *http.Request, id, name string) {
	status := func(code int, msg string) {
		m.m.puts.WithLabelValues(strconv.Itoa(code)).Inc()
		if code >= 400 {
			http.Error(w, msg, code)
			return
		}
		w.WriteHeader(code)
	}
	if f, ok := m.st.get(id); !ok || f.Name != name {
		status(http.StatusNotFound, "no such upload slot (it may have expired: ask for another)")
		return
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f, err := m.st.begin(id, token)
	switch {
	case errors.Is(err, errNoSlot):
		status(http.StatusNotFound, "no such upload slot (it may have expired: ask for another)")
		return
	case errors.Is(err, errForbidden):
		status(http.StatusForbidden, err.Error())
		return
	case errors.Is(err, errDone), errors.Is(err, errBusy):
		status(http.StatusConflict, err.Error())
		return
	case errors.Is(err, errTooMany):
		w.Header().Set("Retry-After", "30")
		status(http.StatusTooManyRequests, err.Error())
		return
	}
	ok := false
	defer func() {
		if !ok {
			m.st.release(f) // a claim that did not get to receive
		}
	}()
	switch {
	case r.ContentLength < 0:
		status(http.StatusLengthRequired, fmt.Sprintf("Content-Length required: the slot is for %d bytes", f.Size))
		return
	case r.ContentLength > f.Size:
		status(http.StatusRequestEntityTooLarge, fmt.Sprintf("Content-Length %d: the slot is for %d bytes", r.ContentLength, f.Size))
		return
	case r.ContentLength < f.Size:
		status(http.StatusBadRequest, fmt.Sprintf("Content-Length %d: the slot is for %d bytes", r.ContentLength, f.Size))
		return
	}
	if f.Type != "" && !sameType(r.Header.Get("Content-Type"), f.Type) {
		status(http.StatusBadRequest, fmt.Sprintf("Content-Type %q: the slot is for %q", r.Header.Get("Content-Type"), f.Type))
		return
	}
	ok = true // receive ends the claim
	// Idle for idle_timeout, or slower on the whole than minRate, and the
	// upload is cut off: a trickle cannot hold a slot and a connection.
	until := time.Now().Add(time.Minute + time.Duration(f.Size/minRate)*time.Second)
	body := &idleReader{r: r.Body, rc: http.NewResponseController(w), idle: m.idle, until: until}
	if err := m.st.receive(f, body, m.expire); err != nil {
		var se *sizeError
		if errors.As(err, &se) {
			status(http.StatusBadRequest, err.Error())
			return
		}
		if errors.Is(err, errNoSlot) {
			status(http.StatusNotFound, "the slot was deleted during the upload")
			return
		}
		m.log.Warn("upload not stored", "owner", f.Owner, "size", f.Size, "err", err)
		status(http.StatusBadRequest, "the upload did not complete: "+err.Error())
		return
	}
	m.m.bytesIn.Add(float64(f.Size))
	m.log.Info("file uploaded", "owner", f.Owner, "size", f.Size, "type", f.Type)
	status(http.StatusCreated, "")
}

// sameType compares media types, parameters aside.
func sameType(a, b string) bool {
	ma, _, errA := mime.ParseMediaType(a)
	mb, _, errB := mime.ParseMediaType(b)
	return errA == nil && errB == nil && ma == mb
}

// idleReader extends the read deadline before each read: a client that
// stops sending is cut off after idle, one that keeps sending is not.
type idleReader struct {
	r     io.Reader
	rc    *http.ResponseController
	idle  time.Duration
	until time.Time // the whole upload's deadline
}

// minRate is the slowest an upload may be on the whole (bytes/s), beyond
// a first minute.
const minRate = 16 << 10

func (ir *idleReader) Read(p []byte) (int, error) {
	d := time.Now().Add(ir.idle)
	if d.After(ir.until) {
		d = ir.until
	}
	_ = ir.rc.SetReadDeadline(d)
	return ir.r.Read(p)
}

func (m *Module) serve(w http.ResponseWriter, r *http.Request, id, name string) {
	file, f, err := m.st.open(id)
	if err != nil || name != f.Name {
		if file != nil {
			file.Close()
		}
		http.Error(w, "not found (uploads expire)", http.StatusNotFound)
		return
	}
	defer file.Close()
	h := w.Header()
	ctype := f.Type
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	disp := "attachment"
	if mt, _, _ := mime.ParseMediaType(ctype); strings.HasPrefix(mt, "image/") || strings.HasPrefix(mt, "audio/") || strings.HasPrefix(mt, "video/") {
		disp = "inline" // shown by clients; the policy above keeps it inert
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": f.Name}))
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("ETag", `"`+f.SHA256+`"`)
	if r.Method == http.MethodGet {
		m.m.gets.Inc()
		// A reader slower than minRate on the whole is cut off.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute + time.Duration(f.Size/minRate)*time.Second))
	}
	http.ServeContent(w, r, "", f.Created, file)
}
