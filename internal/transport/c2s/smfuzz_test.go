package c2s_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// FuzzStreamManagement runs the input as a program of XEP-0198 elements and
// stanzas on a bound session, each step followed by an iq the server
// answers (a barrier: everything the step caused comes before the answer),
// and checks the session against a model of the counts:
//   - every h the server reports (<a/>, <resumed/>, <failed/>) is exactly
//     the number of stanzas the client sent since <enable/> (§4): it never
//     acknowledges more than it got;
//   - a client h the server did not reach, or one going backwards, ends the
//     stream with handled-count-too-high; an h that is no number, with
//     undefined-condition;
//   - a resumption (§5) with a good h resends exactly the stanzas not
//     acknowledged; with a bad one it fails and the session stays resumable.
func FuzzStreamManagement(f *testing.F) {
	for _, s := range [][]byte{
		{0, 1, 5, 5, 1, 2, 1},                    // enable, r, two messages, r, ack all, r
		{1, 0, 5, 3, 0xff, 3, 0x00},              // r before enable (ignored), enable, ack one back, ack all
		{0, 5, 3, 1},                             // enable, message, ack one too many
		{0, 4, 3, '1', 'x', 'y', 1},              // enable, <a h='401'/>: more than was sent
		{0, 5, 4, 2, 11, 1},                      // enable, message, <a h='+1'/>: not digits
		{0, 4, 10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, // enable, h far above 2^32
		{0, 0, 6, 1},                             // enable twice, resume while bound, r
		{10, 5, 5, 2, 5, 8, 1, 1},                // enable resume, messages, ack, message, resume at the last ack, r, r
		{10, 5, 5, 8, 0x02, 1},                   // enable resume, resume with h too high, then a good one
		{10, 5, 8, 0x43, 5, 8, 0x81},             // resume at once with a bad h; a bogus previd
		{0, 5, 8, 0},                             // resume without resumption
		{10, 5, 9, 0, 1},                         // end cleanly, start over
		{0, 7},                                   // an unknown element
	} {
		f.Add(s)
	}
	srv := newTestServer(f, nil)
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 64 {
			prog = prog[:64]
		}
		m := &smModel{t: t, s: srv}
		m.connect(true)
		for i := 0; i < len(prog) && !m.ended; i++ {
			arg := func() byte {
				if i+1 < len(prog) {
					i++
					return prog[i]
				}
				return 0
			}
			switch op := prog[i]; op % 10 {
			case 0:
				m.enable(op/10%2 == 1) // 10, 30, ...: with resumption
			case 1:
				m.request()
			case 2:
				m.ack(strconv.FormatUint(uint64(m.recv), 10))
			case 3:
				m.ack(strconv.FormatUint(uint64(m.recv+uint32(int32(int8(arg())))), 10))
			case 4:
				raw := make([]byte, arg()%12)
				for j := range raw {
					raw[j] = "0123456789 +-x."[arg()%15]
				}
				m.ack(string(raw))
			case 5:
				m.message()
			case 6:
				m.send("<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>")
				m.want(m.barrier(), "failed unexpected-request") // only before binding (§5)
			case 7:
				m.send("<nope xmlns='urn:xmpp:sm:3'/>")
				m.streamError("unsupported-stanza-type", nil)
			case 8:
				m.reconnect(arg())
			case 9:
				m.c.end()
				m.connect(true)
			}
		}
		if !m.ended {
			m.c.end()
		}
	})
}

// smModel is what the client knows of the session's XEP-0198 state.
type smModel struct {
	t         *testing.T
	s         *testServer
	c         *client
	on        bool
	resumable bool
	id        string
	sent      uint32 // stanzas sent since enable: the server's h
	recv      uint32 // stanzas received since enable: what the server sent
	acked     uint32 // the last h the server took from us
	n         int
	ended     bool
}

func (m *smModel) send(s string) { m.c.send(s) }

// connect logs in on a new connection; bind: and binds, as a new session.
func (m *smModel) connect(bind bool) {
	m.c = m.s.connect(m.t)
	m.c.login()
	if bind {
		m.c.bind("fuzz")
		m.on, m.resumable, m.id, m.sent, m.recv, m.acked = false, false, "", 0, 0, 0
	}
}

