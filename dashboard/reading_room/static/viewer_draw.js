// The reading room's image viewer, part 1 of 3: pixels and elements (no state). Joined
// before viewer_keys.js and viewer.js into one module by
// dashboard/reading_room/viewer_component.py.

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

function findingsTable(f) {                 // a model's top findings and its calls
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
