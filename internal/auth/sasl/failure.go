package sasl

// RFC 6120 §6.5 failure conditions.
const (
	Aborted              = "aborted"
	AccountDisabled      = "account-disabled"
	CredentialsExpired   = "credentials-expired"
	EncryptionRequired   = "encryption-required"
	IncorrectEncoding    = "incorrect-encoding"
	InvalidAuthzid       = "invalid-authzid"
	InvalidMechanism     = "invalid-mechanism"
	MalformedRequest     = "malformed-request"
	MechanismTooWeak     = "mechanism-too-weak"
	NotAuthorized        = "not-authorized"
	TemporaryAuthFailure = "temporary-auth-failure"
)

// Failure is a failed authentication: Condition is the RFC 6120 §6.5 child
// element of <failure/>, Text an optional human-readable <text/>. Text never
// says whether an account exists.
type Failure struct {
	Condition string
	Text      string
	// Negotiation marks a failure that says nothing about credentials (a
	// channel-binding type this connection lacks): clients then try the
	// next mechanism, so it must not count as a failed login.
	Negotiation bool
}

func (f *Failure) Error() string {
	if f.Text == "" {
		return "sasl: " + f.Condition
	}
	return "sasl: " + f.Condition + ": " + f.Text
}

func fail(cond, text string) *Failure { return &Failure{Condition: cond, Text: text} }

// badLogin is the one answer for a wrong password and an unknown user alike.
func badLogin() *Failure { return fail(NotAuthorized, "wrong username or password") }
