package mam

import (
	"context"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// defaultPage is the page size of a query without RSM <max/>.
const defaultPage = 50

// Request is a parsed query: the form's filters and the RSM page.
type Request struct {
	queryID   string
	with      jid.JID
	withFull  bool // with has a resource: matched against the message's own addresses
	q         storage.Query
	form      storage.Query // the filters alone (RSM count counts those)
	check     []string      // ids that must exist (after-id, before-id, RSM after/before)
	count     bool          // RSM asked (any <set/>): <count/> is told
	countOnly bool          // RSM max 0: the count alone (XEP-0059 §2.6)
	byID      bool          // RSM after or before: no index is known for the page
	flip      bool
}

// maxIndex bounds RSM index: the entries before it are read to be skipped.
const maxIndex = 10000

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
		page, err := m.eng.H.Query(iq.Ctx, owner, Archive, storage.Query{Max: 1, Last: last})
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
	req, err := m.eng.Parse(p)
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
		fin, err := m.eng.Run(ctx, owner, "", res.JID.String(), req, func(el *xml.Element) bool { return m.r.DeliverTo(res, el) }, nil)
		iq.Reply(fin, err)
	}()
	return nil, router.ErrLater
}