// barrier sends an iq the server answers itself and returns what came
// before the answer, leaving out the server's own <r/>; stanzas count as
// received.
func (m *smModel) barrier() []*xml.Element {
	m.t.Helper()
	m.n++
	id := "b" + strconv.Itoa(m.n)
	m.send("<iq type='get' id='" + id + "' to='" + domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if m.on {
		m.sent++
	}
	var got []*xml.Element
	for {
		el := m.c.next()
		if el == nil {
			m.t.Fatalf("the stream ended before the answer to %s; got %v", id, got)
		}
		if el.Space == stream.NSSM && el.Name == "r" {
			continue
		}
		if el.Space == xml.NSClient && m.on {
			m.recv++
		}
		if el.Name == "iq" && el.Attr("id") == id {
			return got
		}
		got = append(got, el)
	}
}

// want checks that got is exactly one element, named as desc says
// ("enabled", "failed unexpected-request", "a").
func (m *smModel) want(got []*xml.Element, desc string) *xml.Element {
	m.t.Helper()
	if len(got) != 1 || describe(got[0]) != desc {
		m.t.Fatalf("got %v; want one <%s/>", got, desc)
	}
	return got[0]
}

func describe(el *xml.Element) string {
	if el.Name == "failed" && el.FirstElement() != nil {
		return "failed " + el.FirstElement().Name
	}
	return el.Name
}

func (m *smModel) enable(resume bool) {
	m.t.Helper()
	if resume {
		m.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	} else {
		m.send("<enable xmlns='urn:xmpp:sm:3'/>")
	}
	if m.on {
		m.want(m.barrier(), "failed unexpected-request") // §3: once per stream
		return
	}
	m.on, m.sent, m.recv, m.acked = true, 0, 0, 0
	e := m.want(m.barrier(), "enabled")
	m.resumable, m.id = e.Attr("resume") == "true", e.Attr("id")
	if m.resumable != resume || resume && (m.id == "" || e.Attr("max") != "60") {
		m.t.Fatalf("asked resume=%v, got %s", resume, e)
	}
}

func (m *smModel) request() {
	m.t.Helper()
	m.send("<r xmlns='urn:xmpp:sm:3'/>")
	want := m.sent
	got := m.barrier()
	if !m.on {
		if len(got) != 0 {
			m.t.Fatalf("<r/> before <enable/>: got %v; want it ignored", got)
		}
		return
	}
	a := m.want(got, "a")
	if a.Attr("h") != strconv.FormatUint(uint64(want), 10) {
		m.t.Fatalf("<a h='%s'/> after %d stanzas sent", a.Attr("h"), want)
	}
}

// valid reports whether the server takes h as an ack: between the last
// ack and what it sent, modulo 2^32 (§4).
func (m *smModel) valid(h uint32) bool { return h-m.acked <= m.recv-m.acked }

func (m *smModel) ack(raw string) {
	m.t.Helper()
	if raw == "" {
		m.send("<a xmlns='urn:xmpp:sm:3'/>")
	} else {
		m.send("<a xmlns='urn:xmpp:sm:3' h='" + raw + "'/>")
	}
	if !m.on {
		if got := m.barrier(); len(got) != 0 {
			m.t.Fatalf("<a/> before <enable/>: got %v; want it ignored", got)
		}
		return
	}
	h, err := strconv.ParseUint(raw, 10, 32) // xs:unsignedInt as tern reads it: digits only
	switch {
	case err != nil:
		m.streamError("undefined-condition", nil)
	case !m.valid(uint32(h)):
		m.streamError("undefined-condition", func(e *xml.Element) {
			hc := e.Child(stream.NSSM, "handled-count-too-high")
			if hc == nil || hc.Attr("h") != strconv.FormatUint(h, 10) || hc.Attr("send-count") != strconv.FormatUint(uint64(m.recv), 10) {
				m.t.Fatalf("stream error %s: want <handled-count-too-high h='%d' send-count='%d'/>", e, h, m.recv)
			}
		})
	default:
		if got := m.barrier(); len(got) != 0 {
			m.t.Fatalf("ack %s: got %v", raw, got)
		}
		m.acked = uint32(h)
	}
}

func (m *smModel) message() {
	m.t.Helper()
	id := "m" + strconv.Itoa(m.n)
	m.send("<message type='chat' id='" + id + "' to='alice@" + domain + "/fuzz'><body>x</body></message>")
	if m.on {
		m.sent++
	}
	if got := m.barrier(); len(got) != 1 || got[0].Attr("id") != id {
		m.t.Fatalf("message to self: got %v", got)
	}
}

// streamError expects the stream to end with a stream error of cond.
func (m *smModel) streamError(cond string, check func(*xml.Element)) {
	m.t.Helper()
	m.ended = true
	for {
		el := m.c.next()
		switch {
		case el == nil:
			m.t.Fatalf("the stream ended without the <%s/> stream error", cond)
		case el.Space == stream.NSSM && el.Name == "r":
			continue
		case el.Space != xml.NSStream || el.Name != "error" || el.Child(stream.NSStreamErrors, cond) == nil:
			m.t.Fatalf("got %s; want a <%s/> stream error", el, cond)
		}
		if check != nil {
			check(el)
		}
		if end := m.c.next(); end != nil {
			m.t.Fatalf("after the stream error: %s", end)
		}
		m.c.c.Close()
		return
	}
}

// reconnect drops the connection and resumes on a new one (§5) with an h
// chosen by mode: all received, the last acked, one too many, no number;
// mode&0x80 asks for an unknown previd first; mode&0x40 resumes before the
// server may have noticed the dead connection (it then tears it down, and
// polls for 10 ms: the other way is faster to fuzz).
func (m *smModel) reconnect(mode byte) {
	m.t.Helper()
	m.c.c.Close()
	if mode&0x40 == 0 {
		time.Sleep(time.Millisecond)
	}
	m.connect(false)
	resume := func(previd, h string) []*xml.Element {
		m.send("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='" + h + "'/>")
		el := m.c.next()
		if el == nil {
			m.t.Fatalf("the stream ended at <resume/>")
		}
		return []*xml.Element{el}
	}
	if !m.resumable {
		m.want(resume("gone", "0"), "failed item-not-found")
		m.c.bind("fuzz")
		m.on, m.resumable, m.id, m.sent, m.recv, m.acked = false, false, "", 0, 0, 0
		return
	}
	if mode&0x80 != 0 {
		m.want(resume("bogus", "0"), "failed item-not-found")
	}
	h := [...]uint32{m.recv, m.acked, m.recv + 1, 0}[mode%4]
	switch mode % 4 {
	case 2:
		f := m.want(resume(m.id, strconv.FormatUint(uint64(h), 10)), "failed unexpected-request")
		if f.Attr("h") != strconv.FormatUint(uint64(m.sent), 10) {
			m.t.Fatalf("%s: want h='%d', the stanzas the client sent", f, m.sent)
		}
		h = m.acked
	case 3:
		m.want(resume(m.id, "x"), "failed bad-request")
		h = m.acked
	}
	r := m.want(resume(m.id, strconv.FormatUint(uint64(h), 10)), "resumed")
	if r.Attr("h") != strconv.FormatUint(uint64(m.sent), 10) || r.Attr("previd") != m.id {
		m.t.Fatalf("%s: want previd='%s' h='%d'", r, m.id, m.sent)
	}
	// Then what the client had not acknowledged, once each, in order.
	for want := m.recv - h; want > 0; {
		el := m.c.next()
		switch {
		case el == nil:
			m.t.Fatalf("the stream ended while %d stanzas were to be resent", want)
		case el.Space == stream.NSSM && el.Name == "r":
		case el.Space == xml.NSClient:
			want--
		default:
			m.t.Fatalf("resending: got %s", el)
		}
	}
	m.acked = h
	if got := m.barrier(); len(got) != 0 {
		m.t.Fatalf("after resumption, more was resent: %v", got)
	}
}
