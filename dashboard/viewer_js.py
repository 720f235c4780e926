"""JavaScript, HTML and CSS of the Browse page's two browser components (see viewer_component).

Kept apart from the Python so each file stays readable. Rules the code follows:
- every string from the study (ids, class names, captions) is set with `textContent` or as
  an attribute, never as HTML;
- nothing is fetched: images arrive as data: URLs in the component's data, fonts are the
  system's (`sans-serif`);
- window/level, presets, invert, zoom, overlay choice and opacity are applied to pixels in
  the browser (a 256-entry lookup table over the decoded grey values), so they never cause
  a Streamlit rerun; only previous/next, a thumbnail click and gallery paging send an event.
- `window.__plv_drawn` / `window.__plg_drawn` ({token, t}) mark the last pixel drawn for a
  payload (performance.now()), and `window.__pl_t0` the moment of the user's click or key,
  so the browser benchmark and the e2e test measure and wait on what a user sees.
"""

VIEWER_HTML = """
<div class="plv">
  <div class="bar">
    <button class="prev" title="Previous image in the gallery order (← or k)">◀ Previous</button>
    <span class="pos"></span>
    <button class="next" title="Next image in the gallery order (→ or j)">Next ▶</button>
    <span class="sep"></span>
    <span class="presets"></span>
    <label class="chk" title="Invert grey values (i)"><input type="checkbox" class="inv">
      invert</label>
    <span class="sep"></span>
    <span class="zooms" title="Zoom (+ − 0); shift-drag or scroll to move"></span>
  </div>
  <div class="bar">
    <label title="Grey value shown as mid-grey">L <input type="range" class="lvl" min="0"
      max="255" step="1"></label><span class="lvlv num"></span>
    <label title="Range of grey values spread from black to white">W <input type="range"
      class="wid" min="2" max="512" step="1"></label><span class="widv num"></span>
    <span class="sep"></span>
    <span>Grad-CAM:</span><span class="overlays"></span>
    <input type="range" class="opa" min="0" max="1" step="0.05" title="Overlay opacity">
    <button class="dlmain" title="Download the image as shown (PNG)">⤓ PNG</button>
  </div>
  <div class="box"><canvas class="main"></canvas></div>
  <div class="legend"><span class="cbar-lo"></span><canvas class="cbar"></canvas>
    <span class="cbar-hi"></span></div>
  <div class="meta"></div>
  <div class="cams"></div>
  <div class="camnote"></div>
  <div class="keys">Keys: ← → previous/next · 1–4 presets · i invert · + − zoom · 0 fit ·
    o Grad-CAM overlay · drag on the image: left/right = window, up/down = level</div>
</div>
"""

VIEWER_CSS = """
.plv { font-family: sans-serif; font-size: 13px; color: var(--st-text-color, #222); }
.plv .bar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 0 0 6px 0; }
.plv button { font: inherit; padding: 1px 6px; border: 1px solid #bbb; border-radius: 6px;
  background: var(--st-secondary-background-color, #f3f3f5); color: inherit; cursor: pointer; }
.plv button.on { background: #ff4b4b; color: white; border-color: #ff4b4b; }
.plv button:disabled { opacity: 0.4; cursor: default; }
.plv .sep { width: 10px; }
.plv .num { min-width: 2.5em; font-variant-numeric: tabular-nums; }
.plv input[type=range] { width: 90px; vertical-align: middle; }
.plv input.opa { width: 60px; }
.plv .box { width: 100%; height: 400px; overflow: auto; background: #000;
  border-radius: 6px; display: flex; align-items: flex-start; justify-content: center; }
.plv .box.zoomed { justify-content: flex-start; }
.plv canvas.main { display: block; cursor: crosshair; touch-action: none; }
.plv .legend { display: flex; align-items: center; gap: 6px; margin: 4px 0; min-height: 16px; }
.plv .legend canvas { width: 180px; height: 10px; border: 1px solid #999; }
.plv .meta { color: #555; margin: 2px 0 8px 0; }
.plv .cams { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; }
.plv .cam canvas { width: 100%; display: block; border-radius: 4px; background: #000; }
.plv .cam .cap { font-size: 12px; margin: 2px 0; }
.plv .cam .row { display: flex; align-items: center; gap: 4px; font-size: 11px; }
.plv .cam .row canvas { height: 8px; flex: 1; min-width: 30px; border: 1px solid #999; }
.plv .cam .row button { padding: 0 5px; font-size: 11px; }
.plv .camnote { color: #555; margin: 4px 0; }
.plv .keys { color: #777; font-size: 11px; margin-top: 6px; }
.plv kbd { font-size: 10px; border: 1px solid #bbb; border-radius: 3px; padding: 0 3px; }
"""

