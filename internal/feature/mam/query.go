package mam

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// defaultPage is the page size of a query without RSM <max/>.
const defaultPage = 50

// request is a parsed query: the form's filters and the RSM page.
type request struct {
	queryID  string
	with     jid.JID
	withFull bool // with has a resource: matched against the message's own addresses
	q        storage.Query
	form     storage.Query // the filters alone (RSM count counts those)
	check    []string      // ids that must exist (after-id, before-id, RSM after/before)
	count    bool          // RSM asked (any <set/>): <count/> is told
	flip     bool
}

// get answers the query form and the archive's metadata.
func (m *Module) get(iq *router.IQ) (*xml.Element, error) {
	p := iq.Payload()
	switch p.Name {
	case "query":
		return queryForm(), nil
	case "metadata":
		return m.metadata(iq)
	case "prefs":
		pr, err := m.prefs.of(iq.Ctx, iq.From.Bare().String())
		if err != nil {
			return nil, stanza.ErrInternalServerError.WithText("the preferences could not be read")
		}
		return pr.element(), nil
	}
	return nil, stanza.ErrFeatureNotImplemented
}

func queryForm() *xml.Element {
	x := xml.New(NSData, "x", "type", "form")
	x.Append(xml.New(NSData, "field", "type", "hidden", "var", "FORM_TYPE").Append(xml.New(NSData, "value").SetText(NS)))
	for _, f := range [][2]string{{"with", "jid-single"}, {"start", "text-single"}, {"end", "text-single"},
		{"before-id", "text-single"}, {"after-id", "text-single"}} {
		x.Append(xml.New(NSData, "field", "type", f[1], "var", f[0]))
	}
	x.Append(xml.New(NSData, "field", "type", "list-multi", "var", "ids").Append(
		xml.New("http://jabber.org/protocol/xdata-validate", "validate", "datatype", "xs:string").Append(xml.New("http://jabber.org/protocol/xdata-validate", "open"))))
	return xml.New(NS, "query").Append(x)
}

// metadata: the first and last entries of the archive (#extended).
func (m *Module) metadata(iq *router.IQ) (*xml.Element, error) {
	owner := iq.From.Bare().String()
	if err := m.w.Sync(iq.Ctx); err != nil {
		return nil, stanza.ErrInternalServerError.WithText("the archive is busy; try again")
	}
	md := xml.New(NS, "metadata")
	for _, last := range []bool{false, true} {
		page, err := m.a.Query(iq.Ctx, owner, Archive, storage.Query{Max: 1, Last: last})
		if err != nil {
			return nil, stanza.ErrInternalServerError.WithText("the archive could not be read")
		}
		if len(page.Entries) == 0 {
			return md, nil // empty: no start, no end
		}
		e := page.Entries[0]
		md.Append(xml.New(NS, map[bool]string{false: "start", true: "end"}[last], "id", storage.TimeID(e.Time), "timestamp", stamp(e.Time)))
	}
	return md, nil
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// query answers a query: the results as messages to the asking resource,
// then the <fin/>; the storage work runs off the stream.
func (m *Module) query(iq *router.IQ) (*xml.Element, error) {
	p := iq.Payload()
	if p.Name == "prefs" {
		return m.setPrefs(iq, p)
	}
	if p.Name != "query" {
		return nil, stanza.ErrFeatureNotImplemented
	}
	if iq.Origin == nil {
		return nil, stanza.ErrForbidden.WithText("an archive answers its own account's clients")
	}
	req, err := m.parse(p)
	if err != nil {
		return nil, err
	}
	res := iq.Origin
	owner := iq.From.Bare().String()
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(iq.Ctx), 30*time.Second)
		defer cancel()
		// Read your writes: what was routed before the query is in it.
		if err := m.w.Sync(ctx); err != nil {
			m.log.Warn("archive query before pending writes finished", "err", err)
		}
		fin, err := m.run(ctx, owner, res.JID.String(), req, func(el *xml.Element) bool { return m.r.DeliverTo(res, el) })
		iq.Reply(fin, err)
	}()
	return nil, router.ErrLater
}

