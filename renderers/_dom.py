"""The layout of a page as Chromium laid it out, read from the DOM in one `evaluate` call.

Text: every visible text node's client rects through a `Range` (one element per line box, split
where a wrapped node changes line), with the computed font, colour and the first opaque
background among its ancestors.  SVG text (inline or in an SVG document): one element per
`<text>`, its screen box and the rotation of its screen matrix.  Images (`img`, `svg`, `canvas`,
`video`, `iframe`, `object`, `embed`) and block boxes that paint something (a background or a
border) come as boxes.  Each item carries hints (tag, id, class of it and its ancestors) and
integer keys so that the renderer can give roles and parents.
"""

from __future__ import annotations

DOM_SCRIPT = r"""
(limits) => {
  const items = [];
  const keys = new Map();
  let nextKey = 1;
  const keyOf = (el) => { if (!keys.has(el)) keys.set(el, nextKey++); return keys.get(el); };
  const SVG = "http://www.w3.org/2000/svg";
  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "TITLE", "HEAD", "META",
                        "LINK", "script", "style", "title", "desc", "metadata"]);
  const IMAGES = new Set(["img", "canvas", "video", "iframe", "object", "embed", "picture"]);
  const SVG_SHAPES = new Set(["rect", "circle", "ellipse", "line", "polyline", "polygon", "path",
                              "image"]);
  const parseColor = (c) => {
    const m = c && c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
    if (p.length < 3) return null;
    const alpha = p.length > 3 ? p[3] : 1;
    return {hex: "#" + p.slice(0, 3).map(v => Math.max(0, Math.min(255, Math.round(v)))
              .toString(16).padStart(2, "0")).join(""), alpha};
  };
  const hexOf = (c) => { const p = parseColor(c); return p && p.alpha > 0 ? p.hex : null; };
  const hints = (el) => {
    const out = []; const ks = [];
    for (let e = el, n = 0; e && e.nodeType === 1 && n < 10; e = e.parentElement, n++) {
      const h = {tag: e.localName};
      if (e.id) h.id = String(e.id);
      const cls = e.getAttribute && e.getAttribute("class");
      if (cls) h["class"] = cls;
      const aria = e.getAttribute && e.getAttribute("aria-label");
      if (aria) h["aria-label"] = aria;
      out.push(h); ks.push(keyOf(e));
    }
    return [out, ks];
  };
  const bgCache = new Map();
  const background = (el) => {
    if (!el || el.nodeType !== 1) return "#ffffff";
    if (bgCache.has(el)) return bgCache.get(el);
    let result;
    const cs = getComputedStyle(el);
    const p = parseColor(cs.backgroundColor);
    if (cs.backgroundImage && cs.backgroundImage !== "none") result = null;
    else if (p && p.alpha >= 0.99) result = p.hex;
    else if (el === document.documentElement) result = "#ffffff";
    else result = background(el.parentElement);
    bgCache.set(el, result);
    return result;
  };
  const hidden = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === "none" || cs.visibility === "hidden" || cs.opacity === "0") return true;
    }
    return false;
  };
  const rotationOf = (el) => {
    if (el.namespaceURI === SVG && el.getScreenCTM) {
      const m = el.getScreenCTM();
      if (m) return ((-Math.atan2(m.b, m.a) * 180 / Math.PI) % 360 + 360) % 360;
    }
    let angle = 0;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const t = getComputedStyle(e).transform;
      if (t && t !== "none") {
        const m = new DOMMatrixReadOnly(t);
        angle += -Math.atan2(m.b, m.a) * 180 / Math.PI;
      }
    }
    return ((angle % 360) + 360) % 360;
  };
  const box = (r) => [r.left, r.top, r.right, r.bottom].map(v => Math.round(v * 100) / 100);
  const family = (cs) => (cs.fontFamily || "").split(",")[0].trim().replace(/^["']|["']$/g, "");
  const textItem = (el, text, rect) => {
    const cs = getComputedStyle(el);
    const [h, ks] = hints(el);
    return {kind: "text", tag: el.localName, box: box(rect), text,
            rotation: Math.round(rotationOf(el) * 100) / 100, font_family: family(cs),
            font_size_px: parseFloat(cs.fontSize) || null,
            color: el.namespaceURI === SVG ? (hexOf(cs.fill) || hexOf(cs.color)) : hexOf(cs.color),
            background: el.namespaceURI === SVG ? null : background(el),
            hints: h, key: ks[0], ancestor_keys: ks.slice(1)};
  };
  const root = document.documentElement;
  if (!root) return {items, truncated: false};
  // Boxes first, in document order, so that texts can find them as parents.
  let boxes = 0;
  for (const el of root.querySelectorAll("*")) {
    if (boxes >= limits.boxes) break;
    const tag = el.localName;
    if (SKIP.has(el.tagName)) continue;
    const inSvg = el.namespaceURI === SVG;
    if (inSvg && tag !== "svg" && !SVG_SHAPES.has(tag)) continue;
    const unpainted = "defs, clipPath, mask, pattern, marker, symbol, foreignObject";
    if (inSvg && el.closest(unpainted)) continue;
    if (inSvg && tag === "svg" && el.ownerSVGElement) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 0 && r.height <= 0) continue;
    const isImage = IMAGES.has(tag) || (tag === "svg" && el !== root) || tag === "image" ||
      (tag === "input" && el.type === "image");
    let paints = false;
    if (inSvg && !isImage) {
      const cs = getComputedStyle(el);
      paints = (cs.fill !== "none" || (cs.stroke && cs.stroke !== "none")) && !hidden(el);
    } else if (!isImage && el !== root && el !== document.body) {
      const cs = getComputedStyle(el);
      const bg = parseColor(cs.backgroundColor);
      const border = (s) => parseFloat(cs["border" + s + "Width"]) > 0 &&
        cs["border" + s + "Style"] !== "none" &&
        (parseColor(cs["border" + s + "Color"]) || {}).alpha > 0;
      paints = (bg && bg.alpha > 0) || (cs.backgroundImage && cs.backgroundImage !== "none") ||
        ["Top", "Right", "Bottom", "Left"].some(border);
      if (paints && hidden(el)) paints = false;
    }
    if (!isImage && !paints) continue;
    if (isImage && hidden(el)) continue;
    const [h, ks] = hints(el);
    const cs = getComputedStyle(el);
    items.push({kind: isImage ? "image" : "shape", tag, box: box(r),
                color: isImage ? null
                  : (inSvg ? (hexOf(cs.fill) || hexOf(cs.stroke)) : hexOf(cs.backgroundColor)),
                hints: h, key: ks[0], ancestor_keys: ks.slice(1)});
    boxes++;
  }
  // Texts.
  const seenSvgText = new Set();
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let chars = 0, texts = 0, truncated = false;
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (texts >= limits.texts) { truncated = true; break; }
    const raw = node.nodeValue;
    if (!raw || !raw.trim()) continue;
    const el = node.parentElement;
    if (!el || SKIP.has(el.tagName) || SKIP.has(el.localName)) continue;
    if (el.closest("head, script, style, noscript, template, title, desc, metadata")) continue;
    if (el.namespaceURI === SVG) {
      const t = el.closest("text");
      if (!t || seenSvgText.has(t)) continue;
      seenSvgText.add(t);
      if (hidden(t)) continue;
      const r = t.getBoundingClientRect();
      const content = t.textContent.replace(/\s+/g, " ").trim();
      if (r.width > 0 && r.height > 0 && content) { items.push(textItem(t, content, r)); texts++; }
      continue;
    }
    if (hidden(el)) continue;
    range.selectNodeContents(node);
    const rects = Array.from(range.getClientRects()).filter(r => r.width > 0 && r.height > 0);
    if (!rects.length) continue;
    const pre = /^pre/.test(getComputedStyle(el).whiteSpace);
    const norm = (s) => pre ? s.replace(/\n+$/, "") : s.replace(/\s+/g, " ").trim();
    if (rects.length === 1 || chars + raw.length > limits.chars) {
      const r = range.getBoundingClientRect();
      const content = norm(raw);
      if (content) { items.push(textItem(el, content, r)); texts++; }
      continue;
    }
    // A wrapped text node: split it where the line changes.
    chars += raw.length;
    let line = null;
    const flush = () => {
      if (!line) return;
      const content = norm(raw.slice(line.start, line.end));
      if (content) {
        const rect = {left: line.l, top: line.t, right: line.r, bottom: line.b};
        items.push(textItem(el, content, rect));
        texts++;
      }
      line = null;
    };
    for (let i = 0; i < raw.length; i++) {
      range.setStart(node, i); range.setEnd(node, i + 1);
      const cr = Array.from(range.getClientRects()).filter(r => r.width > 0 || r.height > 0);
      if (!cr.length) { if (line) line.end = i + 1; continue; }
      const r = cr[0];
      const blank = !raw[i].trim();
      if (line && r.top >= line.b - 1 && !blank) flush();
      if (!line) {
        if (blank) continue;
        line = {start: i, end: i + 1, l: r.left, t: r.top, r: r.right, b: r.bottom};
        continue;
      }
      line.end = i + 1;
      if (!blank) {
        line.l = Math.min(line.l, r.left); line.t = Math.min(line.t, r.top);
        line.r = Math.max(line.r, r.right); line.b = Math.max(line.b, r.bottom);
      }
    }
    flush();
  }
  return {items, truncated};
}
"""
