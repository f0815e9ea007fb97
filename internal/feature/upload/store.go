package upload

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// File is one slot, then the file uploaded to it.
type File struct {
	ID       string    `json:"id"`
	Owner    string    `json:"owner"` // bare JID
	Name     string    `json:"name"`
	Type     string    `json:"type"`
	Size     int64     `json:"size"`
	TokenSHA string    `json:"token_sha256"` // of the PUT's Authorization secret
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"` // of the slot until uploaded, then of the file
	Done     bool      `json:"done"`
	SHA256   string    `json:"sha256,omitempty"`
	// Server: kept by the server for the owner (a received Direct
	// document, a message sent by reference), outside the owner's quota.
	Server bool `json:"server,omitempty"`

	busy bool // a PUT is under way
}

// store keeps the files on disk and their index in memory.
type store struct {
	dir string
	now func() time.Time

	mu     sync.Mutex
	files  map[string]*File
	usage  map[string]int64 // owner -> bytes of files and open slots
	busyBy map[string]int   // owner -> PUTs under way
	busy   int              // PUTs under way in all
}

// Bounds on PUTs under way: per user and in all (each holds a connection,
// a goroutine and a buffer).
const (
	maxPutsPerUser = 4
	maxPuts        = 256
)

var errNoSlot = errors.New("no such upload")

func openStore(dir string, now func() time.Time) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload directory %s: %w", dir, err)
	}
	s := &store{dir: dir, now: now, files: map[string]*File{}, usage: map[string]int64{}, busyBy: map[string]int{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("upload directory %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".part"):
			os.Remove(filepath.Join(dir, name)) // an upload the last process did not finish
		case strings.HasSuffix(name, ".json"):
			b, err := os.ReadFile(filepath.Join(dir, name))
			var f File
			if err != nil || json.Unmarshal(b, &f) != nil || f.ID+".json" != name || !validID(f.ID) {
				continue // not ours; left alone
			}
			if f.Done {
				if st, err := os.Stat(s.path(f.ID)); err != nil || st.Size() != f.Size {
					s.remove(&f)
					continue
				}
			}
			s.files[f.ID] = &f
			s.usage[usageKey(&f)] += f.Size
		}
	}
	return s, nil
}

