package config

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// hint completes what a key's Go type says about it, for type errors:
// what names the value (for a list or table, its elements), eg is a TOML
// example. Keys without eg take their value in example.toml; a test checks
// that every key has an example one way or the other.
type hint struct{ what, eg string }

var hints = map[string]hint{
	"data_dir":                         {what: "a directory path"},
	"log_level":                        {what: `one of the strings "debug", "info", "warn", "error"`},
	"log_format":                       {what: `one of the strings "text", "json"`},
	"domain":                           {what: "[[domain]] tables (double brackets, one per domain)", eg: `[[domain]] on a line of its own, then name = "example.org"`},
	"domain.name":                      {what: "a domain name", eg: `"example.org"`},
	"domain.cert":                      {what: "the path of a PEM certificate (chain)", eg: `"/etc/letsencrypt/live/example.org/fullchain.pem"`},
	"domain.key":                       {what: "the path of a PEM private key", eg: `"/etc/letsencrypt/live/example.org/privkey.pem"`},
	"domain.pkcs12":                    {what: "the path of a PKCS#12 file (chain and key)", eg: `"/etc/tern/example.org.p12"`},
	"domain.password_file":             {what: "the path of a file whose first line is the PKCS#12 password", eg: `"/etc/tern/example.org.p12.pass"`},
	"domain.circles":                   {what: "[[trust.circle]] names", eg: `["partners"]`},
	"http.pki_dirs":                    {what: "lab CA directories", eg: `["/var/lib/tern/lab/orga"]`},
	"trust.circle":                     {what: "[[trust.circle]] tables (double brackets, one per circle)", eg: `[[trust.circle]] on a line of its own, then name = "partners"`},
	"trust.circle.name":                {what: "a circle name", eg: `"partners"`},
	"trust.circle.anchors":             {what: "PEM or DER certificate files", eg: `["/etc/tern/anchors/partner-ca.pem"]`},
	"trust.circle.bundle":              {what: "[[trust.circle.bundle]] tables", eg: `[[trust.circle.bundle]] on a line of its own, then name = "partners" and url = "https://..."`},
	"trust.circle.bundle.name":         {what: "a bundle name", eg: `"directtrust"`},
	"trust.circle.bundle.url":          {what: "an https URL", eg: `"https://bundles.example.org/accredited.p7b"`},
	"trust.circle.bundle.path":         {what: "a file path", eg: `"/etc/tern/anchors/partners.p7b"`},
	"trust.circle.bundle.signing_cert": {what: "the path of the bundle signer's certificate", eg: `"/etc/tern/anchors/bundle-signer.pem"`},
	"trust.circle.bundle.refresh":      {what: "a duration", eg: `"6h"`},
	"trust.cache_dir":                  {what: "a directory path", eg: `"/var/lib/tern/trust-cache"`},
	"dns.listen":                       {what: "a host:port for the DNS responder (UDP and TCP)", eg: `"0.0.0.0:53"`},
	"dns.host":                         {what: "the host name the SRV records point to", eg: `"xmpp.b.example"`},
	"dns.host_ips":                     {what: "IP addresses of dns.host", eg: `["192.0.2.10"]`},
	"dns.ttl":                          {what: "a duration with a unit", eg: `"1h"`},
	"dns.rate_per_ip":                  {what: "a number of queries per second (0: no bound)", eg: `200`},
	"dns.resolver":                     {what: "a DNS resolver host:port", eg: `"127.0.0.1:53"`},
	"keys.file":                        {what: "a file holding the sealing key", eg: `"/etc/tern/sealing.key"`},
	"keys.env":                         {what: "the name of an environment variable", eg: `"TERN_SEALING_KEY"`},
	"discovery.order":                  {what: "a list of discovery sources", eg: `["peer", "dns", "ldap"]`},
	"discovery.peer_timeout":           {what: "a duration with a unit", eg: `"10s"`},
	"discovery.peer_cache":             {what: "a duration with a unit", eg: `"10m"`},
	"domain.admins":                    {what: "bare JIDs", eg: `["admin@example.org"]`},
	"domain.contacts":                  {what: "URI lists by kind", eg: `{ admin = ["xmpp:admin@example.org"], abuse = ["mailto:abuse@example.org"] }`},
	"c2s.listen":                       {what: "addresses", eg: `["0.0.0.0:5222"]`},
	"c2s.listen_tls":                   {what: "addresses", eg: `["0.0.0.0:5223"]`},
	"s2s.listen":                       {what: "addresses", eg: `["0.0.0.0:5269"]`},
	"s2s.listen_tls":                   {what: "addresses", eg: `["0.0.0.0:5270"]`},
	"s2s.routes":                       {what: "host:port addresses by domain", eg: `{ "example.net" = "xmpp.example.net:5269" }`},
	"s2s.ca_file":                      {what: "the path of a PEM file of CA certificates", eg: `"/etc/tern/partners-ca.pem"`},
	"s2s.insecure_domains":             {what: "domain names", eg: `["legacy.example"]`},
	"s2s.dns_server":                   {what: "an ip:port address", eg: `"127.0.0.1:53"`},
	"http.listen":                      {what: `an address, or "" to disable`},
	"storage.backend":                  {what: `one of the strings "sqlite", "postgres"`},
	"storage.path":                     {what: "a file path", eg: `"/var/lib/tern/tern.db"`},
	"storage.dsn":                      {what: "a PostgreSQL connection string", eg: `"postgres://tern:secret@localhost/tern?sslmode=disable"`},
	"limits.trusted_networks":          {what: "addresses and CIDR prefixes", eg: `["192.0.2.7", "10.20.0.0/16"]`},
	"modules_disabled":                 {what: "module names", eg: `["csi", "register"]`},
}

