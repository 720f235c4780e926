// The reading room's image viewer (Browse PIEs, and the reader study's Read page), part 3 of
// 3: state, panes and the component. dashboard/reading_room/viewer_component.py joins viewer_draw.js,
// viewer_keys.js and this file into one Streamlit v2 component module.
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
// - previous/next draw at once when the image is already here: the page sends the next
//   image ahead (viewer_ahead.js → S.setAhead), images shown are kept; the event still goes
//   to the server, whose reply (the same token) then finds that image drawn;
// - window.__plv_drawn = {token, t, cams} marks the last pixel drawn (performance.now()):
//   cams is 'pending' while only the image is drawn, then 'ready' (overlays drawn) or
//   'none' (no overlay for this image); window.__plv_first / __plv_full mark the image's
//   first paint and the paint with its overlays; window.__pl_t0 is the moment of the
//   user's key or click. The browser benchmark and the e2e tests wait on these.

const S = (window.__plv = window.__plv || {});
for (const [k, v] of Object.entries({linked: true, layout: null, opacity: 0.6, overlays: true,
  nav: 0, active: 0, cam: 0})) if (S[k] === undefined) S[k] = v;
if (!S.v) { S.v = [fresh()]; S.v[1] = S.v[0]; }
if (!S.kept) S.kept = new Map();            // token → {data, cams}: images this page has
const KEEP = 6;

function fresh() {
  return {level: 128, width: 256, invert: false, zoom: 1, cx: null, cy: null,
    fh: false, fv: false};
}

function keep(data, cams) {                 // remember a payload (and its maps), newest last
  const old = S.kept.get(data.token);
  S.kept.delete(data.token);
  S.kept.set(data.token, {data, cams: cams || (old && old.cams) || null});
  while (S.kept.size > KEEP) S.kept.delete(S.kept.keys().next().value);
}

function keptRow(row) {
  for (const e of [...S.kept.values()].reverse()) if (e.data.nav.row === row) return e;
  return null;
}

