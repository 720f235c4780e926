// Grad-CAM maps for the image viewer (viewer.js), mounted after the page's words and tables
// so the image is drawn first: hands its data to the viewer, draws nothing itself.
export default function (component) {
  const data = component.data;
  const S = (window.__plv = window.__plv || {});
  S.pendingCams = data;
  if (S.setCams) S.setCams(data);
}