VIEWER_JS = r"""
const S = (window.__plv = window.__plv || {level: 128, width: 256, invert: false, zoom: 0,
  overlay: 'none', opacity: 0.6, token: null, nav: 0});

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
  const x = c.getContext('2d'); x.imageSmoothingEnabled = true; x.imageSmoothingQuality = 'high';
  x.drawImage(img, 0, 0, w, h);        // a model-size map is upsampled (smoothly) here
  const rgba = x.getImageData(0, 0, w, h).data, g = new Uint8Array(w * h);
  for (let i = 0; i < g.length; i++) g[i] = rgba[i * 4];
  return g;
}

function half(g, W, sw, sh) {              // grey values [H×W] → 2×2 means [sh×sw]
  const out = new Uint8Array(sw * sh);
  for (let y = 0; y < sh; y++) {
    const a = 2 * y * W, b = a + W;
    for (let x = 0; x < sw; x++) {
      const i = 2 * x;
      out[y * sw + x] = (g[a + i] + g[a + i + 1] + g[b + i] + g[b + i + 1] + 2) >> 2;
    }
  }
  return out;
}

function greyLut() {                       // DICOM linear VOI window, as dashboard.imaging
  const t = new Uint8ClampedArray(256), w = Math.max(S.width, 2);
  for (let v = 0; v < 256; v++) {
    let y = (v - (S.level - 0.5)) / (w - 1) + 0.5;
    y = Math.min(Math.max(y, 0), 1) * 255 + 0.5;
    t[v] = S.invert ? 255 - Math.floor(y) : Math.floor(y);
  }
  return t;
}

// Grey image through the window, optionally blended with a map: heat (0…255 = 0…1) or
// diverging (128 = 0). Blend weight = opacity × √|map|, as dashboard.imaging.overlay.
function paint(canvas, D, kind, opacity) {
  const w = D.w, h = D.h; canvas.width = w; canvas.height = h;
  const x = canvas.getContext('2d'), out = x.createImageData(w, h), o = out.data;
  const g = D.gray, t = greyLut(), map = kind ? D.maps[kind] : null;
  const signed = kind === 'diff' || D.signed;   // 128 = 0, diverging colours
  const cm = signed ? D.div : D.heat;
  for (let i = 0, j = 0; i < g.length; i++, j += 4) {
    let v = t[g[i]], r = v, gg = v, b = v;
    if (map) {
      const m = map[i];
      const a = opacity * Math.sqrt(signed ? Math.abs(m - 128) / 127 : m / 255);
      const k = m * 3;
      r = v * (1 - a) + cm[k] * a; gg = v * (1 - a) + cm[k + 1] * a;
      b = v * (1 - a) + cm[k + 2] * a;
    }
    o[j] = r; o[j + 1] = gg; o[j + 2] = b; o[j + 3] = 255;
  }
  x.putImageData(out, 0, 0);
}

function colourbar(canvas, cm) {
  canvas.width = 256; canvas.height = 1;
  const x = canvas.getContext('2d'), d = x.createImageData(256, 1);
  for (let i = 0; i < 256; i++) {
    d.data[i * 4] = cm[i * 3]; d.data[i * 4 + 1] = cm[i * 3 + 1]; d.data[i * 4 + 2] = cm[i * 3 + 2];
    d.data[i * 4 + 3] = 255;
  }
  x.putImageData(d, 0, 0);
}

function download(canvas, name, caption, cm, lo, hi) {
  // the panel at full resolution + a strip with its colour bar and caption
  const strip = cm ? 44 : 0, w = Math.max(canvas.width, 320);
  const c = document.createElement('canvas'); c.width = w; c.height = canvas.height + strip;
  const x = c.getContext('2d'); x.fillStyle = '#fff'; x.fillRect(0, 0, c.width, c.height);
  x.drawImage(canvas, 0, 0);
  if (cm) {
    const bar = document.createElement('canvas'); colourbar(bar, cm);
    x.imageSmoothingEnabled = true; x.drawImage(bar, 8, canvas.height + 6, w - 16, 10);
    x.fillStyle = '#000'; x.font = '11px sans-serif';
    x.fillText(lo, 8, canvas.height + 28); const tw = x.measureText(hi).width;
    x.fillText(hi, w - 8 - tw, canvas.height + 28);
    x.fillText(caption.slice(0, 90), 8, canvas.height + 40);
  }
  c.toBlob((blob) => {
    const a = document.createElement('a'); a.href = URL.createObjectURL(blob);
    a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  }, 'image/png');
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
  const el = $('.plv');
  S.el = el;
  const D = S.D = S.D || {};
  const nav = (dir) => {
    if (!S.navOk || !S.navOk[dir]) return;
    window.__pl_t0 = performance.now();
    S.send('nav', {dir: dir, n: ++S.nav});
  };
  S.onKey = (e) => {
    const tag = (e.composedPath()[0] || {}).tagName || '';
    if (/INPUT|TEXTAREA|SELECT/.test(tag) || e.ctrlKey || e.metaKey || e.altKey) return;
    const P = Object.keys(data.presets);
    if (e.key === 'ArrowRight' || e.key === 'j') nav(1);
    else if (e.key === 'ArrowLeft' || e.key === 'k') nav(-1);
    else if ('1234'.includes(e.key) && P[+e.key - 1]) S.preset(P[+e.key - 1]);
    else if (e.key === 'i') { S.invert = !S.invert; S.redraw(); }
    else if (e.key === '+' || e.key === '=') S.setZoom(S.zoom ? Math.min(S.zoom * 2, 8) : 2);
    else if (e.key === '-') S.setZoom(S.zoom > 1 ? S.zoom / 2 : 0);
    else if (e.key === '0') S.setZoom(0);
    else if (e.key === 'o') {
      const kinds = ['none'].concat(D.maps ? Object.keys(D.maps) : []);
      S.overlay = kinds[(kinds.indexOf(S.overlay) + 1) % kinds.length]; S.redraw();
    } else return;
    e.preventDefault();
  };
  if (!window.__plv_keys) {
    window.__plv_keys = true;
    document.addEventListener('keydown', (e) => S.onKey && S.onKey(e));
  }

  if (!el.dataset.wired) {                 // once per mounted element
    el.dataset.wired = '1';
    $('.prev').onclick = () => nav(-1);
    $('.next').onclick = () => nav(1);
    $('.lvl').oninput = (e) => { S.level = +e.target.value; S.redraw(); };
    $('.wid').oninput = (e) => { S.width = +e.target.value; S.redraw(); };
    $('.inv').onchange = (e) => { S.invert = e.target.checked; S.redraw(); };
    $('.opa').oninput = (e) => { S.opacity = +e.target.value; S.redraw(); };
    $('.dlmain').onclick = () => download($('canvas.main'), D.file + '.png', '', null);
    const cv = $('canvas.main');
    cv.onpointerdown = (e) => {
      if (e.shiftKey) return;              // shift-drag: leave it to scrolling
      const x0 = e.clientX, y0 = e.clientY, l0 = S.level, w0 = S.width;
      cv.setPointerCapture(e.pointerId);
      cv.onpointermove = (m) => {
        S.width = Math.round(Math.min(Math.max(w0 + (m.clientX - x0), 2), 512));
        S.level = Math.round(Math.min(Math.max(l0 - (m.clientY - y0) * 0.5, 0), 255));
        S.redraw();
      };
      cv.onpointerup = () => { cv.onpointermove = null; };
    };
    new ResizeObserver(() => S.layout && S.layout()).observe($('.box'));
  }

  S.preset = (name) => {
    const p = data.presets[name]; S.level = p[0]; S.width = p[1]; S.redraw();
  };
  S.setZoom = (z) => { S.zoom = z; S.layout(); };
  S.layout = () => {
    if (!D.w) return;
    const box = $('.box'), cv = $('canvas.main');
    // the box is as tall as the fitted image, at most 62% of the window (≤ 640 px)
    const maxH = Math.min(window.innerHeight * 0.62, 640);
    const fit = Math.min(box.clientWidth / D.w, maxH / D.h);
    box.style.height = Math.round(S.zoom ? maxH : D.h * fit) + 'px';
    const scale = S.zoom ? S.zoom * Math.max(fit, 0) : fit;
    cv.style.width = Math.round(D.w * scale) + 'px';
    cv.style.height = Math.round(D.h * scale) + 'px';
    box.classList.toggle('zoomed', !!S.zoom);
    root.querySelectorAll('.zooms button').forEach((b) => {
      b.classList.toggle('on', +b.dataset.z === S.zoom);
    });
  };
  S.redraw = () => {
    if (!D.gray) return;
    $('.lvl').value = S.level; $('.wid').value = S.width; $('.inv').checked = S.invert;
    $('.opa').value = S.opacity;
    $('.lvlv').textContent = S.level; $('.widv').textContent = S.width;
    const kind = S.overlay !== 'none' && D.maps && D.maps[S.overlay] ? S.overlay : null;
    paint($('canvas.main'), D, kind, S.opacity);
    root.querySelectorAll('.presets button').forEach((b) => {
      const p = data.presets[b.dataset.p];
      b.classList.toggle('on', p[0] === S.level && p[1] === S.width);
    });
    root.querySelectorAll('.overlays button').forEach((b) => {
      b.classList.toggle('on', b.dataset.o === (kind || 'none'));
    });
    const lg = $('.legend');
    lg.style.visibility = kind ? 'visible' : 'hidden';
    if (kind) {
      const lg = D.legend[kind];
      colourbar($('.cbar'), kind === 'diff' || D.signed ? D.div : D.heat);
      $('.cbar-lo').textContent = lg[0]; $('.cbar-hi').textContent = lg[1];
    }
    // the three small panels are painted from half-size copies: 4× fewer pixels per change
    for (const c of root.querySelectorAll('.cam canvas.panel')) {
      paint(c, D.small || D, c.dataset.k, S.opacity);
    }
    window.__plv_drawn = {token: D.token, t: performance.now()};
  };

  // static controls that depend on data (built once per payload shape)
  const pre = $('.presets');
  if (pre.dataset.names !== Object.keys(data.presets).join('|')) {
    pre.replaceChildren(); pre.dataset.names = Object.keys(data.presets).join('|');
    Object.keys(data.presets).forEach((n, i) => {
      const b = document.createElement('button'); b.textContent = n; b.dataset.p = n;
      b.title = 'level ' + data.presets[n][0] + ', window ' + data.presets[n][1]
        + ' (key ' + (i + 1) + ')';
      b.onclick = () => S.preset(n); pre.appendChild(b);
    });
    const zs = $('.zooms');
    [['fit', 0], ['1×', 1], ['2×', 2], ['4×', 4]].forEach(([t, z]) => {
      const b = document.createElement('button'); b.textContent = t; b.dataset.z = z;
      b.onclick = () => S.setZoom(z); zs.appendChild(b);
    });
  }

  S.navOk = {'-1': !!data.nav.prev, '1': !!data.nav.next};
  $('.prev').disabled = !data.nav.prev; $('.next').disabled = !data.nav.next;
  $('.pos').textContent = data.nav.text;
  // previous/next rerun only the viewer's fragment: the gallery moves its highlight itself
  if (data.nav.row !== undefined) {
    window.dispatchEvent(new CustomEvent('plv-row', {detail: data.nav.row}));
  }
  if (el.dataset.built === data.token && D.token === data.token) {
    S.redraw(); return () => { S.onKey = null; };
  }

  (async () => {
    const token = data.token;
    // the image and the maps decode side by side (each decode waits on the browser's
    // image decoder, not on this thread)
    const names = data.cams ? Object.keys(data.cams.maps) : [];
    const [gray, ...grids] = await Promise.all([data.image.src].concat(
      names.map((k) => data.cams.maps[k])).map((src) => decodeGray(src, data.image.w,
                                                                   data.image.h)));
    const maps = {};
    names.forEach((k, i) => { maps[k] = grids[i]; });
    let small = null;
    if (data.cams && data.image.w > 320) {  // 2×2 means of the decoded values, not 4 decodes
      const W = data.image.w, H = data.image.h, sw = W >> 1, sh = H >> 1, sm = {};
      for (const k of Object.keys(maps)) sm[k] = half(maps[k], W, sw, sh);
      small = {w: sw, h: sh, gray: half(gray, W, sw, sh), maps: sm};
    }
    if (token !== S.want) return;         // a newer image arrived meanwhile
    Object.assign(D, {token, gray, w: data.image.w, h: data.image.h, file: data.file,
      maps: data.cams ? maps : null, heat: lut(data.colormaps.heat),
      div: lut(data.colormaps.diverging), signed: !!(data.cams && data.cams.signed),
      legend: data.cams ? data.cams.legend : {}});
    D.small = small && Object.assign(small, {heat: D.heat, div: D.div, signed: D.signed});
    $('.meta').textContent = data.image.caption;
    const ov = $('.overlays'); ov.replaceChildren();
    const kinds = [['none', 'off']].concat(data.cams ? data.cams.order : []);
    ov.parentElement.querySelector('.opa').style.display = data.cams ? '' : 'none';
    for (const [k, t] of kinds) {
      const b = document.createElement('button'); b.textContent = t; b.dataset.o = k;
      b.onclick = () => { S.overlay = k; S.redraw(); }; ov.appendChild(b);
    }
    const cams = $('.cams'); cams.replaceChildren();
    if (data.cams) {
      for (const [k, title] of data.cams.order) {
        const d = document.createElement('div'); d.className = 'cam';
        const c = document.createElement('canvas'); c.className = 'panel'; c.dataset.k = k;
        const cap = document.createElement('div'); cap.className = 'cap';
        cap.textContent = data.cams.captions[k];
        const row = document.createElement('div'); row.className = 'row';
        const div = k === 'diff' || D.signed;
        const bar = document.createElement('canvas'); colourbar(bar, div ? D.div : D.heat);
        const lo = document.createElement('span'); lo.textContent = div ? '−1' : '0';
        const hi = document.createElement('span'); hi.textContent = div ? '+1' : '1';
        const dl = document.createElement('button'); dl.textContent = '⤓';
        dl.title = 'Download ' + title + ' with its colour bar (PNG, full resolution)';
        dl.onclick = () => {                 // painted again at the image's full size
          const full = document.createElement('canvas'); paint(full, D, k, S.opacity);
          download(full, D.file + '_gradcam_' + k + '.png', data.cams.captions[k],
                   div ? D.div : D.heat, D.legend[k][0], D.legend[k][1]);
        };
        row.append(lo, bar, hi, dl);
        d.append(c, cap, row); cams.appendChild(d);
      }
    }
    $('.camnote').textContent = data.cams ? data.cams.note : data.cam_note;
    el.dataset.built = token;
    S.layout();
    S.redraw();
  })();
  return () => { S.onKey = null; };
}
"""

