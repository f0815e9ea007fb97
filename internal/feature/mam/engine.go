package mam

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Engine answers XEP-0313 queries on one kind of archive in the history
// store: the user archives of this module; other modules' archives (muc's
// rooms) through Module.Answer, which the module provides to them.
type Engine struct {
	H       storage.History
	Archive string // "mam", "muc"
	MaxPage int    // the most results of one query
	Log     *slog.Logger
	// WithOccupant: a 'with' of room@service/nick matches the messages'
	// from, not the entries' peer (a room archive's peers are the
	// senders' real JIDs).
	WithOccupant bool
}

// Parse reads a query's form (XEP-0313 §4.1) and RSM set (XEP-0059).
func (e *Engine) Parse(p *xml.Element) (*Request, error) {
	req := &Request{queryID: p.Attr("queryid"), flip: p.Child(NS, "flip-page") != nil}
	if len(req.queryID) > 256 {
		return nil, stanza.ErrBadRequest.WithText("queryid is longer than 256 characters")
	}
	if x := p.Child(NSData, "x"); x != nil {
		if err := readForm(x, req); err != nil {
			return nil, err
		}
	}
	if e.WithOccupant && req.withFull {
		req.form.Peer = "" // room/nick: matched against the messages' from, not the senders
	}
	req.q = req.form
	req.q.Max = defaultPage
	if set := p.Child(NSRSM, "set"); set != nil {
		req.count = true
		if v := set.Child(NSRSM, "max"); v != nil {
			n, err := strconv.Atoi(strings.TrimSpace(v.Text()))
			if err != nil || n < 0 {
				return nil, stanza.ErrBadRequest.WithText("RSM max must be a number, 0 or more")
			}
			req.q.Max = n
			req.countOnly = n == 0 // XEP-0059 §2.6: the count alone
		}
		if v := set.Child(NSRSM, "index"); v != nil {
			n, err := strconv.Atoi(strings.TrimSpace(v.Text()))
			if err != nil || n < 0 || n > maxIndex {
				return nil, stanza.ErrBadRequest.WithText("RSM index must be a number from 0 to " + strconv.Itoa(maxIndex) + "; page with after and before beyond")
			}
			req.q.Offset = n
		}
		after, before := set.Child(NSRSM, "after"), set.Child(NSRSM, "before")
		if after != nil && before != nil {
			return nil, stanza.ErrBadRequest.WithText("RSM after and before together are not defined; use the after-id and before-id fields")
		}
		req.byID = after != nil || before != nil
		if after != nil {
			id := strings.TrimSpace(after.Text())
			if id == "" {
				return nil, stanza.ErrBadRequest.WithText("RSM after needs an id")
			}
			if req.q.AfterID == "" || id > req.q.AfterID {
				req.q.AfterID = id
			}
			req.check = append(req.check, id)
		}
		if before != nil {
			req.q.Last = true
			if id := strings.TrimSpace(before.Text()); id != "" {
				if req.q.BeforeID == "" || id < req.q.BeforeID {
					req.q.BeforeID = id
				}
				req.check = append(req.check, id)
			}
		}
	}
	if req.q.Max > e.MaxPage {
		req.q.Max = e.MaxPage
	}
	return req, nil
}