var durationType = reflect.TypeOf(Duration{})

// expectation says what a key of Go type t holds: "a list of addresses".
func expectation(key string, t reflect.Type) string {
	what := hints[key].what
	or := func(def string) string {
		if what != "" {
			return what
		}
		return def
	}
	switch {
	case t == durationType:
		return "a duration with a unit (ms, s, m, h)"
	case t.Kind() == reflect.Struct:
		return "a table"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return or("tables")
	case t.Kind() == reflect.Slice:
		return "a list of " + or("strings")
	case t.Kind() == reflect.Map:
		if t.Elem().Kind() == reflect.Slice {
			return "a table of " + or("lists of strings")
		}
		return "a table of " + or("strings")
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int, t.Kind() == reflect.Int64:
		return or("a whole number")
	}
	return or("a string")
}

// exampleOf is a value to write for key: its hint, or its value in
// example.toml when that shows something (not "" or []).
func exampleOf(key toml.Key, t reflect.Type) string {
	if eg := hints[key.String()].eg; eg != "" {
		return eg
	}
	if t.Kind() == reflect.Struct && t != durationType {
		return "[" + key.String() + "] on a line of its own, then its keys"
	}
	if eg := sectionExample(key); eg != "" {
		return eg
	}
	var v any = exampleTOML()
	for _, piece := range key {
		if tables, ok := v.([]map[string]any); ok && len(tables) > 0 {
			v = tables[0]
		}
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[piece]
	}
	return render(v)
}

var exampleTOML = sync.OnceValue(func() map[string]any {
	var m map[string]any
	if _, err := toml.Decode(string(example), &m); err != nil {
		panic("config: example.toml does not parse: " + err.Error())
	}
	return m
})

// render writes a decoded TOML value back as TOML, "" for empty values.
func render(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return ""
		}
		return strconv.Quote(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		var parts []string
		for _, e := range v {
			parts = append(parts, render(e))
		}
		if len(parts) == 0 {
			return ""
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		if len(keys) == 0 {
			return ""
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = toml.Key{k}.String() + " = " + render(v[k])
		}
		return "{ " + strings.Join(keys, ", ") + " }"
	}
	return ""
}