GALLERY_HTML = """
<div class="plg">
  <div class="pager">
    <button class="first" title="First page">«</button>
    <button class="back" title="Previous page">‹</button>
    <span class="info"></span>
    <button class="fwd" title="Next page">›</button>
    <button class="last" title="Last page">»</button>
  </div>
  <div class="grid"></div>
</div>
"""

GALLERY_CSS = """
.plg { font-family: sans-serif; font-size: 12px; color: var(--st-text-color, #222); }
.plg .pager { display: flex; align-items: center; gap: 6px; margin-bottom: 6px; }
.plg button { font: inherit; padding: 2px 8px; border: 1px solid #bbb; border-radius: 6px;
  background: var(--st-secondary-background-color, #f3f3f5); color: inherit; cursor: pointer; }
.plg button:disabled { opacity: 0.4; cursor: default; }
.plg .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(96px, 1fr));
  gap: 6px; }
.plg .t { border: 2px solid transparent; border-radius: 6px; padding: 2px; cursor: pointer;
  background: var(--st-secondary-background-color, #f3f3f5); }
.plg .t:hover { border-color: #999; }
.plg .t.sel { border-color: #ff4b4b; }
.plg .t img { width: 100%; aspect-ratio: 1; display: block; border-radius: 4px;
  background: #000; }
.plg .t .c1 { font-variant-numeric: tabular-nums; margin-top: 2px; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.plg .t .c2 { color: #666; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.plg .t .pie { color: #c0392b; font-weight: bold; }
"""

