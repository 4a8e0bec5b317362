package e2e

// Helpers of the end-to-end encryption tests (e2ee_test.go): a known
// picture for the fake camera, reading it back, the room secret.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/testsupport/browsertest"
	"github.com/parleyhq/parley/internal/testsupport/testserver"
)

// knownY, knownU, knownV is the fake camera's solid colour (BT.601 full
// range): a saturated red, far from the fake device's test pattern and from
// anything ciphertext decodes to.
const knownY, knownU, knownV = 76, 85, 255

// writeSolidY4M writes a solid-colour 4:2:0 y4m file for
// --use-file-for-fake-video-capture and returns its path.
func writeSolidY4M(t testing.TB, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "YUV4MPEG2 W%d H%d F15:1 Ip A1:1 C420jpeg\n", w, h)
	for range 15 {
		buf.WriteString("FRAME\n")
		buf.Write(bytes.Repeat([]byte{knownY}, w*h))
		buf.Write(bytes.Repeat([]byte{knownU}, (w/2)*(h/2)))
		buf.Write(bytes.Repeat([]byte{knownV}, (w/2)*(h/2)))
	}
	path := filepath.Join(t.TempDir(), "red.y4m")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// isKnownColour reports whether an RGB pixel is the fake camera's red.
func isKnownColour(r, g, b int) bool {
	return r > 170 && g < 90 && b < 90
}

// jsTilePixels maps each remote camera tile (data-peer) to the RGB of the
// centre of its visible video, drawn on a canvas ([-1,-1,-1]: no picture).
const jsTilePixels = `(() => {
  const out = {};
  for (const t of document.querySelectorAll('.tile:not([data-self]):not(.screen)')) {
    const v = t.querySelector('video.live') || t.querySelector('video');
    if (!v || !v.videoWidth) { out[t.dataset.peer] = [-1, -1, -1]; continue; }
    const c = document.createElement('canvas');
    c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0);
    const d = g.getImageData(c.width >> 1, c.height >> 1, 1, 1).data;
    out[t.dataset.peer] = [d[0], d[1], d[2]];
  }
  return out;
})()`

// jsE2EEState maps each remote tile (data-peer, camera tiles) to its lock's data-e2ee.
const jsE2EEState = `(() => {
  const out = {};
  for (const t of document.querySelectorAll('.tile:not([data-self]):not(.screen)')) {
    out[t.dataset.peer] = t.querySelector('[data-e2ee]')?.dataset.e2ee ?? '';
  }
  return out;
})()`

// jsE2EEDecrypted is the frames the page decrypted per peer id, plus "encrypted" (sent).
const jsE2EEDecrypted = `(() => {
  const e = parley.e2ee();
  if (!e) return {};
  const out = { encrypted: e.encrypted };
  for (const [id, p] of Object.entries(e.peers)) out[id] = p.decrypted;
  return out;
})()`

// roomSecret returns a fresh "#k=…" fragment.
func roomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "#k=" + base64.RawURLEncoding.EncodeToString(b)
}

// e2eeRoomURL is browserRoomURL with a fragment (the room secret, or "").
func e2eeRoomURL(ts *testserver.Server, room, name, fragment string) string {
	return browserRoomURL(ts, room, name) + fragment
}

// pageID returns the participant id of a page.
func pageID(t testing.TB, p *browsertest.Page) string {
	t.Helper()
	return browsertest.MustEval[string](p, `parley.id`)
}
