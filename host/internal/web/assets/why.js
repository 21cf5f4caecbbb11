// The page's "Why this number": find a variant by its seller SKU or id,
// then show its Shopify levels per location, each stage of the computation
// in sentences built from the trace (the default rule's notes: basis,
// available, sum, percentage, exact, floor, max_quantity, capped), what was
// published when, and what the last reconciliation read back from TikTok
// Shop.
"use strict";

(function () {
  const { api, problemText, cell, $, state } = window.syncrules;
  const number = new Intl.NumberFormat("en");
  // fill puts rows in a table's body and labels each cell with its
  // column's heading, which the narrow layout shows before the cell.
  function fill(table, rows) {
    const heads = [...table.tHead.rows[0].cells].map((th) => th.textContent);
    for (const tr of rows) [...tr.cells].forEach((td, i) => { td.dataset.label = heads[i] || ""; });
    table.tBodies[0].replaceChildren(...rows);
  }

  const fmt = (n) => (typeof n === "number" ? number.format(n) : String(n));
  const base = () => "/v1/shops/" + encodeURIComponent(state.shop);
  // idNumber names a Shopify object by the number that ends its global id
  // (gid://shopify/Location/123 is 123), as Shopify's admin does.
  const idNumber = (id) => id.slice(id.lastIndexOf("/") + 1);
  let generation = 0; // as in status.js: answers for an older shop are dropped

  // decimal formats a decimal string ("985", "33.33", "1234.5") with
  // thousands separators, keeping its digits exact.
  function decimal(s) {
    const [whole, frac] = String(s).split(".");
    const w = /^-?\d+$/.test(whole) ? number.format(BigInt(whole)) : whole;
    return frac ? w + "." + frac : w;
  }

  function list(words) {
    if (words.length <= 1) return words.join("");
    return words.slice(0, -1).join(", ") + " and " + words[words.length - 1];
  }

  // sentence explains one warehouse's quantity from the default rule's
  // notes; a note it does not know is listed as it is.
  function sentence(w, n) {
    const max = fmt(n.max_quantity);
    switch (n.basis) {
      case "available": {
        const locs = Object.entries(n.available || {});
        let at;
        if (locs.length === 0) at = "nothing available at the locations that feed it";
        else if (locs.length === 1) at = fmt(n.sum) + " available at " + idNumber(locs[0][0]);
        else at = fmt(n.sum) + " available at " + list(locs.map(([l]) => idNumber(l))) + " (" + locs.map(([l, q]) => idNumber(l) + ": " + fmt(q)).join(", ") + ")";
        let s = w + ": " + at;
        if (n.total !== n.sum) s += ", counted as " + fmt(n.total);
        s += ", " + decimal(n.percentage) + "% is " + decimal(n.exact);
        if (String(n.exact) !== String(n.floor)) s += ", rounded down to " + fmt(n.floor);
        s += ", capped at " + max + ": " + (n.capped ? max : fmt(n.floor)) + ".";
        return s;
      }
      case "untracked":
        return w + ": Shopify does not track this item's stock, so the maximum is published: " + max + ".";
      case "continue_selling":
        return w + ": the item keeps selling when out of stock, so the maximum is published: " + max + ".";
      case "unmapped":
        return w + ": no location feeds this warehouse: 0.";
      case "no_active_location":
        return w + ": only inactive locations feed this warehouse: 0.";
    }
    return w + ": " + Object.entries(n).map(([k, v]) => k + " " + (typeof v === "object" ? JSON.stringify(v) : v)).join(", ") + ".";
  }

  function quantities(q) {
    const e = Object.entries(q || {});
    return e.length ? e.map(([w, n]) => w + " " + fmt(n)).join(", ") : "none";
  }

  function li(text) {
    const el = document.createElement("li");
    el.textContent = text;
    return el;
  }

  // steps turns the trace into sentences: a stage's notes per warehouse,
  // or its quantities when it wrote none.
  function steps(c) {
    if (c.error) return [li("Nothing is computed: " + c.error)];
    const out = [];
    c.trace.forEach((st, i) => {
      const m = c.modules[i];
      const who = st.stage === "default" ? "The sync rules (settings version " + c.settings_version + ")"
        : "Custom rule " + (m && m.version ? m.name + " " + m.version : st.stage);
      if (st.error) {
        out.push(li(who + " failed the item: " + st.error.detail + (st.skipped ? " It is skipped: the quantities from before it stay." : "")));
        return;
      }
      const notes = Object.entries(st.warehouses || {});
      if (st.stage === "default" && notes.length) {
        for (const [w, n] of notes) out.push(li(sentence(w, n)));
        return;
      }
      let s = who + " gives " + quantities(st.quantities) + ".";
      if (notes.length) s += " Its notes: " + notes.map(([w, n]) => w + ": " + Object.entries(n).map(([k, v]) => k + " " + (typeof v === "object" ? JSON.stringify(v) : v)).join(", ")).join("; ") + ".";
      out.push(li(s));
    });
    out.push(li("Result: " + quantities(c.quantities) + "."));
    return out;
  }

  const sources = {
    shopify: "Read from Shopify just now.",
    last_sync: "Shopify could not be read now; these are the sync's last read",
    catalog: "Shopify could not be read now, and the sync never read this item; these are the connect's import",
  };

  function show(r) {
    const v = r.variant;
    $("why-variant").textContent = "Variant " + idNumber(v.variant_id) + (v.sku ? ", SKU " + v.sku : ", no SKU");
    $("why-link").textContent = r.sku_id
      ? "Linked to TikTok Shop SKU " + r.sku_id + ", stocked in " + (r.warehouses.length ? list(r.warehouses) : "no warehouse") + "."
      : "Not linked to TikTok Shop: " + (v.link.reason || v.link.status) + ". Nothing is published for it.";

    const lv = r.levels;
    let src = sources[lv.source] || lv.source;
    if (lv.source !== "shopify") src += (lv.time && !lv.time.startsWith("0001") ? " (" + new Date(lv.time).toLocaleString() + ")" : "") + (lv.shopify_error ? ". Why: " + lv.shopify_error : "") + ".";
    if (!lv.tracked) src += " Shopify does not track this item's stock.";
    if (lv.continue_selling) src += " It keeps selling when out of stock.";
    $("why-source").textContent = src;
    const active = new Map((state.shopDoc.locations || []).map((l) => [l.id, l.active]));
    const ids = new Set([...active.keys(), ...Object.keys(lv.available)]);
    const rows = [...ids].map((id) => {
      const tr = document.createElement("tr");
      const has = Object.prototype.hasOwnProperty.call(lv.available, id);
      tr.append(cell(idNumber(id)), cell(has ? fmt(lv.available[id]) : "not stocked", "num"),
        cell(active.get(id) === false ? "Inactive: not counted" : active.has(id) ? "Active" : "Unknown to the shop"));
      if (active.get(id) === false) tr.className = "inactive";
      return tr;
    });
    fill($("why-levels"), rows);

    $("why-steps").replaceChildren(...steps(r.computed));

    const whs = new Set([...r.warehouses, ...Object.keys(r.computed.quantities || {}), ...Object.keys(r.published), ...Object.keys(r.read_back)]);
    const at = (p) => (p ? fmt(p.quantity) + " (" + new Date(p.time).toLocaleString() + ")" : "—");
    const pub = [...whs].map((w) => {
      const tr = document.createElement("tr");
      const q = (r.computed.quantities || {})[w];
      tr.append(cell(w), cell(q == null ? "—" : fmt(q), "num"), cell(at(r.published[w])), cell(at(r.read_back[w])));
      return tr;
    });
    fill($("why-published"), pub);
    $("why-failure").textContent = r.failure
      ? "TikTok Shop refused this SKU's last update: " + r.failure.message + " (code " + r.failure.code + (r.failure.request_id ? ", request " + r.failure.request_id : "") + "). It is sent again on its next change or a resync."
      : "";

    const outcomes = { published: "Published", failed: "Refused by TikTok Shop", refused: "Not sent" };
    const causes = { resync: "Resync", reconcile: "Reconciliation", connect: "Connect" };
    const cause = (c) => causes[c] || (/^settings:\d+$/.test(c) ? "Settings version " + c.slice(9) : "Shopify change (webhook " + c + ")");
    const hist = r.history.slice(0, 10).map((h) => {
      const tr = document.createElement("tr");
      tr.append(cell(new Date(h.time).toLocaleString()), cell(h.warehouse_id),
        cell((h.previous == null ? "—" : fmt(h.previous)) + " → " + fmt(h.quantity)),
        cell((outcomes[h.outcome] || h.outcome) + (h.error_message ? ": " + h.error_message : "")), cell(cause(h.cause)));
      return tr;
    });
    fill($("why-history"), hist);
    $("why-history-empty").hidden = hist.length > 0;
    $("why-history").hidden = hist.length === 0;
    $("why-result").hidden = false;
    $("why-variant").focus(); // screen readers and keyboards land on the answer
  }

  async function explain(variantID, gen) {
    const r = await api("GET", base() + "/sync/items/" + encodeURIComponent(idNumber(variantID)));
    if (gen !== generation) return false;
    if (r.status !== 200) return r;
    $("why-choices").replaceChildren();
    show(r.data);
    return true;
  }

  // search finds the variants with the SKU typed; one is explained at
  // once, several (a conflict) are offered to choose from; else the text
  // is taken for a variant's id.
  async function search(ev) {
    ev.preventDefault();
    const gen = ++generation;
    const input = $("why-query");
    const q = input.value.trim();
    $("why-error").textContent = "";
    input.removeAttribute("aria-invalid");
    $("why-result").hidden = true;
    $("why-choices").replaceChildren();
    if (!q) {
      $("why-error").textContent = "Type a SKU or a variant's id first.";
      input.setAttribute("aria-invalid", "true");
      return;
    }
    const found = await api("GET", base() + "/sync/items?limit=20&sku=" + encodeURIComponent(q));
    if (gen !== generation) return;
    const items = found.status === 200 ? found.data.items : [];
    if (items.length > 1) {
      const intro = document.createElement("p");
      intro.textContent = items.length + " variants carry SKU " + q + ": choose one.";
      const buttons = items.map((v) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = "Variant " + idNumber(v.variant_id) + (v.link.reason ? " — " + v.link.reason : "");
        b.addEventListener("click", () => explain(v.variant_id, generation));
        return b;
      });
      $("why-choices").replaceChildren(intro, ...buttons);
      buttons[0].focus();
      return;
    }
    const r = await explain(items.length === 1 ? items[0].variant_id : q, gen);
    if (r === true || r === false) return;
    input.setAttribute("aria-invalid", "true");
    $("why-error").textContent = r.status === 404
      ? "No variant of this shop has the SKU or id " + q + "."
      : problemText(r.data, "The item could not be explained (" + r.status + ").");
  }

  document.addEventListener("syncrules:shop", () => {
    generation++;
    $("why-result").hidden = true;
    $("why-choices").replaceChildren();
    $("why-error").textContent = "";
    $("why").hidden = false;
  });
  document.addEventListener("syncrules:signed-out", () => {
    generation++;
    $("why").hidden = true;
  });
  document.addEventListener("DOMContentLoaded", () => $("why-form").addEventListener("submit", search));
})();
