// Pictures as the server sends them (render.GridPicture): w x h palette indices, one
// byte a pixel, the top row first, a Uint8Array in `data` (stream.js's readMessage),
// coloured here through the palette the server names (render.PALETTES, in the component
// data). One canvas per picture, painted with putImageData: no PNG is made on the
// server, none decoded here.
//
// Every reader of a picture (the live view's output and thumbnails, a race card, a
// room's tile) goes through paintPicture or pictureCanvas.

const tables = {}; // palette name -> Uint32Array of 256 RGBA pixels (little-endian)

// the palettes as the server defines them: {name: [r, g, b, r, g, b, ...]}
export function usePalettes(palettes) {
  for (const [name, rgb] of Object.entries(palettes || {})) {
    if (tables[name]) continue;
    const bytes = new Uint8Array(256 * 4);
    for (let i = 0; i < 256; i++) {
      bytes[4 * i] = rgb[3 * i] || 0;
      bytes[4 * i + 1] = rgb[3 * i + 1] || 0;
      bytes[4 * i + 2] = rgb[3 * i + 2] || 0;
      bytes[4 * i + 3] = 255;
    }
    tables[name] = new Uint32Array(bytes.buffer);
  }
}

// Paint a picture onto a canvas (resized to the picture's pixels; CSS scales it).
// Returns whether it painted (a missing picture or an unknown palette leaves it as is).
export function paintPicture(picture, canvas) {
  const table = picture && tables[picture.palette];
  if (!table || !canvas || !(picture.data instanceof Uint8Array)) return false;
  const { w, h } = picture;
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  const out = new Uint32Array(image.data.buffer);
  const indices = picture.data;
  const n = Math.min(indices.length, w * h);
  for (let i = 0; i < n; i++) out[i] = table[indices[i]];
  ctx.putImageData(image, 0, 0);
  canvas.pgPicture = picture; // what it shows (tests compare it with the frame's)
  return true;
}

// A new canvas showing the picture (a room's tile, a card): draw it with drawImage or
// put it in the page as it is.
export function pictureCanvas(picture) {
  const canvas = document.createElement("canvas");
  paintPicture(picture, canvas);
  return canvas;
}

// The picture as a PNG data URL, for what needs one (a download, an <img>)
export function pictureURL(picture) {
  return pictureCanvas(picture).toDataURL("image/png");
}
