// @ts-check
// What the admin page shows of what a participant receives from the SFU
// (docs/admin.md `receiving`): its downlink estimate and, per forwarded
// video, the simulcast layer it gets or why it gets none.

/**
 * receivingText says what one participant receives from the SFU: its
 * downlink estimate, then each forwarded video's layer or why it is
 * paused (docs/admin.md `receiving`).
 * @param {{estimate: number, video?: {peer: string, layer: number, rid?: string, layers: number, temporal?: number, temporals?: number, paused?: string}[]}} recv
 * @param {{id: string, name: string}[] | undefined} people
 * @returns {string}
 */
export function receivingText(recv, people) {
  const names = new Map((people ?? []).map((p) => [p.id, p.name]));
  const est = recv.estimate > 0 ? formatRate(recv.estimate) : 'no estimate';
  const video = (recv.video ?? []).map((v) => {
    const who = names.get(v.peer) ?? v.peer;
    if (v.paused === 'bandwidth') return `${who}: paused (bandwidth)`;
    if (v.paused === 'view') return `${who}: hidden`;
    if (v.layer < 0) return `${who}: starting`;
    const rate = frameRateText(v.temporal ?? 0, v.temporals ?? 1);
    if (v.layers > 1) return `${who}: ${v.rid || `layer ${v.layer + 1}`} (${v.layer + 1}/${v.layers}${rate ? `, ${rate}` : ''})`;
    return `${who}: video${rate ? ` (${rate})` : ''}`;
  });
  return [est, ...video].join(' · ');
}

/**
 * frameRateText says what share of a layer's frame rate its temporal
 * layers up to `temporal` (of `temporals`) carry: each one below the top
 * halves it (L1T3: ¼, ½, all); empty for all of it.
 * @param {number} temporal
 * @param {number} temporals
 * @returns {string}
 */
export function frameRateText(temporal, temporals) {
  const below = temporals - 1 - temporal;
  if (below <= 0) return '';
  return `1/${2 ** below} frame rate`;
}

/**
 * formatRate writes a bit rate for people.
 * @param {number} bps
 * @returns {string}
 */
export function formatRate(bps) {
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(1)} Mbit/s` : `${Math.round(bps / 1e3)} kbit/s`;
}
