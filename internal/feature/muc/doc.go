// Package muc is multi-user chat (XEP-0045) as a service at
// conference.<domain> (groupchat.<domain> on Direct domains, as TIM+ has
// it): rooms created by their first occupant (locked until the owner
// accepts the default configuration or submits the owner form, §10.1),
// occupants under nicknames with roles and affiliations, presence
// broadcast with the status codes of §15.6 (110 self, 100 non-anonymous,
// 201 created, 210 nick changed by the service, 303 nick change), groupchat
// messages sent once per occupant, the subject, discussion history on join
// with XEP-0203 delays (maxchars, maxstanzas, seconds, since), private
// messages between occupants, and disco#info/#items of the service and of
// rooms (the room info form, XEP-0128).
package muc
