package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable Parley reads.
const EnvPrefix = "PARLEY_"

// Key describes one configuration key: where it lives in the file, in the
// environment, and what it means. Keys is the single list docs and loaders
// are derived from.
type Key struct {
	Path    string // dotted YAML path, e.g. "turn.allow_peers"
	Env     string // e.g. "PARLEY_TURN_ALLOW_PEERS"
	Help    string
	Default string
	field   []int // reflect index path into Config
}

// Keys lists every configuration key in declaration order.
func Keys() []Key {
	def := reflect.ValueOf(Default())
	var keys []Key
	walk(reflect.TypeOf(Config{}), nil, "", func(path string, idx []int, sf reflect.StructField) {
		keys = append(keys, Key{
			Path:    path,
			Env:     EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_")),
			Help:    sf.Tag.Get("help"),
			Default: format(def.FieldByIndex(idx)),
			field:   idx,
		})
	})
	return keys
}

func walk(t reflect.Type, idx []int, prefix string, leaf func(string, []int, reflect.StructField)) {
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("yaml")
		if name == "" || name == "-" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		fi := append(append([]int(nil), idx...), i)
		if sf.Type.Kind() == reflect.Struct && sf.Type != reflect.TypeOf(time.Duration(0)) {
			walk(sf.Type, fi, path, leaf)
			continue
		}
		leaf(path, fi, sf)
	}
}

// Set assigns a key from its string form, as env and flags give it.
// Lists are comma-separated.
func (c *Config) Set(path, value string) error {
	for _, k := range Keys() {
		if k.Path == path {
			return parseInto(reflect.ValueOf(c).Elem().FieldByIndex(k.field), value)
		}
	}
	return fmt.Errorf("unknown configuration key %q", path)
}

func parseInto(v reflect.Value, s string) error {
	switch v.Interface().(type) {
	case string:
		v.SetString(s)
	case int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(int64(n))
	case bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a duration like 90s or 1h", s)
		}
		v.SetInt(int64(d))
	case []string:
		var list []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("unsupported key type %s", v.Type())
	}
	return nil
}

func format(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case []string:
		return strings.Join(x, ",")
	case time.Duration:
		// 4320h, not 4320h0m0s: how people write it.
		s := x.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	default:
		return fmt.Sprint(x)
	}
}

// LoadFile reads a YAML config file over c. Unknown keys are an error naming
// the key and its line, so a typo never silently does nothing.
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// LoadEnv applies every PARLEY_* variable that names a key. lookup is
// os.LookupEnv in production and a map in tests.
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	for _, k := range Keys() {
		if v, ok := lookup(k.Env); ok {
			if err := c.Set(k.Path, v); err != nil {
				return fmt.Errorf("%s: %w", k.Env, err)
			}
		}
	}
	return nil
}

// flagKeys maps the command-line flags to the keys they set. Only the keys
// people change at the command line have flags; every key has an env name.
// --help groups them by topic (flags.go), and README.md's flag table is
// generated from them (a test keeps it current).
var flagKeys = []struct{ flag, path string }{
	{"http", "http"},
	{"public-url", "public_url"},
	{"allowed-origins", "allowed_origins"},
	{"log-level", "log_level"},
	{"log-format", "log_format"},
	{"mesh-max", "mesh_max"},
	{"mesh-down", "mesh_down"},
	{"policy", "policy"},
	{"admin-token", "admin_token"},
	{"sfu-port", "sfu.udp_port"},
	{"sfu-loopback", "sfu.loopback"},
	{"tls-cert", "tls.cert_file"},
	{"tls-key", "tls.key_file"},
	{"acme-host", "tls.acme_hosts"},
	{"metrics", "metrics.listen"},
	{"turn", "turn.listen"},
	{"turn-tls", "turn.tls_listen"},
	{"turn-public-ip", "turn.public_ip"},
	{"turn-allow-peers", "turn.allow_peers"},
	{"sfu-listen", "sfu.listen_ip"},
	{"embed-origins", "embed_origins"},
	{"hsts-max-age", "hsts_max_age"},
	{"unencrypted-rooms", "e2ee.unencrypted_rooms"},
	{"node-name", "cluster.node_name"},
	{"cluster-listen", "cluster.listen"},
	{"cluster-peers", "cluster.peers"},
	{"nats", "cluster.nats_url"},
}

// Load builds the configuration from defaults, then the config file (from
// --config or PARLEY_CONFIG), then the environment, then flags. It returns
// flag.ErrHelp when -h was asked for and prints nothing itself: the caller
// prints the help (WriteFlagHelp) and errors. _ was the help's writer; it
// stays so callers need not change.
func Load(args []string, lookup func(string) (string, bool), _ io.Writer) (Config, error) {
	fs := flag.NewFlagSet("parley", flag.ContinueOnError)
	// The caller prints errors and help (cmd/parley: WriteFlagHelp), so
	// the flag package prints nothing itself.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	file := fs.String("config", "", configFlagHelp)
	vals := map[string]*flagValue{}
	for _, f := range Flags() {
		if f.Path == "" {
			continue // --config, above
		}
		v := &flagValue{isBool: f.Type == "bool"}
		vals[f.Name] = v
		fs.Var(v, f.Name, f.Help)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}

	cfg := Default()
	path := *file
	if path == "" {
		path, _ = lookup(EnvPrefix + "CONFIG")
	}
	if path != "" {
		if err := cfg.LoadFile(path); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.LoadEnv(lookup); err != nil {
		return Config{}, err
	}
	var setErr error
	fs.Visit(func(f *flag.Flag) {
		for _, fk := range flagKeys {
			if fk.flag == f.Name && setErr == nil {
				if err := cfg.Set(fk.path, vals[f.Name].s); err != nil {
					setErr = fmt.Errorf("--%s: %w", f.Name, err)
				}
			}
		}
	})
	if setErr != nil {
		return Config{}, setErr
	}
	if err := cfg.ResolveSecrets(); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}
