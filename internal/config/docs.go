package config

import (
	"fmt"
	"strings"
)

// Markdown renders the reference table of docs/config.md from Keys, so the
// documentation cannot drift from the code (a test compares them).
func Markdown() string {
	flags := map[string]string{}
	for _, f := range flagKeys {
		flags[f.path] = "`--" + f.flag + "`"
	}
	var b strings.Builder
	b.WriteString("| key | env | flag | default | meaning |\n|---|---|---|---|---|\n")
	for _, k := range Keys() {
		def := k.Default
		if def == "" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		fl := flags[k.Path]
		if fl == "" {
			fl = "—"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", k.Path, k.Env, fl, def, strings.ReplaceAll(k.Help, "|", "\\|"))
	}
	return b.String()
}
