// The reading room's image viewer (Browse PIEs, and the reader study's Read page).
// Loaded by dashboard/reading_room/viewer_component.py as a Streamlit v2 component module.
//
// Rules this code follows:
// - every string from the study (ids, class names, captions) is set with textContent or as
//   an attribute, never as HTML;
// - nothing is fetched: images arrive as data: URLs in the component's data;
// - window/level, presets, invert, zoom, pan, flips, layout and overlay opacity happen here,
//   in the browser, so they never cause a Streamlit rerun; only previous/next and the
//   Grad-CAM class (C) send an event;
// - the image is drawn as soon as it arrives; the Grad-CAM maps come later from a second
//   component (viewer_cams.js) that hands them to window.__plv.setCams;
// - window.__plv_drawn = {token, t, cams} marks the last pixel drawn (performance.now()):
//   cams is 'pending' while only the image is drawn, then 'ready' (overlays drawn) or
//   'none' (no overlay for this image); window.__pl_t0 is the moment of the user's key or
//   click. The browser benchmark and the e2e tests wait on these.

const S = (window.__plv = window.__plv || {});
for (const [k, v] of Object.entries({linked: true, layout: null, opacity: 0.6, overlays: true,
  nav: 0, active: 0, cam: 0})) if (S[k] === undefined) S[k] = v;
if (!S.v) { S.v = [fresh()]; S.v[1] = S.v[0]; }

function fresh() {
  return {level: 128, width: 256, invert: false, zoom: 1, cx: null, cy: null,
    fh: false, fv: false};
}

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

function lut(cm) {                         // anchors [[r,g,b]…] → 256×3 table
  const out = new Uint8ClampedArray(256 * 3), n = cm.length - 1;
  for (let i = 0; i < 256; i++) {
    const p = i / 255 * n, j = Math.min(Math.floor(p), n - 1), t = p - j;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = cm[j][c] * (1 - t) + cm[j + 1][c] * t + 0.5;
  }
  return out;
}

async function decodeGray(src, w, h) {     // data: URL → Uint8 grey values at w×h
  const img = new Image(); img.src = src; await img.decode();
  const c = document.createElement('canvas'); c.width = w; c.height = h;
  const x = c.getContext('2d', {willReadFrequently: true});
  x.imageSmoothingEnabled = true; x.imageSmoothingQuality = 'high';
  x.drawImage(img, 0, 0, w, h);            // a model-size map is upsampled (smoothly) here
  const rgba = x.getImageData(0, 0, w, h).data, g = new Uint8Array(w * h);
  for (let i = 0; i < g.length; i++) g[i] = rgba[i * 4];
  return g;
}

// DICOM linear VOI window, as dashboard.common.imaging.window_level, as one 32-bit RGBA word per
// grey value: a move of window/level is one table of 256 entries and one lookup per pixel.
const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
function greyLut32(v) {
  const t = new Uint32Array(256), w = Math.max(v.width, 2);
  for (let g = 0; g < 256; g++) {
    let y = (g - (v.level - 0.5)) / (w - 1) + 0.5;
    y = Math.floor(Math.min(Math.max(y, 0), 1) * 255 + 0.5);
    if (v.invert) y = 255 - y;
    t[g] = LITTLE ? (0xff000000 | (y << 16) | (y << 8) | y) >>> 0
      : ((y << 24) | (y << 16) | (y << 8) | 0xff) >>> 0;
  }
  return t;
}

// The map as an RGBA layer over the grey image: colour from the colour map, alpha =
// opacity × √|map| (as dashboard.common.imaging's overlay); the browser composites it.
function overlayImage(map, w, h, signed, cm, opacity) {
  const out = new ImageData(w, h), o = out.data;
  for (let i = 0, j = 0; i < map.length; i++, j += 4) {
    const m = map[i], k = m * 3;
    const a = opacity * Math.sqrt(signed ? Math.abs(m - 128) / 127 : m / 255);
    o[j] = cm[k]; o[j + 1] = cm[k + 1]; o[j + 2] = cm[k + 2]; o[j + 3] = a * 255 + 0.5;
  }
  return out;
}

