package config

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// configFlagHelp is --config's help; it is the one flag that is no key.
const configFlagHelp = "YAML config file"

// helpWidth is the width --help wraps to: a standard terminal.
const helpWidth = 80

// helpIndent is the column flag descriptions start at in --help.
const helpIndent = 26

// Flag describes one command-line flag: the key it sets, its type and
// default as people write them, and the topic --help lists it under.
type Flag struct {
	Name    string // without dashes, e.g. "sfu-port"
	Path    string // the key, e.g. "sfu.udp_port"; "" for --config
	Type    string // string, int, bool, duration or list
	Default string
	Env     string
	Help    string
	Topic   string
}

// topics orders --help's groups. A key's topic is its section (sfu.*,
// turn.*, …) or, for a top-level key, topicOf's entry; a flag added
// without one lands under "Server".
var topics = []string{"Server", "Rooms", "Security", "SFU", "TURN", "TLS", "Metrics and logs"}

// topicOf returns the --help group of a key path.
func topicOf(path string) string {
	section, _, nested := strings.Cut(path, ".")
	if nested {
		switch section {
		case "sfu":
			return "SFU"
		case "turn":
			return "TURN"
		case "tls":
			return "TLS"
		case "metrics":
			return "Metrics and logs"
		case "access":
			return "Security"
		}
		return "Server"
	}
	switch path {
	case "mesh_max", "mesh_down", "mesh_down_delay", "policy", "room_max", "resume_grace", "max_file_bytes":
		return "Rooms"
	case "admin_token", "admin_token_file", "embed_origins", "hsts_max_age", "allowed_origins", "trusted_proxies":
		return "Security"
	case "log_level", "log_format":
		return "Metrics and logs"
	}
	return "Server"
}

// typeName is how --help names a key's type.
func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "duration"
	case t.Kind() == reflect.Slice:
		return "list"
	}
	return t.Kind().String()
}

// Flags lists the command-line flags, --config first, then flagKeys'
// order.
func Flags() []Flag {
	keys := map[string]Key{}
	for _, k := range Keys() {
		keys[k.Path] = k
	}
	out := []Flag{{Name: "config", Type: "string", Env: EnvPrefix + "CONFIG", Help: configFlagHelp, Topic: "Server"}}
	ct := reflect.TypeOf(Config{})
	for _, f := range flagKeys {
		k := keys[f.path]
		out = append(out, Flag{
			Name: f.flag, Path: f.path, Type: typeName(ct.FieldByIndex(k.field).Type),
			Default: k.Default, Env: k.Env, Help: k.Help, Topic: topicOf(f.path),
		})
	}
	return out
}

// byTopic returns the flags grouped in topics order.
func byTopic() [][]Flag {
	groups := make([][]Flag, len(topics))
	for _, f := range Flags() {
		for i, t := range topics {
			if t == f.Topic {
				groups[i] = append(groups[i], f)
			}
		}
	}
	return groups
}

// WriteFlagHelp writes the flags for --help: grouped by topic, each with
// its type, default and environment variable, wrapped to helpWidth.
func WriteFlagHelp(w io.Writer) {
	for i, group := range byTopic() {
		if len(group) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", topics[i])
		for _, f := range group {
			head := "  --" + f.Name
			if f.Type != "bool" {
				head += " " + f.Type
			}
			text := f.Help
			if f.Default != "" && f.Default != "false" && f.Default != "0" && f.Default != "0s" {
				text += fmt.Sprintf(" (default %s)", f.Default)
			}
			text += " [" + f.Env + "]"
			lines := Wrap(text, helpWidth-helpIndent)
			if len(head) < helpIndent-1 {
				fmt.Fprintf(w, "%-*s%s\n", helpIndent, head, lines[0])
				lines = lines[1:]
			} else {
				fmt.Fprintln(w, head)
			}
			for _, l := range lines {
				fmt.Fprintf(w, "%*s%s\n", helpIndent, "", l)
			}
		}
	}
}

// Wrap splits text into lines of at most width runes at spaces (a word
// longer than width gets a line of its own).
func Wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len([]rune(line))+1+len([]rune(word)) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// FlagsMarkdown renders README.md's flag table from the same source as
// --help (a test keeps the README equal to it).
func FlagsMarkdown() string {
	var b strings.Builder
	b.WriteString("| flag | type | default | env | meaning |\n|---|---|---|---|---|\n")
	for i, group := range byTopic() {
		if len(group) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| **%s** | | | | |\n", topics[i])
		for _, f := range group {
			def := "—"
			if f.Default != "" {
				def = "`" + f.Default + "`"
			}
			fmt.Fprintf(&b, "| `--%s` | %s | %s | `%s` | %s |\n", f.Name, f.Type, def, f.Env, strings.ReplaceAll(f.Help, "|", "\\|"))
		}
	}
	return b.String()
}

// flagValue holds a flag's text until Load applies it with Set, after the
// file and the environment. isBool lets `--sfu-loopback` stand alone.
type flagValue struct {
	s      string
	isBool bool
}

func (v *flagValue) String() string     { return v.s }
func (v *flagValue) Set(s string) error { v.s = s; return nil }
func (v *flagValue) IsBoolFlag() bool   { return v.isBool }
