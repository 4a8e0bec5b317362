// @ts-check
// Wiring of the data-channel features into a call (call.js calls
// wireData once): chat, files, the pointer, reactions and hands, on top of
// the message layer (channels.js). It owns nothing but the glue: who is in
// the room and which tile is whose come from the switch (switch.js) and the
// tile view (tiles.js).

import { ChatPanel } from './chat.js';
import { Files } from './files.js';
import { Pointers } from './pointer.js';
import { Reactions } from './reactions.js';

/**
 * wireData starts the features. Returns hooks for call.js: welcome(w) on
 * every `welcome`, mediaChanged() when our own media changes.
 * rolesOf(id) gives the role labels of a participant ('' = us) for the
 * people list.
 * @param {{channels: import('./channels.js').Channels, sw: import('./switch.js').Switcher,
 *          view: import('./tiles.js').TileView, grid: import('./ui.js').Grid,
 *          self: import('./ui.js').Tile, media: import('./media.js').LocalMedia,
 *          debug: object, signal: AbortSignal, rolesOf?: (id: string) => string[]}} o
 */
export function wireData({ channels, sw, view, grid, self, media, debug, signal, rolesOf = () => [] }) {
  const nameOf = (id) => sw.parts.get(id)?.name ?? view.names.get(id) ?? 'Guest';
  const people = () => [...sw.parts.values()].map((p) => ({ id: p.id, name: p.name }));
  const selfName = () => self.name ?? self.nameEl?.textContent ?? 'You';
  const chat = new ChatPanel({ channels, nameOf, people, selfName, signal });
  const files = new Files({
    channels,
    nameOf,
    people,
    recipient: () => chat.to.value,
    onActivity: () => chat.setOpen(true),
    signal,
  });
  const reactions = new Reactions({
    channels,
    tileOf: (id) => (id ? view.get(id)?.el : self.el) ?? null,
    people,
    selfName,
    rolesOf,
    signal,
  });
  const pointers = new Pointers({
    channels,
    screenTile: (id) => (id ? view.get(id, 'screen')?.el : grid.get('self:screen')?.el) ?? null,
    sharers: () => [
      ...(media.describe().screen ? [''] : []),
      ...[...sw.parts.keys()].filter((id) => view.get(id, 'screen')),
    ],
    nameOf,
    selfId: () => debug.id ?? '',
    signal,
  });

  // People come and go: the recipient picker, hands, and what is owed to them.
  let known = new Set();
  const roster = () => {
    const now = new Set(sw.parts.keys());
    for (const id of now) if (!known.has(id)) reactions.greet(id);
    for (const id of known) {
      if (!now.has(id)) {
        files.forget(id);
        reactions.forget(id);
      }
    }
    known = now;
    chat.refreshTo();
    reactions.render();
    pointers.refresh();
  };
  sw.addEventListener('change', roster, { signal });
  sw.addEventListener('tile', () => {
    reactions.render();
    pointers.refresh();
  }, { signal });
  // A screen tile appears or goes when someone's stream does.
  const mo = new MutationObserver(() => pointers.refresh());
  mo.observe(document.getElementById('grid'), { childList: true });
  signal.addEventListener('abort', () => mo.disconnect());

  debug.chat = () => chat.history.map((m) => ({ ...m }));
  debug.files = () => files.info();
  debug.fileBlob = (id) => files.blob(id);
  debug.channels = () => ({ ...channels.stats });
  debug.hands = () => reactions.hands.ids();

  return {
    welcome(w) {
      known = new Set();
      const max = w.limits?.maxFileBytes;
      if (Number.isSafeInteger(max) && max > 0) files.maxSize = Math.min(files.maxSize, max);
      roster();
    },
    mediaChanged() {
      pointers.refresh();
      reactions.render();
    },
  };
}
