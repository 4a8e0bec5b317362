package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestLayoutMatchesBrowser runs web/js/layout.js's computeLayout (with
// node) and the Go grid on the same tiles and boxes: the load tool must ask
// the SFU for the sizes a browser of that size would.
func TestLayoutMatchesBrowser(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: cannot run web/js/layout.js")
	}
	js, err := filepath.Abs("../../../web/js/layout.js")
	if err != nil {
		t.Fatal(err)
	}
	type jsCase struct {
		Tiles []map[string]string `json:"tiles"`
		W     float64             `json:"width"`
		H     float64             `json:"height"`
	}
	type goCase struct {
		tiles []layoutTile
		w, h  float64
	}
	var jsCases []jsCase
	var goCases []goCase
	for _, box := range [][2]float64{{1280, 720}, {1920, 1080}, {360, 640}, {800, 600}, {1024, 400}} {
		for _, remotes := range []int{1, 2, 5, 12, 24, 49, 99} {
			var jt []map[string]string
			gt := []layoutTile{{id: "self", kind: kindSelf}}
			jt = append(jt, map[string]string{"id": "self", "kind": "self"})
			for i := range remotes {
				id := fmt.Sprintf("t%d", i)
				gt = append(gt, layoutTile{id: id, kind: kindCamera})
				jt = append(jt, map[string]string{"id": id, "kind": "camera"})
			}
			jsCases = append(jsCases, jsCase{Tiles: jt, W: box[0], H: box[1]})
			goCases = append(goCases, goCase{tiles: gt, w: box[0], h: box[1]})
		}
	}
	in, _ := json.Marshal(jsCases)
	script := fmt.Sprintf(`import { computeLayout } from %q;
let s = ''; process.stdin.on('data', (d) => { s += d; });
process.stdin.on('end', () => {
  const out = JSON.parse(s).map((c) => computeLayout({ ...c, mode: 'stage' }));
  process.stdout.write(JSON.stringify(out));
});`, "file://"+js)
	cmd := exec.Command(node, "--input-type=module", "-e", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var raw []struct {
		Placed []map[string]any `json:"placed"`
		Hidden []string         `json:"hidden"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("decode node's output: %v\n%s", err, out)
	}
	if len(raw) != len(goCases) {
		t.Fatalf("layout.js answered %d cases of %d", len(raw), len(goCases))
	}
	for i, c := range goCases {
		want := raw[i]
		res := gridLayout(c.tiles, c.w, c.h)
		name := fmt.Sprintf("%d tiles in %.0f×%.0f", len(c.tiles), c.w, c.h)
		if len(res.placed) != len(want.Placed) {
			t.Errorf("%s: Go places %d tiles, layout.js %d", name, len(res.placed), len(want.Placed))
			continue
		}
		if !slices.Equal(res.hidden, want.Hidden) && !(len(res.hidden) == 0 && len(want.Hidden) == 0) {
			t.Errorf("%s: Go hides %v, layout.js %v", name, res.hidden, want.Hidden)
		}
		for j, p := range res.placed {
			w := want.Placed[j]
			num := func(k string) float64 { f, _ := w[k].(float64); return f }
			if p.id != w["id"] || p.role != w["role"] ||
				math.Abs(p.x-num("x")) > 1e-6 || math.Abs(p.y-num("y")) > 1e-6 ||
				math.Abs(p.w-num("w")) > 1e-6 || math.Abs(p.h-num("h")) > 1e-6 {
				t.Errorf("%s: tile %d: Go %+v, layout.js %v", name, j, p, w)
			}
		}
	}
}