func validID(id string) bool {
	if len(id) != 48 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func (s *store) path(id string) string { return filepath.Join(s.dir, id) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func tokenSHA(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// quotaError is a refused slot: over the quota, retry after when >0.
type quotaError struct {
	used, quota int64
	retry       time.Time
	server      bool
}

func (e *quotaError) Error() string {
	if e.server {
		return fmt.Sprintf("the space for files the server keeps is full: %d of %d bytes in use ([upload] server_quota_bytes)", e.used, e.quota)
	}
	return fmt.Sprintf("upload quota reached: %d of %d bytes in use (files and open slots)", e.used, e.quota)
}

// serverKept is the usage key of what the server keeps for its users
// (received Direct documents, messages sent by reference): one quota for
// all of them, apart from the users' own.
const serverKept = "\x00server"

func usageKey(f *File) string {
	if f.Server {
		return serverKept
	}
	return f.Owner
}

// reserve opens a slot for owner (for the server, its quota covering all
// that the server keeps); it returns the slot and the PUT secret.
func (s *store) reserve(owner, name, ctype string, size, quota int64, slotTTL time.Duration, server bool) (*File, string, error) {
	now := s.now().UTC()
	f := &File{ID: randomHex(24), Owner: owner, Name: name, Type: ctype, Size: size, Created: now, Expires: now.Add(slotTTL), Server: server}
	token := randomHex(24)
	f.TokenSHA = tokenSHA(token)
	key := usageKey(f)
	s.mu.Lock()
	if quota > 0 && s.usage[key]+size > quota {
		qe := &quotaError{used: s.usage[key], quota: quota, server: server}
		for _, g := range s.files {
			if g.Owner == owner && !g.Server && (qe.retry.IsZero() || g.Expires.Before(qe.retry)) && g.Size >= size+s.usage[key]-quota {
				qe.retry = g.Expires
			}
		}
		s.mu.Unlock()
		return nil, "", qe
	}
	s.files[f.ID] = f
	s.usage[key] += size
	s.mu.Unlock()
	if err := s.writeMeta(f); err != nil {
		s.drop(f)
		return nil, "", err
	}
	return f, token, nil
}

// writeMeta replaces <id>.json atomically.
func (s *store) writeMeta(f *File) error {
	s.mu.Lock()
	b, err := json.Marshal(f)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := s.path(f.ID) + ".json.tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path(f.ID)+".json")
}

// get returns a copy of the live entry id.
func (s *store) get(id string) (File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok || s.now().After(f.Expires) {
		return File{}, false
	}
	return *f, true
}

// errBusy, errDone: a PUT to a slot that is being uploaded, or was.
var (
	errBusy = errors.New("an upload to this slot is under way")
	errDone = errors.New("this slot has its file already")
)

// begin claims slot id for one PUT whose secret is token.
func (s *store) begin(id, token string) (*File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok || s.now().After(f.Expires) {
		return nil, errNoSlot
	}
	if subtle.ConstantTimeCompare([]byte(tokenSHA(token)), []byte(f.TokenSHA)) != 1 {
		return nil, errForbidden
	}
	switch {
	case f.Done:
		return nil, errDone
	case f.busy:
		return nil, errBusy
	case s.busyBy[f.Owner] >= maxPutsPerUser || s.busy >= maxPuts:
		return nil, errTooMany
	}
	f.busy = true
	s.busyBy[f.Owner]++
	s.busy++
	return f, nil
}

// errTooMany: a PUT beyond maxPutsPerUser or maxPuts.
var errTooMany = errors.New("too many uploads under way: wait for one to finish")

// release ends f's claim.
func (s *store) release(f *File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !f.busy {
		return
	}
	f.busy = false
	s.busy--
	if s.busyBy[f.Owner]--; s.busyBy[f.Owner] <= 0 {
		delete(s.busyBy, f.Owner)
	}
}

var errForbidden = errors.New("the Authorization header is not this slot's")

// receive streams body into the slot's file: exactly f.Size bytes, synced
// and renamed into place; a short or long body leaves nothing.
func (s *store) receive(f *File, body io.Reader, expire time.Duration) (err error) {
	defer s.release(f)
	part := s.path(f.ID) + ".part"
	out, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(part)
		}
	}()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(out, h), io.LimitReader(body, f.Size+1), make([]byte, 256<<10))
	if err != nil {
		return err
	}
	if n != f.Size {
		return &sizeError{got: n, want: f.Size}
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(part, s.path(f.ID)); err != nil {
		return err
	}
	if !s.finish(f, h, expire) { // deleted meanwhile (its owner's account)
		os.Remove(s.path(f.ID))
		return errNoSlot
	}
	if err := s.writeMeta(f); err != nil {
		return err
	}
	syncDir(s.dir)
	return nil
}

func (s *store) finish(f *File, h hash.Hash, expire time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files[f.ID] != f {
		return false
	}
	f.Done, f.SHA256, f.Expires = true, hex.EncodeToString(h.Sum(nil)), s.now().UTC().Add(expire)
	return true
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

type sizeError struct{ got, want int64 }

func (e *sizeError) Error() string {
	if e.got > e.want {
		return fmt.Sprintf("the body is larger than the %d bytes the slot was asked for", e.want)
	}
	return fmt.Sprintf("the body has %d bytes; the slot was asked for %d", e.got, e.want)
}

// open returns the uploaded file id for reading.
func (s *store) open(id string) (*os.File, File, error) {
	f, ok := s.get(id)
	if !ok || !f.Done {
		return nil, File{}, errNoSlot
	}
	r, err := os.Open(s.path(id))
	return r, f, err
}

// drop forgets f and removes its files.
func (s *store) drop(f *File) {
	s.mu.Lock()
	if _, ok := s.files[f.ID]; !ok {
		s.mu.Unlock()
		return
	}
	delete(s.files, f.ID)
	k := usageKey(f)
	if s.usage[k] -= f.Size; s.usage[k] <= 0 {
		delete(s.usage, k)
	}
	s.mu.Unlock()
	s.remove(f)
}

func (s *store) remove(f *File) {
	os.Remove(s.path(f.ID) + ".json")
	os.Remove(s.path(f.ID))
}

// expire removes what is past its time (slots never used, old files),
// except a slot being uploaded; it returns how many went.
func (s *store) expire() int {
	now := s.now()
	var gone []*File
	s.mu.Lock()
	for _, f := range s.files {
		if now.After(f.Expires) && !f.busy {
			gone = append(gone, f)
		}
	}
	s.mu.Unlock()
	for _, f := range gone {
		s.drop(f)
	}
	return len(gone)
}

// deleteOwner removes every file and slot of owner (account deletion).
func (s *store) deleteOwner(owner string) int {
	var gone []*File
	s.mu.Lock()
	for _, f := range s.files {
		if f.Owner == owner {
			gone = append(gone, f)
		}
	}
	s.mu.Unlock()
	for _, f := range gone {
		s.drop(f)
	}
	return len(gone)
}
