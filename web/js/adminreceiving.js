// @ts-check
// What the admin page shows of what a participant receives from the SFU
// (docs/admin.md `receiving`): its downlink estimate and, per forwarded
// video, the simulcast layer it gets or why it gets none.

/**
 * receivingText says what one participant receives from the SFU: its
 * downlink estimate, then each forwarded video's layer or why it is
 * paused (docs/admin.md `receiving`).
 * @param {{estimate: number, video?: {peer: string, layer: number, rid?: string, layers: number, paused?: string}[]}} recv
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
    return v.layers > 1 ? `${who}: ${v.rid || `layer ${v.layer + 1}`} (${v.layer + 1}/${v.layers})` : `${who}: video`;
  });
  return [est, ...video].join(' · ');
}

/**
 * formatRate writes a bit rate for people.
 * @param {number} bps
 * @returns {string}
 */
export function formatRate(bps) {
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(1)} Mbit/s` : `${Math.round(bps / 1e3)} kbit/s`;
}