// parse reads the form (XEP-0313 §4.1) and the RSM set (XEP-0059).
func (m *Module) parse(p *xml.Element) (*request, error) {
	req := &request{queryID: p.Attr("queryid"), flip: p.Child(NS, "flip-page") != nil}
	if len(req.queryID) > 256 {
		return nil, stanza.ErrBadRequest.WithText("queryid is longer than 256 characters")
	}
	if x := p.Child(NSData, "x"); x != nil {
		if err := readForm(x, req); err != nil {
			return nil, err
		}
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
		}
		if v := set.Child(NSRSM, "index"); v != nil {
			n, err := strconv.Atoi(strings.TrimSpace(v.Text()))
			if err != nil || n < 0 || n > 1000000 {
				return nil, stanza.ErrBadRequest.WithText("RSM index must be a number from 0 to 1000000")
			}
			req.q.Offset = n
		}
		after, before := set.Child(NSRSM, "after"), set.Child(NSRSM, "before")
		if after != nil && before != nil {
			return nil, stanza.ErrBadRequest.WithText("RSM after and before together are not defined; use the after-id and before-id fields")
		}
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
	if req.q.Max > m.cfg.MaxPage {
		req.q.Max = m.cfg.MaxPage
	}
	return req, nil
}

// readForm reads the filters of a submitted form into req.form.
func readForm(x *xml.Element, req *request) error {
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

// run sends the results of req in owner's archive to the resource to
// through deliver and returns the <fin/>.
func (m *Module) run(ctx context.Context, owner, to string, req *request, deliver func(*xml.Element) bool) (*xml.Element, error) {
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
		page, err := m.a.Query(ctx, owner, Archive, storage.Query{Times: times})
		if errors.Is(err, storage.ErrNotFound) || err == nil && len(page.Entries) != len(uniq) {
			return nil, stanza.ErrItemNotFound.WithText("an id the query names is not in the archive")
		}
		if err != nil {
			return nil, m.failed(owner, err)
		}
	}
	q, err := byTime(req.q)
	if err != nil {
		return nil, stanza.ErrItemNotFound.WithText("an id the query names is not in the archive")
	}
	page, err := m.a.Query(ctx, owner, Archive, q)
	if err != nil {
		return nil, m.failed(owner, err)
	}
	entries := page.Entries
	if req.withFull {
		entries = slices.DeleteFunc(entries, func(e storage.Entry) bool { return !withMatches(e.Payload, req.with) })
	}
	order := slices.Clone(entries)
	if req.flip {
		slices.Reverse(order)
	}
	for _, e := range order {
		el, err := xml.Parse(e.Payload)
		if err != nil {
			m.log.Error("archived message unreadable; skipped", "owner", owner, "id", e.ID, "err", err)
			continue
		}
		if el.Space == "" {
			el.Space = xml.NSClient
		}
		r := xml.New(NS, "result", "id", storage.TimeID(e.Time))
		if req.queryID != "" {
			r.SetAttr("queryid", req.queryID)
		}
		r.Append(xml.New(NSForward, "forwarded").Append(xml.New(NSDelay, "delay", "stamp", stamp(e.Time)), el))
		if !deliver(xml.New(xml.NSClient, "message", "to", to, "id", randomID()).Append(r)) {
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
		if req.count && !req.q.Last {
			first.SetAttr("index", strconv.Itoa(req.q.Offset))
		}
		set.Append(first, xml.New(NSRSM, "last").SetText(storage.TimeID(entries[len(entries)-1].Time)))
	}
	if req.count && !req.withFull {
		cq, err := byTime(req.form)
		cq.CountOnly = true
		if c, err2 := m.a.Query(ctx, owner, Archive, cq); err == nil && err2 == nil {
			set.Append(xml.New(NSRSM, "count").SetText(strconv.Itoa(c.Count)))
		}
	}
	return fin.Append(set), nil
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

func (m *Module) failed(owner string, err error) error {
	m.log.Error("archive query failed: check the storage", "owner", owner, "err", err)
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