// readForm reads the filters of a submitted form into req.form.
func readForm(x *xml.Element, req *Request) error {
	q := &req.form
	for _, f := range x.Elements() {
		if f.Space != NSData || f.Name != "field" {
			continue
		}
		var values []string
		for _, v := range f.Elements() {
			if v.Space == NSData && v.Name == "value" {
				values = append(values, strings.TrimSpace(v.Text()))
			}
		}
		one := ""
		if len(values) > 0 {
			one = values[0]
		}
		switch f.Attr("var") {
		case "FORM_TYPE":
			if one != NS {
				return stanza.ErrBadRequest.WithText("the form's FORM_TYPE must be " + NS)
			}
		case "with":
			if one == "" {
				continue
			}
			j, err := jid.Parse(one)
			if err != nil {
				return stanza.ErrJIDMalformed.WithText("with: " + err.Error())
			}
			req.with, req.withFull = j, j.Resource() != ""
			q.Peer = j.Bare().String()
		case "start", "end":
			if one == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, one)
			if err != nil {
				return stanza.ErrBadRequest.WithText(f.Attr("var") + ": not an XEP-0082 date and time (such as 2026-12-03T10:00:00Z)")
			}
			if f.Attr("var") == "start" {
				q.Start = t
			} else {
				q.End = t
			}
		case "after-id":
			if one != "" {
				q.AfterID = one
				req.check = append(req.check, one)
			}
		case "before-id":
			if one != "" {
				q.BeforeID = one
				req.check = append(req.check, one)
			}
		case "ids":
			if len(values) > storage.MaxQueryIDs {
				return stanza.ErrPolicyViolation.WithText("at most " + strconv.Itoa(storage.MaxQueryIDs) + " ids in one query")
			}
			q.IDs = slices.DeleteFunc(values, func(s string) bool { return s == "" })
			req.check = append(req.check, q.IDs...)
		default:
			return stanza.ErrFeatureNotImplemented.WithText("the query field " + f.Attr("var") + " is not supported here")
		}
	}
	return nil
}

// Run sends the results of req in owner's archive through deliver, as
// messages from from ("": the account's own) to to, and returns the
// <fin/>. show turns an entry into the forwarded message (nil: as it was
// archived).
func (e *Engine) Run(ctx context.Context, owner, from, to string, req *Request, deliver func(*xml.Element) bool, show func(storage.Entry) (xml.Node, bool)) (*xml.Element, error) {
	if show == nil {
		show = func(en storage.Entry) (xml.Node, bool) { return archived(en.Payload) }
	}
	// XEP-0313 §4.1.3, §4.2: ids the client names must be in the archive.
	if len(req.check) > 0 {
		uniq := slices.Compact(slices.Sorted(slices.Values(req.check)))
		if len(uniq) > storage.MaxQueryIDs {
			return nil, stanza.ErrPolicyViolation.WithText("too many ids in one query")
		}
		times, err := idTimes(uniq)
		if err != nil {
			return nil, stanza.ErrItemNotFound.WithText("an id the query names is not in the archive")
		}
		page, err := e.H.Query(ctx, owner, e.Archive, storage.Query{Times: times})
		// (Fewer: one missing. More: two entries of one microsecond, from
		// two nodes of a cluster: both are there.)
		if errors.Is(err, storage.ErrNotFound) || err == nil && len(page.Entries) < len(uniq) {
			return nil, stanza.ErrItemNotFound.WithText("an id the query names is not in the archive")
		}
		if err != nil {
			return nil, e.failed(owner, err)
		}
	}
	q, err := byTime(req.q)
	if err != nil {
		return nil, stanza.ErrItemNotFound.WithText("an id the query names is not in the archive")
	}
	if req.withFull {
		q.Match = func(en storage.Entry) bool { return withMatches(en.Payload, req.with) }
	}
	if req.countOnly {
		if req.withFull {
			// A count by a full JID would read every message with the
			// bare one: none is given (XEP-0059 §2.6: SHOULD).
			return xml.New(NS, "fin").Append(xml.New(NSRSM, "set")), nil
		}
		q.CountOnly = true
		c, err := e.H.Query(ctx, owner, e.Archive, q)
		if err != nil {
			return nil, e.failed(owner, err)
		}
		return xml.New(NS, "fin").Append(xml.New(NSRSM, "set").Append(xml.New(NSRSM, "count").SetText(strconv.Itoa(c.Count)))), nil
	}
	page, err := e.H.Query(ctx, owner, e.Archive, q)
	if err != nil {
		return nil, e.failed(owner, err)
	}
	entries := page.Entries
	order := slices.Clone(entries)
	if req.flip {
		slices.Reverse(order)
	}
	for _, en := range order {
		msg, ok := show(en)
		if !ok {
			e.Log.Error("archived message unreadable; skipped", "owner", owner, "id", en.ID)
			continue
		}
		r := xml.New(NS, "result", "id", storage.TimeID(en.Time))
		if req.queryID != "" {
			r.SetAttr("queryid", req.queryID)
		}
		r.Append(xml.New(NSForward, "forwarded").Append(xml.New(NSDelay, "delay", "stamp", stamp(en.Time)), msg))
		out := xml.New(xml.NSClient, "message", "to", to, "id", randomID())
		if from != "" {
			out.SetAttr("from", from)
		}
		if !deliver(out.Append(r)) {
			return nil, stanza.ErrInternalServerError.WithText("the session closed")
		}
	}
	fin := xml.New(NS, "fin")
	if page.Complete {
		fin.SetAttr("complete", "true")
	}
	set := xml.New(NSRSM, "set")
	if len(entries) > 0 {
		first := xml.New(NSRSM, "first").SetText(storage.TimeID(entries[0].Time))
		if req.count && !req.q.Last && !req.byID {
			// (After an id, the index would need a count of what comes
			// before: none is given rather than a wrong one.)
			first.SetAttr("index", strconv.Itoa(req.q.Offset))
		}
		set.Append(first, xml.New(NSRSM, "last").SetText(storage.TimeID(entries[len(entries)-1].Time)))
	}
	if req.count && !req.withFull {
		cq, err := byTime(req.form)
		cq.CountOnly = true
		if c, err2 := e.H.Query(ctx, owner, e.Archive, cq); err == nil && err2 == nil {
			set.Append(xml.New(NSRSM, "count").SetText(strconv.Itoa(c.Count)))
		}
	}
	return fin.Append(set), nil
}

