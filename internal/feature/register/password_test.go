package register

import "testing"

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		pw   string
		min  int
		want string // "" accepted
	}{
		{"12345678", 8, ""},
		{"1234567", 8, "password too short: at least 8 characters (limits.min_password_length)"},
		{"", 1, "password too short: at least 1 character (limits.min_password_length)"},
		{"x", 1, ""},
		{"ééééééé", 8, "password too short: at least 8 characters (limits.min_password_length)"}, // 14 bytes, 7 characters
		{"éééééééé", 8, ""},
		// SASLprep maps U+00AD (soft hyphen) to nothing: 8 typed, 7 stored.
		{"abcdefg\u00ad", 8, "password too short: at least 8 characters (limits.min_password_length)"},
		// ... and U+00A0 (no-break space) to a space: still one character.
		{"abc\u00a0defg", 8, ""},
	}
	for _, tt := range tests {
		err := CheckPassword(tt.pw, tt.min)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckPassword(%q, %d) = %v, want nil", tt.pw, tt.min, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("CheckPassword(%q, %d) = %v, want %q", tt.pw, tt.min, err, tt.want)
		}
	}
}
