import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

// The control bar (room.html `nav.controls`, wired by controls.js) is
// centred and wraps, so a button that appears, disappears or changes size
// moves every other button. Its buttons change state when other people act
// (#pointer-toggle is enabled while someone else shares a screen): a rule
// that hid it then moved Share under a click aimed at it, the click landed
// beside the button, and that person's screen stayed shared
// (TestBrowserGlare in e2e/browser_test.go). A state may change how a button
// looks, never the room it takes.

/** Properties that change a button's box, so the bar's layout. */
const LAYOUT = /^(display|visibility|position|float|width|min-width|max-width|height|min-height|max-height|flex|flex-basis|flex-grow|flex-shrink|order|margin(-\w+)?|padding(-\w+)?|border(-\w+)?-width|font-size|font-weight|letter-spacing)$/;
/** Selector parts that depend on a button's state. */
const STATE = /:disabled|:enabled|\[(disabled|hidden|aria-[\w-]+|data-[\w-]+)[\]=~|^$*]/;

/** barButtonIds lists the ids of the buttons in room.html's control bar. */
function barButtonIds() {
  const html = readFileSync(new URL('../html/room.html', import.meta.url), 'utf8');
  const nav = /<nav class="controls"[^>]*>([\s\S]*?)<\/nav>/.exec(html);
  assert.ok(nav, 'room.html has no <nav class="controls">');
  return [...nav[1].matchAll(/<button id="([\w-]+)"/g)].map((m) => m[1]);
}

/** cssRules lists parley.css's style rules (those inside @media too) as {selector, body}. */
function cssRules() {
  const css = readFileSync(new URL('../css/parley.css', import.meta.url), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  return [...css.matchAll(/([^{}]+)\{([^{}]*)\}/g)].map((m) => ({ selector: m[1].trim(), body: m[2] }));
}

/**
 * stateLayoutRules lists the rules that give a control-bar button, in some
 * state, a property that changes its box.
 */
function stateLayoutRules(ids, rules) {
  const bar = new RegExp(`(^|[^\\w-])(\\.ctl|${ids.map((id) => `#${id}`).join('|')})(?![\\w-])`);
  const found = [];
  for (const { selector, body } of rules) {
    const props = body.split(';').map((d) => d.split(':')[0].trim().toLowerCase()).filter((p) => LAYOUT.test(p));
    if (!props.length) continue;
    for (const sel of selector.split(',')) {
      // The element the rule styles: the selector's last compound.
      const subject = sel.trim().split(/\s*[\s>+~]\s*/).at(-1) ?? '';
      if (bar.test(subject) && STATE.test(subject)) found.push(`${sel.trim()} { ${props.join(', ')} }`);
    }
  }
  return found;
}

test('no state of a control-bar button changes its size or hides it (the bar never shifts under a click)', () => {
  const ids = barButtonIds();
  assert.ok(ids.includes('screen-toggle') && ids.includes('pointer-toggle'), `control-bar buttons: ${ids}`);
  assert.deepEqual(stateLayoutRules(ids, cssRules()), []);
});

test('the check finds a rule that hides a disabled button, and ignores looks and descendants', () => {
  const ids = ['pointer-toggle', 'mic-toggle'];
  const rules = [
    { selector: '#pointer-toggle:disabled', body: ' display: none; ' },
    { selector: '.ctl[aria-pressed="false"] .slash', body: 'display: inline' },
    { selector: '#mic-toggle[aria-pressed="false"], .x', body: 'background: #4a1d20; border-color: red' },
    { selector: '.ctl:disabled', body: 'opacity: .4; cursor: default' },
    { selector: '.ctl', body: 'min-width: 64px' },
    { selector: '.tile[data-speaking]', body: 'width: 3px' },
  ];
  assert.deepEqual(stateLayoutRules(ids, rules), ['#pointer-toggle:disabled { display }']);
});
