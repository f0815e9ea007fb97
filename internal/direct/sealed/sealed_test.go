package sealed

import (
	"bytes"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	b, err := New(secret)
	if err != nil {
		t.Fatal(err)
	}
	box, err := b.Seal([]byte("private key"), "nurse@b.example/ab12")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(box, []byte("private key")) {
		t.Fatal("the sealed value holds the plaintext")
	}
	if got, err := b.Open(box, "nurse@b.example/ab12"); err != nil || string(got) != "private key" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(box, "doctor@b.example/ab12"); err == nil {
		t.Error("opened with another row's additional data")
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(box, "nurse@b.example/ab12"); err == nil || !strings.Contains(err.Error(), "another server's secret") {
		t.Errorf("another secret: %v", err)
	}
	box[len(box)-1] ^= 1
	if _, err := b.Open(box, "nurse@b.example/ab12"); err == nil {
		t.Error("opened a tampered value")
	}
	if _, err := b.Open([]byte{1, 2}, ""); err == nil {
		t.Error("opened a short value")
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("a short secret was accepted")
	}
	if a, _ := b.Seal([]byte("x"), ""); bytes.Equal(a, mustSeal(t, b)) {
		t.Error("two seals of one value are equal: the nonce repeats")
	}
}

func mustSeal(t *testing.T, b *Box) []byte {
	s, err := b.Seal([]byte("x"), "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
