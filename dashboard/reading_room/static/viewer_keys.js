// The reading room's image viewer, part 2 of 3: its keyboard (OHIF's defaults where they
// apply). Joined after viewer_draw.js and before viewer.js by
// dashboard/reading_room/viewer_component.py.

const KEYS = [
  ['← →', 'previous / next image', 'nav'],
  ['Z', 'zoom: fit → 2× → 4× → fit', ''],
  ['+ −', 'zoom in / out', ''],
  ['wheel, shift-drag', 'zoom, pan', ''],
  ['drag', 'window (left/right), level (up/down)', ''],
  ['I', 'invert', ''],
  ['1–5 (or shift+1–5)', 'window presets', ''],
  ['Space', 'reset zoom, pan, window, invert and flips', ''],
  ['H / V', 'flip horizontally / vertically', ''],
  ['O', 'Grad-CAM overlays on / off', 'cams'],
  ['C (shift+C)', 'next (previous) Grad-CAM class', 'cams'],
  ['D', 'next layout', 'layouts'],
  ['?', 'show / hide this list', ''],
];

function isTextField(e) {
  const t = e.composedPath()[0] || {};
  if (t.isContentEditable) return true;
  const tag = t.tagName || '';
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  const type = (t.type || 'text').toLowerCase();
  if (type === 'range') return e.key.startsWith('Arrow');   // arrows move a focused slider
  return !['radio', 'checkbox', 'button', 'submit', 'reset', 'color', 'file'].includes(type);
}

// The key handler. `V`: the viewer's actions {data(), nav, act, preset, reset, overlays,
// cam, layout, help} (viewer.js); returns true when the key was the viewer's.
function keyAction(e, V) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || isTextField(e)) return false;
  const data = V.data(), P = Object.keys(data.presets);
  const digit = /^Digit[1-9]$/.test(e.code) ? +e.code.slice(5) : ('12345'.includes(e.key)
    && e.key.length === 1 ? +e.key : 0);
  const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.key === 'ArrowRight') V.nav(1, e);
  else if (e.key === 'ArrowLeft') V.nav(-1, e);
  else if (digit && P[digit - 1]) V.preset(P[digit - 1]);
  else if (k === 'i') V.act((v) => { v.invert = !v.invert; }, true);
  else if (k === 'z') V.act((v) => { v.zoom = v.zoom >= 4 ? 1 : v.zoom * 2; });
  else if (e.key === '+' || e.key === '=') V.act((v) => { v.zoom = Math.min(v.zoom * 2, 16); });
  else if (e.key === '-' || e.key === '_') V.act((v) => { v.zoom = Math.max(v.zoom / 2, 1); });
  else if (e.key === ' ') V.reset();
  else if (k === 'h') V.act((v) => { v.fh = !v.fh; });
  else if (k === 'v') V.act((v) => { v.fv = !v.fv; });
  else if (k === 'o') { if (!V.overlays()) return false; }
  else if (k === 'c' && data.cam_classes) V.cam(e);
  else if (k === 'd') { if (!V.layout()) return false; }
  else if (e.key === '?') V.help(null);
  else if (e.key === 'Escape') { if (!V.help(false)) return false; }
  else return false;
  return true;
}
