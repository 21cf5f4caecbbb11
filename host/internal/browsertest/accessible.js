// Run in the page by CheckAccessible and FocusRing, wrapped in a function
// that returns accessibilityProblems() or focusRing(). Simplified from
// WCAG 2.2 (names 4.1.2, alt 1.1.1, headings 1.3.1, contrast 1.4.3 and
// 1.4.11, colour 1.4.1), enough for a page of plain forms and tables.

// Colours, as computed styles give them ("rgb(1, 2, 3)", "rgba(1, 2, 3,
// 0.5)"), laid over one another, and their contrast ratio.
function rgba(s) {
  const n = (s.match(/[\d.]+/g) || []).map(Number);
  return { r: n[0] || 0, g: n[1] || 0, b: n[2] || 0, a: n.length > 3 ? n[3] : 1 };
}
function over(top, below) {
  return {
    r: top.r * top.a + below.r * (1 - top.a),
    g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a),
    a: 1,
  };
}
function luminance(c) {
  const lin = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
  return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
}
function ratio(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
function hex(c) {
  return "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
}

// background is the colour el is drawn on: the first opaque background up
// the ancestors, with the translucent ones above it laid over it (the
// canvas is white); null over an image, which is not judged here.
function background(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const style = getComputedStyle(e);
    if (style.backgroundImage !== "none") return null;
    const bg = rgba(style.backgroundColor);
    if (bg.a > 0) layers.push(bg);
    if (bg.a >= 1) break;
  }
  return layers.reduceRight((below, top) => over(top, below), { r: 255, g: 255, b: 255, a: 1 });
}

// accessibilityProblems lists the accessibility problems of what is shown
// now, a sentence each.
function accessibilityProblems() {
  const problems = [];
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility === "visible";
  const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    else if (el.className && typeof el.className === "string") s += "." + el.className.trim().split(/\s+/).join(".");
    const t = text(el).slice(0, 40);
    return t ? s + ' ("' + t + '")' : s;
  };

  // Every visible control has a name a screen reader reads out.
  const name = (el) => {
    const by = el.getAttribute("aria-labelledby");
    if (by) return by.split(/\s+/).map((id) => text(document.getElementById(id))).join(" ").trim();
    const label = (el.getAttribute("aria-label") || "").trim();
    if (label) return label;
    if (el.labels && el.labels.length) {
      const l = [...el.labels].map(text).join(" ").trim();
      if (l) return l;
    }
    if (el.tagName === "BUTTON" || el.tagName === "A") return text(el);
    if (el.tagName === "INPUT" && ["button", "submit", "reset"].includes(el.type)) return el.value;
    return (el.getAttribute("title") || "").trim();
  };
  for (const el of document.querySelectorAll("input, select, textarea, button, progress, a[href], [role=button]")) {
    if (el.type === "hidden" || !visible(el) || el.closest("[aria-hidden=true]")) continue;
    if (!name(el)) problems.push(describe(el) + " has no accessible name (label for, aria-label, aria-labelledby or text)");
  }

  for (const img of document.images) {
    if (!img.hasAttribute("alt")) problems.push(describe(img) + " has no alt");
  }

  const ids = new Map();
  for (const el of document.querySelectorAll("[id]")) ids.set(el.id, (ids.get(el.id) || 0) + 1);
  for (const [id, n] of ids) if (n > 1) problems.push('the id "' + id + '" is on ' + n + " elements");

  // Headings go down one level at a time (h2 then h3, not h2 then h4).
  let last = 0;
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    if (!visible(h)) continue;
    const level = Number(h.tagName[1]);
    if (level > last + 1) problems.push(describe(h) + " is an h" + level + " after an h" + last + ": a level is skipped");
    last = level;
  }

  // Text, and the values of form fields, against their background.
  const hasText = (el) => {
    if (["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName)) return el.value !== "";
    return [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== "");
  };
  for (const el of document.body.querySelectorAll("*")) {
    if (["OPTION", "SCRIPT", "STYLE"].includes(el.tagName) || !hasText(el) || !visible(el)) continue;
    // A disabled control need not stand out (WCAG 1.4.3's exception).
    if (el.matches(":disabled") || el.closest(":disabled")) continue;
    const style = getComputedStyle(el);
    const bg = background(el);
    if (!bg) continue;
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    const fg = rgba(style.color);
    const seen = over({ ...fg, a: fg.a * opacity }, bg);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const min = large ? 3 : 4.5;
    const r = ratio(seen, bg);
    if (r < min) {
      problems.push(describe(el) + " has a contrast of " + r.toFixed(2) + ":1 (" + hex(seen) + " on " + hex(bg) + "), under " + min + ":1");
    }
  }

  // A state is said in words, colour only repeats it: an inactive row
  // says it is inactive, an error says it is one, an element coloured by
  // its data-state has text.
  for (const tr of document.querySelectorAll("tr.inactive")) {
    if (visible(tr) && !/inactive/i.test(tr.innerText)) problems.push(describe(tr) + " is greyed as inactive without saying so");
  }
  for (const el of document.querySelectorAll(".error")) {
    if (!visible(el) || text(el) === "") continue;
    const before = getComputedStyle(el, "::before").content;
    if (!/error/i.test(before) && !/^error/i.test(text(el))) problems.push(describe(el) + " is an error said only by its colour");
  }
  for (const el of document.querySelectorAll("[data-state]")) {
    if (visible(el) && text(el) === "") problems.push(describe(el) + " shows its state " + el.dataset.state + " without words");
  }
  return problems;
}

// focusRing says which element has the focus (its id), and why a
// merchant could not see where it is: it does not match :focus-visible,
// draws no outline, or an outline under 3:1 against the background
// around it.
function focusRing() {
  const el = document.activeElement;
  if (!el || el === document.body) return { id: "", problem: "nothing has the focus" };
  const style = getComputedStyle(el);
  let problem = "";
  if (!el.matches(":focus-visible")) problem = "it does not match :focus-visible";
  else if (style.outlineStyle === "none" || parseFloat(style.outlineWidth) === 0) problem = "it draws no outline";
  else {
    const around = background(el.parentElement) || { r: 255, g: 255, b: 255, a: 1 };
    const ring = over(rgba(style.outlineColor), around);
    const r = ratio(ring, around);
    if (r < 3) problem = "its outline " + hex(ring) + " has a contrast of " + r.toFixed(2) + ":1 with " + hex(around) + ", under 3:1";
  }
  return { id: el.id, problem };
}