// clientMessage is how every archived message begins (the module
// serializes them with their namespace): such a payload goes into the
// result as it is, not parsed and serialized again (that was half the
// cost of paging).
var clientMessage = []byte(`<message xmlns="` + xml.NSClient + `"`)

// archived returns the node of an archived message for a result.
func archived(payload []byte) (xml.Node, bool) {
	if bytes.HasPrefix(payload, clientMessage) {
		return xml.Raw(payload), true
	}
	el, err := xml.Parse(payload)
	if err != nil {
		return nil, false
	}
	if el.Space == "" {
		el.Space = xml.NSClient
	}
	return el, true
}

// byTime turns a query in archive ids (the entries' times, TimeID) into
// the storage's: exclusive id bounds become time bounds a microsecond
// inside them, ids become times.
func byTime(q storage.Query) (storage.Query, error) {
	if q.AfterID != "" {
		t, err := storage.ParseTimeID(q.AfterID)
		if err != nil {
			return q, err
		}
		if t = t.Add(time.Microsecond); t.After(q.Start) {
			q.Start = t
		}
		q.AfterID = ""
	}
	if q.BeforeID != "" {
		t, err := storage.ParseTimeID(q.BeforeID)
		if err != nil {
			return q, err
		}
		if t = t.Add(-time.Microsecond); q.End.IsZero() || t.Before(q.End) {
			q.End = t
		}
		q.BeforeID = ""
	}
	if len(q.IDs) > 0 {
		t, err := idTimes(q.IDs)
		if err != nil {
			return q, err
		}
		q.Times, q.IDs = t, nil
	}
	return q, nil
}

func idTimes(ids []string) ([]time.Time, error) {
	out := make([]time.Time, 0, len(ids))
	for _, id := range ids {
		t, err := storage.ParseTimeID(id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (e *Engine) failed(owner string, err error) error {
	if errors.Is(err, storage.ErrTooBroad) {
		return stanza.ErrPolicyViolation.WithText("'with' a full JID reads every message with its bare JID, and this one finds too few in too many: narrow the query with start and end")
	}
	e.Log.Error("archive query failed: check the storage", "owner", owner, "err", err)
	return stanza.ErrInternalServerError.WithText("the archive could not be read")
}

// withMatches: a full 'with' JID matches a message to or from it exactly.
func withMatches(payload []byte, with jid.JID) bool {
	el, err := xml.Parse(payload)
	if err != nil {
		return false
	}
	for _, a := range []string{"from", "to"} {
		if j, err := jid.Parse(el.Attr(a)); err == nil && j.Equal(with) {
			return true
		}
	}
	return false
}

func randomID() string {
	b := make([]byte, 9)
	rand.Read(b)
	return hex.EncodeToString(b)
}
