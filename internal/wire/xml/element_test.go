package xml

import "testing"

// RemoveChildren must not write through to another element sharing the
// children's backing array (router.Readdress shares it).
func TestRemoveChildrenLeavesSharedArray(t *testing.T) {
	a := New("jabber:client", "message").Append(New("", "body"), New("urn:x", "private"), New("", "thread"))
	b := &Element{Space: a.Space, Name: a.Name, Children: a.Children}
	b.RemoveChildren("urn:x", "private")
	if len(b.Children) != 2 || b.Child("urn:x", "private") != nil || b.Child("", "thread") == nil {
		t.Fatalf("b after remove: %d children", len(b.Children))
	}
	if len(a.Children) != 3 || a.Children[1].(*Element).Name != "private" || a.Children[2].(*Element).Name != "thread" {
		t.Fatalf("a changed through the shared array")
	}
	b.RemoveChildren("urn:x", "absent") // no match: no change
	if len(b.Children) != 2 {
		t.Fatal("no-match remove changed children")
	}
}
