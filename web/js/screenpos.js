// @ts-check
// Where things are on a shared screen: positions are normalised (0..1)
// coordinates of the shared content, so a pointer or a stroke lands on the
// same spot of the picture whatever the tile's size, aspect ratio and
// letterboxing. Shared by pointer.js and ink.js.

/**
 * contentRect is where a video's picture is drawn inside its element
 * (object-fit contain or cover), relative to the element's box.
 * @returns {{x: number, y: number, w: number, h: number}}
 */
export function contentRect(videoW, videoH, boxW, boxH, fit = 'contain') {
  if (!videoW || !videoH || !boxW || !boxH) return { x: 0, y: 0, w: boxW, h: boxH };
  const scale = fit === 'cover'
    ? Math.max(boxW / videoW, boxH / videoH)
    : Math.min(boxW / videoW, boxH / videoH);
  const w = videoW * scale;
  const h = videoH * scale;
  return { x: (boxW - w) / 2, y: (boxH - h) / 2, w, h };
}

/**
 * toContent maps a point in the element's box to normalised content
 * coordinates; null when it is outside the picture (on the bars).
 */
export function toContent(px, py, rect) {
  const x = (px - rect.x) / rect.w;
  const y = (py - rect.y) / rect.h;
  if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return null;
  return { x, y };
}

/** fromContent maps normalised content coordinates to the element's box. */
export function fromContent(x, y, rect) {
  return { x: rect.x + x * rect.w, y: rect.y + y * rect.h };
}

/** colorOf gives a participant a stable colour. */
export function colorOf(id) {
  let h = 0;
  for (const c of id) h = (h * 31 + c.codePointAt(0)) % 360;
  return `hsl(${h} 85% 60%)`;
}
