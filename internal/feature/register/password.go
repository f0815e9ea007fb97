package register

import (
	"fmt"
	"unicode/utf8"

	"github.com/xdg-go/stringprep"
)

// CheckPassword refuses a password shorter than min characters. It counts
// Unicode characters of the password as stored: after SASLprep (RFC 4013),
// as sasl.NewUser prepares it. A password SASLprep refuses is counted as
// given; sasl.NewUser then says what is wrong with it.
func CheckPassword(password string, min int) error {
	p, err := stringprep.SASLprep.Prepare(password)
	if err != nil {
		p = password
	}
	if utf8.RuneCountInString(p) >= min {
		return nil
	}
	unit := "characters"
	if min == 1 {
		unit = "character"
	}
	return fmt.Errorf("password too short: at least %d %s (limits.min_password_length)", min, unit)
}
