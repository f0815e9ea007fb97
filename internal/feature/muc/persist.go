package muc

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Persistent rooms live in the archive store (archive "muc-rooms", owner
// the service's domain, one entry per room replaced at each change): their
// configuration, affiliations and subject survive a restart, on SQLite and
// PostgreSQL alike. Occupants and history do not (they are sessions').

const roomsArchive = "muc-rooms"

type savedRoom struct {
	JID     string            `json:"jid"`
	Config  Config            `json:"config"`
	Affs    map[string]string `json:"affiliations"`
	Subject string            `json:"subject,omitempty"` // the subject message's XML
	Created time.Time         `json:"created"`
}

// snapshot is what is saved of r (its lock held).
func (r *Room) snapshot() savedRoom {
	s := savedRoom{JID: r.jid.String(), Config: r.cfg, Affs: map[string]string{}, Created: r.created}
	for k, v := range r.affs {
		s.Affs[k] = v
	}
	if r.subject != nil {
		s.Subject = string(xml.Append(nil, r.subject, ""))
	}
	return s
}

// persist saves a persistent room, or forgets a room that no longer is
// (destroyed, or made temporary); a storage failure is logged.
func (m *Module) persist(ctx context.Context, r *Room, gone bool) {
	if m.store == nil {
		return
	}
	r.mu.Lock()
	keep := r.cfg.Persistent && !gone && !r.ended // (a room dropped meanwhile is not saved again)
	snap := r.snapshot()
	old := r.storeID
	r.mu.Unlock()
	if !keep && old == "" {
		return
	}
	owner := r.jid.Domain()
	if keep {
		b, _ := json.Marshal(snap)
		id, err := m.store.Append(ctx, storage.Entry{Owner: owner, Archive: roomsArchive, Time: m.now().UTC(), Peer: snap.JID, Payload: b}, 0)
		if err != nil {
			m.log.Error("persistent room not saved: check the storage", "room", snap.JID, "err", err)
			return
		}
		r.mu.Lock()
		r.storeID = id
		r.mu.Unlock()
	}
	if old != "" {
		if err := m.store.Delete(ctx, owner, roomsArchive, []string{old}); err != nil {
			m.log.Error("an old copy of a persistent room not removed", "room", snap.JID, "err", err)
		}
	}
	if !keep {
		r.mu.Lock()
		r.storeID = ""
		r.mu.Unlock()
	}
}

// load brings back the persistent rooms of a service.
func (m *Module) load(ctx context.Context, service string, direct bool) error {
	page, err := m.store.Query(ctx, service, roomsArchive, storage.Query{})
	if err != nil {
		return err
	}
	for _, e := range page.Entries {
		var s savedRoom
		if json.Unmarshal(e.Payload, &s) != nil {
			m.log.Error("a saved room does not parse; skipped", "service", service, "id", e.ID)
			continue
		}
		j, err := jid.Parse(s.JID)
		if err != nil || j.Domain() != service {
			continue
		}
		r := newRoom(j, m.loaded(s.Config, direct), m.cfg.MaxOccupants, m.secret, s.Created)
		r.locked, r.storeID = false, e.ID
		for k, v := range s.Affs {
			switch v {
			case Owner, Admin, Member, Outcast:
				r.affs[k] = v
			}
		}
		if s.Subject != "" {
			if el, err := xml.Parse([]byte(s.Subject)); err == nil {
				r.subject = el
			}
		}
		m.mu.Lock()
		if prev := m.rooms[j.String()]; prev != nil && prev.storeID != "" {
			// Two copies (a crash between save and delete): the later wins.
			m.store.Delete(ctx, service, roomsArchive, []string{prev.storeID})
		}
		m.rooms[j.String()] = r
		m.mu.Unlock()
	}
	return nil
}

// loaded is a saved room's configuration within what the service allows
// now (its limits may have been lowered since, the domain made a Direct
// one) and what a form could have set (a damaged copy is not trusted).
func (m *Module) loaded(c Config, direct bool) Config {
	if c.MaxOccupants < 1 || c.MaxOccupants > m.cfg.MaxOccupants {
		c.MaxOccupants = m.cfg.MaxOccupants
	}
	c.HistoryLength = min(max(c.HistoryLength, 0), maxHistoryLength)
	switch {
	case direct:
		c.WhoIs = "anyone" // TIM+
	case c.WhoIs != "anyone" && c.WhoIs != "moderators":
		c.WhoIs = "moderators"
	}
	if !validAllowPM(c.AllowPM) {
		c.AllowPM = "anyone"
	}
	c.Name, c.Description, c.Password = clip(c.Name, maxNameLen), clip(c.Description, maxDescLen), clip(c.Password, maxSecretLen)
	return c
}