function colourbar(canvas, cm) {
  canvas.width = 256; canvas.height = 1;
  const x = canvas.getContext('2d'), d = x.createImageData(256, 1);
  for (let i = 0; i < 256; i++) {
    d.data[i * 4] = cm[i * 3]; d.data[i * 4 + 1] = cm[i * 3 + 1];
    d.data[i * 4 + 2] = cm[i * 3 + 2]; d.data[i * 4 + 3] = 255;
  }
  x.putImageData(d, 0, 0);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function download(pane, name) {             // the pane as drawn at full resolution (PNG)
  const c = document.createElement('canvas'); c.width = pane.base.width;
  c.height = pane.base.height;
  const x = c.getContext('2d'); x.drawImage(pane.base, 0, 0);
  if (pane.ovl.style.display !== 'none') x.drawImage(pane.ovl, 0, 0);
  c.toBlob((blob) => {
    const a = document.createElement('a'); a.href = URL.createObjectURL(blob);
    a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  }, 'image/png');
}

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

export default function (component) {
  const { setTriggerValue, parentElement: root } = component;
  let data = component.data;
  S.send = setTriggerValue;
  // A payload already sent comes back 'slim' (token + nav): reuse the one kept here, or
  // ask for it again (a reloaded page has none).
  if (data.slim) {
    if (S.last && S.last.token === data.token) data = Object.assign({}, S.last, {nav: data.nav});
    else { setTriggerValue('resend', ++S.nav); return () => { S.onKey = null; }; }
  } else S.last = data;
  S.want = data.token;
  const $ = (s) => root.querySelector(s);
  const box = $('.plv');
  S.el = box;
  const D = (S.D = S.D || {});
  const layouts = data.panes ? ['side', 'diff', 'single'] : ['single'];
  if (!layouts.includes(S.layout)) S.layout = layouts[0];

  const nav = (dir, e) => {
    if (!S.navOk || !S.navOk[dir]) return;
    window.__pl_t0 = e ? e.timeStamp : performance.now();   // the key or click event itself
    S.send('nav', {dir: dir, n: ++S.nav});
  };
  // the views an action moves: both panes while linked (one shared object), else the
  // pane the pointer was last on
  const targets = () => (S.linked ? [S.v[0]] : [S.v[S.active] || S.v[0]]);
  const act = (fn, repaint) => {
    targets().forEach(fn);
    if (repaint) S.paintBases(); else S.place();
    S.sync();
  };

  S.onKey = (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || isTextField(e)) return;
    const P = Object.keys(data.presets);
    const digit = /^Digit[1-9]$/.test(e.code) ? +e.code.slice(5) : ('12345'.includes(e.key)
      && e.key.length === 1 ? +e.key : 0);
    const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (e.key === 'ArrowRight') nav(1, e);
    else if (e.key === 'ArrowLeft') nav(-1, e);
    else if (digit && P[digit - 1]) S.preset(P[digit - 1]);
    else if (k === 'i') act((v) => { v.invert = !v.invert; }, true);
    else if (k === 'z') act((v) => { v.zoom = v.zoom >= 4 ? 1 : v.zoom * 2; });
    else if (e.key === '+' || e.key === '=') act((v) => { v.zoom = Math.min(v.zoom * 2, 16); });
    else if (e.key === '-' || e.key === '_') act((v) => { v.zoom = Math.max(v.zoom / 2, 1); });
    else if (e.key === ' ') S.reset();
    else if (k === 'h') act((v) => { v.fh = !v.fh; });
    else if (k === 'v') act((v) => { v.fv = !v.fv; });
    else if (k === 'o' && D.cams) { S.overlays = !S.overlays; S.paintOverlays(); S.sync(); }
    else if (k === 'c' && data.cam_classes) {
      window.__pl_t0 = e.timeStamp;
      S.send('cam', {dir: e.shiftKey ? -1 : 1, n: ++S.cam});
    } else if (k === 'd' && layouts.length > 1) {
      S.layout = layouts[(layouts.indexOf(S.layout) + 1) % layouts.length]; S.build();
    } else if (e.key === '?') $('.help').hidden = !$('.help').hidden;
    else if (e.key === 'Escape' && !$('.help').hidden) $('.help').hidden = true;
    else return;
    e.preventDefault();
  };
  if (!window.__plv_keys) {
    window.__plv_keys = true;
    document.addEventListener('keydown', (e) => S.onKey && S.onKey(e));
  }

  S.preset = (name) => {
    const p = data.presets[name];
    act((v) => { v.level = p[0]; v.width = p[1]; }, true);
  };
  S.reset = () => {
    const keep = (v) => Object.assign(v, fresh());
    if (S.linked) keep(S.v[0]); else S.v.forEach(keep);
    S.paintBases(); S.place(); S.sync();
  };
  S.setLinked = (on) => {
    S.linked = on;
    S.v[1] = on ? S.v[0] : Object.assign({}, S.v[0]);
    S.paintBases(); S.place(); S.sync();
  };

  if (!box.dataset.wired) {                 // once per mounted element
    box.dataset.wired = '1';
    $('.prev').onclick = (e) => nav(-1, e);
    $('.next').onclick = (e) => nav(1, e);
    $('.lvl').oninput = (e) => act((v) => { v.level = +e.target.value; }, true);
    $('.wid').oninput = (e) => act((v) => { v.width = +e.target.value; }, true);
    $('.inv').onchange = (e) => act((v) => { v.invert = e.target.checked; }, true);
    $('.opa').oninput = (e) => { S.opacity = +e.target.value; D.ovlCache = {};
      S.paintOverlays(); };
    $('.ovon').onchange = (e) => { S.overlays = e.target.checked; S.paintOverlays(); };
    $('.lock').onclick = () => S.setLinked(!S.linked);
    $('.layout').onchange = (e) => { S.layout = e.target.value; S.build(); };
    $('.keysbtn').onclick = () => { $('.help').hidden = !$('.help').hidden; };
    $('.help').onclick = () => { $('.help').hidden = true; };
    [['fit', 1], ['2×', 2], ['4×', 4]].forEach(([t, z]) => {
      const b = el('button', '', t); b.dataset.z = z;
      b.onclick = () => act((v) => { v.zoom = z; if (z === 1) v.cx = v.cy = null; });
      $('.zooms').appendChild(b);
    });
    $('.resetbtn').onclick = () => S.reset();
    window.addEventListener('resize', () => S.place && S.place());
  }

  // ---------------------------------------------------------------- panes
  // pane = {el, box, stage, base, ovl, kind (overlay kind or null), i (view index)}
  S.build = () => {
    const spec = paneSpec();
    const host = $('.panes'); host.replaceChildren();
    host.classList.toggle('two', spec.length === 2);
    S.panes = spec.map((p, i) => {
      const pe = el('div', 'pane'); pe.dataset.k = p.kind || 'image';
      const head = el('div', 'ptitle', p.title);
      const b = el('div', 'box'), stage = el('div', 'stage');
      const base = el('canvas', 'base'), ovl = el('canvas', 'ovl');
      stage.append(base, ovl); b.appendChild(stage);
      const dl = el('button', 'dl', '⤓'); dl.title = 'Download this pane as shown (PNG)';
      head.appendChild(dl);
      const cap = el('span', 'pcap');
      head.insertBefore(cap, dl);
      pe.append(head, b);
      if (p.finds) pe.appendChild(findings(p.finds));
      host.appendChild(pe);
      const pane = {el: pe, box: b, stage, base, ovl, cap, kind: p.kind, i};
      dl.onclick = () => download(pane, D.file + '_' + (p.kind || 'image') + '.png');
      wirePointer(pane);
      return pane;
    });
    $('.layout').value = S.layout;
    S.paintBases(); S.paintOverlays(); S.place(); S.sync();
  };

  function paneSpec() {
    const f = data.panes;
    if (S.layout === 'side') {
      return [{title: f[0].title, kind: 'dense', finds: f[0]},
        {title: f[1].title, kind: 'pruned', finds: f[1]}];
    }
    if (S.layout === 'diff') {
      return [{title: 'image', kind: null, finds: f[0]},
        {title: 'pruned − dense (signed difference)', kind: 'diff', finds: f[1]}];
    }
    return [{title: data.image.title || 'image', kind: null, finds: null}];
  }

  function findings(f) {                    // a model's top findings and its calls
    const w = el('div', 'finds');
    w.appendChild(el('div', 'fhead', f.head));
    const t = el('table');
    for (const r of f.rows) {
      const tr = el('tr');
      tr.append(el('td', 'fc', r[0]), el('td', 'fp num', r[1]), el('td', 'fcall', r[2]));
      if (r[3]) tr.classList.add('pos');
      t.appendChild(tr);
    }
    w.appendChild(t);
    if (f.calls) w.appendChild(el('div', 'fcalls', f.calls));
    return w;
  }

  function wirePointer(pane) {
    const cv = pane.stage;
    pane.box.onpointerenter = () => { S.active = pane.i; };
    pane.box.onpointerdown = (e) => {
      S.active = pane.i;
      // a click on the image takes the keys back from a form field (preventDefault below
      // would otherwise keep the focus where it was)
      const f = document.activeElement;
      if (f && f !== document.body && f.blur) f.blur();
      const [v] = targets(), x0 = e.clientX, y0 = e.clientY;
      const l0 = v.level, w0 = v.width, cx0 = v.cx, cy0 = v.cy;
      const pan = e.shiftKey || e.button === 1;
      const s = pane.scale || 1;
      pane.box.setPointerCapture(e.pointerId);
      pane.box.onpointermove = (m) => {
        const dx = m.clientX - x0, dy = m.clientY - y0;
        if (pan) {
          act((t) => { t.cx = cx0 - dx / s * (t.fh ? -1 : 1);
            t.cy = cy0 - dy / s * (t.fv ? -1 : 1); });
        } else {
          act((t) => { t.width = Math.round(Math.min(Math.max(w0 + dx, 2), 512));
            t.level = Math.round(Math.min(Math.max(l0 - dy * 0.5, 0), 255)); }, true);
        }
      };
      pane.box.onpointerup = () => { pane.box.onpointermove = null; };
      e.preventDefault();
    };
    pane.box.addEventListener('wheel', (e) => {
      S.active = pane.i;
      act((v) => { v.zoom = Math.min(Math.max(v.zoom * (e.deltaY < 0 ? 1.25 : 0.8), 1), 16); });
      e.preventDefault();
    }, {passive: false});
    cv.ondragstart = () => false;
  }

  const view = (p) => (S.linked ? S.v[0] : S.v[p.i] || S.v[0]);

  // grey image through each pane's window: one table, one lookup per pixel
  S.paintBases = () => {
    if (!D.gray || !S.panes) return;
    const done = new Map();
    for (const p of S.panes) {
      const v = view(p), key = [v.level, v.width, v.invert].join();
      p.base.width = D.w; p.base.height = D.h;
      const x = p.base.getContext('2d');
      let img = done.get(key);
      if (!img) {
        img = new ImageData(D.w, D.h);
        const o = new Uint32Array(img.data.buffer), t = greyLut32(v), g = D.gray;
        for (let i = 0; i < g.length; i++) o[i] = t[g[i]];
        done.set(key, img);
      }
      x.putImageData(img, 0, 0);
    }
    mark();
  };

  S.paintOverlays = () => {
    if (!S.panes) return;
    D.ovlCache = D.ovlCache || {};
    for (const p of S.panes) {
      p.cap.textContent = (D.cams && D.cams.captions[p.kind]) || '';
      const map = D.cams && D.cams.maps[p.kind];
      if (!map || !S.overlays) { p.ovl.style.display = 'none'; continue; }
      let img = D.ovlCache[p.kind];
      if (!img) {
        const signed = p.kind === 'diff' || D.cams.signed;
        img = D.ovlCache[p.kind] = overlayImage(map, D.w, D.h, signed,
          signed ? D.div : D.heat, S.opacity);
      }
      p.ovl.width = D.w; p.ovl.height = D.h;
      p.ovl.getContext('2d').putImageData(img, 0, 0);
      p.ovl.style.display = '';
    }
    legend();
    mark();
  };

  // zoom, pan and flips are a CSS transform of each pane's stage: no pixel is repainted
  S.place = () => {
    if (!D.w || !S.panes) return;
    const two = S.panes.length === 2;
    const stacked = two && window.innerWidth < 1100;
    // tall enough to use the screen, short enough that the panes sit above the fold: the
    // first box's distance from the top of the page (not of the scrolled view) sets it
    const main = document.querySelector('[data-testid="stMain"]');
    const top = S.panes[0].box.getBoundingClientRect().top + window.scrollY
      + (main ? main.scrollTop : 0);
    const room = window.innerHeight - top - 12 - (stacked ? 28 : 0);
    for (const p of S.panes) {
      const bw = p.box.clientWidth || 300;
      const bh = Math.round(Math.max(240, Math.min(bw * D.h / D.w, stacked ? room / 2 : room,
        1400)));
      p.box.style.height = bh + 'px';
      const v = view(p), fit = Math.min(bw / D.w, bh / D.h), s = fit * v.zoom;
      const cx = v.cx === null ? D.w / 2 : v.cx, cy = v.cy === null ? D.h / 2 : v.cy;
      p.scale = s;
      p.stage.style.width = D.w + 'px'; p.stage.style.height = D.h + 'px';
      p.stage.style.transform = `translate(${bw / 2}px, ${bh / 2}px) scale(${
        v.fh ? -s : s}, ${v.fv ? -s : s}) translate(${-cx}px, ${-cy}px)`;
    }
  };

  // controls show the state of the view they act on
  S.sync = () => {
    const [v] = targets();
    $('.lvl').value = v.level; $('.wid').value = v.width; $('.inv').checked = v.invert;
    $('.lvlv').textContent = v.level; $('.widv').textContent = v.width;
    $('.opa').value = S.opacity; $('.ovon').checked = S.overlays;
    $('.lock').textContent = S.linked ? 'linked' : 'unlinked';
    $('.lock').classList.toggle('on', S.linked);
    $('.lock').title = S.linked ? 'Zoom, pan, window, invert and flips move both panes; '
      + 'click to unlink them' : 'Each pane moves on its own (the one under the pointer); '
      + 'click to link them again (the right pane takes the left one\'s view)';
    root.querySelectorAll('.presets button').forEach((b) => {
      const p = data.presets[b.dataset.p];
      b.classList.toggle('on', p[0] === v.level && p[1] === v.width);
    });
    root.querySelectorAll('.zooms button').forEach((b) => {
      b.classList.toggle('on', +b.dataset.z === v.zoom);
    });
  };

  function legend() {
    const lg = $('.legend'), kinds = (S.panes || []).map((p) => p.kind)
      .filter((k) => k && D.cams && D.cams.maps[k]);
    lg.hidden = !kinds.length || !S.overlays;
    if (lg.hidden) return;
    const div = kinds.includes('diff') || D.cams.signed;
    colourbar($('.cbar'), div ? D.div : D.heat);
    const ends = D.cams.legend[kinds.includes('diff') ? 'diff' : 'maps'];
    $('.cbar-lo').textContent = ends[0]; $('.cbar-hi').textContent = ends[1];
    $('.scale').textContent = kinds.includes('diff') ? D.cams.diff_note : D.cams.scale;
  }

  function mark() {
    if (!D.token) return;
    const cams = !D.camsFor ? 'pending' : (D.cams ? 'ready' : 'none');
    window.__plv_drawn = {token: D.token, t: performance.now(), cams};
    if (cams !== 'pending' && !(window.__plv_full && window.__plv_full.token === D.token)) {
      window.__plv_full = {token: D.token, t: performance.now()};
    }
  }

  // The Grad-CAM maps of this image, from viewer_cams.js (or kept from an earlier call).
  S.setCams = async (c) => {
    S.pendingCams = c;
    if (!D.token || c.image !== D.token) return;     // for an image not drawn yet
    let maps = null;
    if (c.maps) {
      const names = Object.keys(c.maps);
      const grids = await Promise.all(names.map((k) => decodeGray(c.maps[k], D.w, D.h)));
      if (c.image !== D.token) return;
      maps = {};
      names.forEach((k, i) => { maps[k] = grids[i]; });
    }
    D.cams = maps ? Object.assign({}, c, {maps}) : null;
    D.camsFor = c.image; D.ovlCache = {};
    $('.camnote').textContent = c.note || '';
    $('.ovbits').hidden = !maps;
    S.paintOverlays();
  };

  // ---------------------------------------------------------------- static controls
  const pre = $('.presets');
  if (pre.dataset.names !== Object.keys(data.presets).join('|')) {
    pre.replaceChildren(); pre.dataset.names = Object.keys(data.presets).join('|');
    Object.keys(data.presets).forEach((n, i) => {
      const b = el('button', '', n); b.dataset.p = n;
      b.title = 'level ' + data.presets[n][0] + ', window ' + data.presets[n][1]
        + ' (key ' + (i + 1) + ')';
      b.onclick = () => S.preset(n); pre.appendChild(b);
    });
  }
  const lay = $('.layout');
  if (lay.dataset.names !== layouts.join('|')) {
    lay.replaceChildren(); lay.dataset.names = layouts.join('|');
    const names = {side: 'dense | pruned', diff: 'image | difference', single: 'image'};
    for (const l of layouts) { const o = el('option', '', names[l]); o.value = l; lay.appendChild(o); }
  }
  lay.parentElement.hidden = layouts.length < 2;
  $('.lock').hidden = layouts.length < 2;
  const help = $('.help');
  const wanted = KEYS.filter(([, , need]) => !need || (need === 'nav' && data.nav)
    || (need === 'cams' && data.cam_classes) || (need === 'layouts' && layouts.length > 1));
  if (help.dataset.n !== String(wanted.length)) {
    help.dataset.n = String(wanted.length);
    const t = el('table');
    t.appendChild(el('caption', '', 'Keys (not while typing in a text field)'));
    for (const [k, what] of wanted) {
      const tr = el('tr'); tr.append(el('td', '', k), el('td', '', what)); t.appendChild(tr);
    }
    if (data.keys_note) t.appendChild(el('caption', 'kn', data.keys_note));
    help.replaceChildren(t);
  }

  S.navOk = {'-1': !!data.nav.prev, '1': !!data.nav.next};
  $('.prev').disabled = !data.nav.prev; $('.next').disabled = !data.nav.next;
  $('.pos').textContent = data.nav.text;
  // previous/next rerun only the viewer's fragment: the gallery moves its highlight itself
  if (data.nav.row !== undefined) {
    window.dispatchEvent(new CustomEvent('plv-row', {detail: data.nav.row}));
  }
  if (box.dataset.built === data.token && D.token === data.token) {
    S.place(); return () => { S.onKey = null; };
  }

  (async () => {
    const token = data.token;
    const gray = await decodeGray(data.image.src, data.image.w, data.image.h);
    if (token !== S.want) return;         // a newer image arrived meanwhile
    Object.assign(D, {token, gray, w: data.image.w, h: data.image.h, file: data.file,
      heat: lut(data.colormaps.heat), div: lut(data.colormaps.diverging), cams: null,
      camsFor: data.panes ? null : token, ovlCache: {}});
    $('.meta').textContent = data.image.caption;
    $('.camnote').textContent = data.panes ? data.cam_wait || '' : '';
    $('.ovbits').hidden = true;
    box.dataset.built = token;
    S.build();
    if (!window.__plv_first || window.__plv_first.token !== token) {
      window.__plv_first = {token, t: performance.now()};
    }
    const c = S.pendingCams;
    if (c && c.image === token) S.setCams(c);
  })();
  return () => { S.onKey = null; };
}
