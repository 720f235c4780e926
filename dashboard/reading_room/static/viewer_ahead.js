// The next image of the reading room, sent ahead (after everything the page shows): hands
// it to the viewer (viewer.js keeps it), so → draws it without waiting for the server.
export default function (component) {
  const S = (window.__plv = window.__plv || {});
  const items = component.data.items || [];
  if (S.setAhead) S.setAhead(items);
  else S.aheadWaiting = items;
}
