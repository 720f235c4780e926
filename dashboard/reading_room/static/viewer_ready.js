// Tells the page that the viewer has painted its first image (viewer.js fires 'plv-first'),
// so the page sends the rest (words, rank table, gallery) only then: the image is not held
// up behind their drawing. After 4 s it asks anyway (an image that never comes).
export default function (component) {
  let sent = false;
  const send = () => {
    if (sent) return;
    sent = true; component.setTriggerValue('ready', Date.now());
  };
  const first = window.__plv_first;
  const mine = component.data && component.data.token;
  if (first && first.token === mine) { send(); return () => {}; }
  window.addEventListener('plv-first', send);
  const t = setTimeout(send, 4000);
  return () => { window.removeEventListener('plv-first', send); clearTimeout(t); };
}