export default function (component) {
  const { setTriggerValue, parentElement: root } = component;
  let data = component.data;
  S.send = setTriggerValue;
  // A payload already sent comes back 'slim' (token + nav): reuse the one kept here, or
  // ask for it again (a reloaded page has none).
  if (data.slim) {
    const k = S.kept.get(data.token);
    if (k) data = Object.assign({}, k.data, {nav: data.nav});
    else { setTriggerValue('resend', ++S.nav); return () => { S.onKey = null; }; }
  }
  keep(data);
  const $ = (s) => root.querySelector(s);
  const box = $('.plv');
  S.el = box;
  const D = (S.D = S.D || {});
  S.data = data;
  const layouts = () => (S.data.panes ? ['side', 'diff', 'single'] : ['single']);
  if (!layouts().includes(S.layout)) S.layout = layouts()[0];

  const nav = (dir, e) => {
    if (!S.navOk || !S.navOk[dir]) return;
    window.__pl_t0 = e ? e.timeStamp : performance.now();   // the key or click event itself
    const row = S.data.nav[dir > 0 ? 'next_row' : 'prev_row'];
    S.send('nav', {dir: dir, n: ++S.nav, row: row === undefined ? null : row});
    const hit = row === undefined || row === null ? null : keptRow(row);
    if (hit) show(hit.data, hit.cams);      // here already: drawn now, not after the reply
  };
  // the views an action moves: both panes while linked (one shared object), else the
  // pane the pointer was last on
  const targets = () => (S.linked ? [S.v[0]] : [S.v[S.active] || S.v[0]]);
  const act = (fn, repaint) => {
    targets().forEach(fn);
    if (repaint) S.paintBases(); else S.place();
    S.sync();
  };
  const V = {data: () => S.data, nav, act, preset: (n) => S.preset(n), reset: () => S.reset(),
    overlays: () => {
      if (!D.cams) return false;
      S.overlays = !S.overlays; S.paintOverlays(); S.sync(); return true;
    },
    cam: (e) => {
      window.__pl_t0 = e.timeStamp;
      S.send('cam', {dir: e.shiftKey ? -1 : 1, n: ++S.cam});
    },
    layout: () => {
      const ls = layouts();
      if (ls.length < 2) return false;
      S.layout = ls[(ls.indexOf(S.layout) + 1) % ls.length]; S.build(); return true;
    },
    help: (show) => {                       // null: toggle; false: hide if shown
      const h = $('.help'), was = !h.hidden;
      h.hidden = show === null ? was : true;
      return show === null || was;
    }};
  S.onKey = (e) => { if (keyAction(e, V)) e.preventDefault(); };
  if (!window.__plv_keys) {
    window.__plv_keys = true;
    document.addEventListener('keydown', (e) => S.onKey && S.onKey(e));
  }

  S.preset = (name) => {
    const p = S.data.presets[name];
    act((v) => { v.level = p[0]; v.width = p[1]; }, true);
  };
  S.reset = () => {
    const keepv = (v) => Object.assign(v, fresh());
    if (S.linked) keepv(S.v[0]); else S.v.forEach(keepv);
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
      if (p.finds) pe.appendChild(findingsTable(p.finds));
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
    const f = D.panes;
    if (f && S.layout === 'side') {
      return [{title: f[0].title, kind: 'dense', finds: f[0]},
        {title: f[1].title, kind: 'pruned', finds: f[1]}];
    }
    if (f && S.layout === 'diff') {
      return [{title: 'image', kind: null, finds: f[0]},
        {title: 'pruned − dense (signed difference)', kind: 'diff', finds: f[1]}];
    }
    return [{title: D.title || 'image', kind: null, finds: null}];
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
      // canvas and pixel buffer kept between moves: a resize reallocates the canvas, and a
      // new ImageData per move (4 MB at 1024²) left garbage-collector pauses between frames
      if (p.base.width !== D.w || p.base.height !== D.h) {
        p.base.width = D.w; p.base.height = D.h;
      }
      const x = p.base.getContext('2d');
      let img = done.get(key);
      if (!img) {
        if (!p.buf || p.buf.width !== D.w || p.buf.height !== D.h) p.buf = new ImageData(D.w, D.h);
        img = p.buf;
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
      const p = S.data.presets[b.dataset.p];
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

  // The Grad-CAM maps of an image, from viewer_cams.js or sent ahead with it (kept).
  S.setCams = async (c) => {
    const k = S.kept.get(c.image);
    if (k) k.cams = c;
    if (!D.token || c.image !== D.token) return;     // for an image not drawn yet
    if (D.camsFor === c.image && D.camsKey === c.token) return;   // drawn already
    let maps = null;
    if (c.maps) {
      const names = Object.keys(c.maps);
      const grids = await Promise.all(names.map((n) => decodeGray(c.maps[n], D.w, D.h)));
      if (c.image !== D.token) return;
      maps = {};
      names.forEach((n, i) => { maps[n] = grids[i]; });
    }
    D.cams = maps ? Object.assign({}, c, {maps}) : null;
    D.camsFor = c.image; D.camsKey = c.token; D.ovlCache = {};
    $('.camnote').textContent = c.note || '';
    $('.ovbits').hidden = !maps;
    S.paintOverlays();
  };
  // the next image (and its maps), sent ahead by the page: kept for a previous/next here
  S.setAhead = (items) => { for (const a of items || []) keep(a.data, a.cams); };
  if (S.aheadWaiting) { S.setAhead(S.aheadWaiting); S.aheadWaiting = null; }

  // ---------------------------------------------------------------- one image
  // controls that depend on the payload, then the image (decoded unless drawn already)
  function show(d, cams) {
    S.data = d;
    if (cams) keep(d, cams); else keep(d);
    const lay = $('.layout'), ls = layouts();
    if (!ls.includes(S.layout)) S.layout = ls[0];
    if (lay.dataset.names !== ls.join('|')) {
      lay.replaceChildren(); lay.dataset.names = ls.join('|');
      const names = {side: 'dense | pruned', diff: 'image | difference', single: 'image'};
      for (const l of ls) { const o = el('option', '', names[l]); o.value = l; lay.appendChild(o); }
    }
    lay.parentElement.hidden = ls.length < 2;
    $('.lock').hidden = ls.length < 2;
    controls(d);
    S.navOk = {'-1': !!d.nav.prev, '1': !!d.nav.next};
    $('.prev').disabled = !d.nav.prev; $('.next').disabled = !d.nav.next;
    $('.pos').textContent = d.nav.text;
    // previous/next rerun only the viewer's fragment: the gallery moves its highlight itself
    if (d.nav.row !== undefined) {
      window.dispatchEvent(new CustomEvent('plv-row', {detail: d.nav.row}));
    }
    S.want = d.token;
    if (box.dataset.built === d.token && D.token === d.token) { S.place(); return; }
    draw(d);
  }

  async function draw(d) {
    const token = d.token;
    if (S.drawing === token) return;      // being decoded (drawn ahead, then the reply)
    S.drawing = token;
    let gray;
    try { gray = await decodeGray(d.image.src, d.image.w, d.image.h); }
    finally { if (S.drawing === token) S.drawing = null; }
    if (token !== S.want) return;         // a newer image arrived meanwhile
    Object.assign(D, {token, gray, w: d.image.w, h: d.image.h, file: d.file,
      panes: d.panes, title: d.image.title, heat: lut(d.colormaps.heat),
      div: lut(d.colormaps.diverging), cams: null, camsFor: d.panes ? null : token,
      camsKey: null, ovlCache: {}});
    $('.meta').textContent = d.image.caption;
    $('.camnote').textContent = d.panes ? d.cam_wait || '' : '';
    $('.ovbits').hidden = true;
    box.dataset.built = token;
    S.build();
    if (!window.__plv_first || window.__plv_first.token !== token) {
      window.__plv_first = {token, t: performance.now()};
      window.dispatchEvent(new CustomEvent('plv-first', {detail: token}));
    }
    const k = S.kept.get(token), p = S.pendingCams;
    const c = (k && k.cams) || (p && p.image === token ? p : null);
    if (c) S.setCams(c);
  }

  function controls(d) {                     // presets and the key list
    const pre = $('.presets');
    if (pre.dataset.names !== Object.keys(d.presets).join('|')) {
      pre.replaceChildren(); pre.dataset.names = Object.keys(d.presets).join('|');
      Object.keys(d.presets).forEach((n, i) => {
        const b = el('button', '', n); b.dataset.p = n;
        b.title = 'level ' + d.presets[n][0] + ', window ' + d.presets[n][1]
          + ' (key ' + (i + 1) + ')';
        b.onclick = () => S.preset(n); pre.appendChild(b);
      });
    }
    const help = $('.help'), ls = layouts();
    const wanted = KEYS.filter(([, , need]) => !need || (need === 'nav' && d.nav)
      || (need === 'cams' && d.cam_classes) || (need === 'layouts' && ls.length > 1));
    if (help.dataset.n !== String(wanted.length)) {
      help.dataset.n = String(wanted.length);
      const t = el('table');
      t.appendChild(el('caption', '', 'Keys (not while typing in a text field)'));
      for (const [k, what] of wanted) {
        const tr = el('tr'); tr.append(el('td', '', k), el('td', '', what)); t.appendChild(tr);
      }
      if (d.keys_note) t.appendChild(el('caption', 'kn', d.keys_note));
      help.replaceChildren(t);
    }
  }

  show(data);
  return () => { S.onKey = null; };
}