GALLERY_JS = r"""
export default function (component) {
  const { setTriggerValue, parentElement: root } = component;
  let data = component.data;
  const $ = (s) => root.querySelector(s);
  const G = (window.__plg = window.__plg || {n: 0});
  G.send = setTriggerValue;
  if (data.slim) {                         // thumbnails already sent: reuse them
    if (G.last && G.last.token === data.token) data = Object.assign({}, G.last, data);
    else { setTriggerValue('resend', ++G.n); return; }
  } else G.last = data;
  const page = (p) => { window.__pl_t0 = performance.now(); G.send('page', {page: p, n: ++G.n}); };
  $('.first').onclick = () => page(0);
  $('.back').onclick = () => page(data.page - 1);
  $('.fwd').onclick = () => page(data.page + 1);
  $('.last').onclick = () => page(data.pages - 1);
  $('.first').disabled = $('.back').disabled = data.page <= 0;
  $('.fwd').disabled = $('.last').disabled = data.page >= data.pages - 1;
  $('.info').textContent = data.info;
  const grid = G.grid = $('.grid');
  if (!G.wired) {                          // the viewer's image changed without a rerun here
    G.wired = true;
    window.addEventListener('plv-row', (e) => {
      if (!G.grid || !G.grid.isConnected) return;
      for (const t of G.grid.children) t.classList.toggle('sel', +t.dataset.row === e.detail);
      if (G.last) G.last.selected = e.detail;
    });
  }
  if (grid.dataset.token !== data.token) {
    grid.dataset.token = data.token;
    grid.replaceChildren();
    const loads = [];
    for (const it of data.items) {
      const t = document.createElement('div'); t.className = 't'; t.dataset.row = it.row;
      t.title = it.title;
      const img = document.createElement('img'); img.alt = it.id; img.src = it.src;
      loads.push(img.decode().catch(() => null));
      const c1 = document.createElement('div'); c1.className = 'c1';
      if (it.pie) {
        const s = document.createElement('span'); s.className = 'pie'; s.textContent = 'PIE ';
        c1.appendChild(s);
      }
      c1.appendChild(document.createTextNode(it.line1));
      const c2 = document.createElement('div'); c2.className = 'c2'; c2.textContent = it.line2;
      const c3 = document.createElement('div'); c3.className = 'c2'; c3.textContent = it.id;
      t.append(img, c1, c2, c3);
      t.onclick = () => {
        window.__pl_t0 = performance.now();
        G.send('pick', {row: it.row, n: ++G.n});
        const v = window.__plv && window.__plv.el;
        if (v && v.isConnected && v.getBoundingClientRect().top < 0) {
          v.scrollIntoView({block: 'start'});
        }
      };
      grid.appendChild(t);
    }
    const token = data.token;
    Promise.all(loads).then(() => requestAnimationFrame(() => {
      window.__plg_drawn = {token, t: performance.now()};
    }));
  }
  for (const t of grid.children) t.classList.toggle('sel', +t.dataset.row === data.selected);
}
"""
