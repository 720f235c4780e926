// The Browse page's thumbnail gallery: pages of thumbnails; a click picks the viewer's image.
// Loaded by dashboard/reading_room/viewer_component.py as a Streamlit v2 component module.
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
