package xml

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestLimitTexts: a limit error names what to change (the configuration
// key the stream layer put in Names) and its value, never a Go field.
func TestLimitTexts(t *testing.T) {
	named := Limits{MaxStanzaBytes: 100, MaxHeaderBytes: 300, MaxDepth: 3, MaxAttrs: 6,
		Names: LimitNames{StanzaBytes: "limits.max_stanza_bytes", Depth: "limits.max_depth", Attrs: "limits.max_attrs"}}
	bare := named
	bare.Names = LimitNames{}
	bigHeader := `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='` + strings.Repeat("a", 400) + `'>`
	tests := []struct {
		name string
		lim  Limits
		in   string
		want string
	}{
		{"stanza", named, testHeader + `<message><body>` + strings.Repeat("a", 200) + `</body></message>`,
			"stanza larger than limits.max_stanza_bytes (100 bytes)"},
		{"stanza huge", named, testHeader + `<message><body>` + strings.Repeat("a", 100000),
			"stanza larger than limits.max_stanza_bytes (100 bytes)"},
		{"self-closing stanza", named, testHeader + `<message to='` + strings.Repeat("a", 120) + `'/>`,
			"stanza larger than limits.max_stanza_bytes (100 bytes)"},
		{"depth", named, testHeader + `<a><b><c><d/></c></b></a>`,
			"elements nested deeper than limits.max_depth (3 levels)"},
		{"attrs", named, testHeader + `<a x='1' y='2' z='3' w='4' v='5' u='6' t='7'/>`,
			"more attributes on one element than limits.max_attrs (6)"},
		// The header limit is no configuration key: its value alone.
		{"header", named, bigHeader, "stream header larger than 300 bytes"},
		{"stanza unnamed", bare, testHeader + `<message><body>` + strings.Repeat("a", 200) + `</body></message>`,
			"stanza larger than 100 bytes"},
		{"depth unnamed", bare, testHeader + `<a><b><c><d/></c></b></a>`, "elements nested deeper than 3 levels"},
		{"attrs unnamed", bare, testHeader + `<a x='1' y='2' z='3' w='4' v='5' u='6' t='7'/>`,
			"more attributes on one element than 6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				_, _, err := decodeAll(r, tt.lim)
				var xe *Error
				if !errors.As(err, &xe) || xe.Condition != CondPolicyViolation {
					t.Fatalf("got %v, want a policy-violation", err)
				}
				if xe.Msg != tt.want {
					t.Errorf("Msg = %q, want %q", xe.Msg, tt.want)
				}
				for _, field := range []string{"MaxStanzaBytes", "MaxHeaderBytes", "MaxDepth", "MaxAttrs"} {
					if strings.Contains(xe.Msg, field) {
						t.Errorf("Msg %q names the Go field %s", xe.Msg, field)
					}
				}
			}
		})
	}
}

// TestLimitsNamesSurviveDefaults: filling zero fields keeps the names.
func TestLimitsNamesSurviveDefaults(t *testing.T) {
	l := Limits{Names: LimitNames{StanzaBytes: "k"}}.withDefaults()
	if l.Names.StanzaBytes != "k" || l.MaxStanzaBytes != DefaultLimits.MaxStanzaBytes {
		t.Errorf("withDefaults = %+v", l)
	}
}
