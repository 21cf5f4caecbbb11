// The merchant's page. Plain script, no framework: it signs in with a
// token (traded at once for an HttpOnly session cookie; the token is never
// kept), then reads and writes the shop's settings through the public /v1
// API, sending the session's CSRF token with every change. Text goes into
// the page with textContent only, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { csrf: "", session: null, shop: "", shopDoc: null, version: 0, settings: {} };

  // api sends a request to the API and returns {status, headers, data}.
  async function api(method, path, body, headers) {
    const h = Object.assign({ Accept: "application/json" }, headers || {});
    if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = state.csrf;
    const init = { method, headers: h, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let data = null;
    const type = resp.headers.get("Content-Type") || "";
    if (type.includes("json")) data = await resp.json();
    if (resp.status === 401 && path !== "/v1/session") showSignIn("Your session has ended: sign in again.");
    return { status: resp.status, headers: resp.headers, data };
  }

  function say(text) { $("status").textContent = text; }

  function problemText(p, fallback) {
    if (p && p.detail) return p.detail;
    if (p && p.title) return p.title;
    return fallback;
  }

  // Sign-in and sign-out.

  function showSignIn(message) {
    state.session = null;
    state.csrf = "";
    $("account").hidden = true;
    $("rules").hidden = true;
    $("sign-in").hidden = false;
    document.dispatchEvent(new CustomEvent("syncrules:signed-out"));
    $("token-error").textContent = message || "";
    $("token").focus();
  }

  async function signIn(ev) {
    ev.preventDefault();
    const input = $("token");
    const token = input.value.trim();
    $("token-error").textContent = "";
    if (!token) {
      $("token-error").textContent = "Paste a token first.";
      input.setAttribute("aria-invalid", "true");
      return;
    }
    const r = await api("POST", "/v1/session", { token });
    input.value = ""; // never kept, whatever the answer
    if (r.status !== 201) {
      input.setAttribute("aria-invalid", "true");
      $("token-error").textContent = problemText(r.data, "Signing in failed (" + r.status + ").");
      return;
    }
    input.removeAttribute("aria-invalid");
    await started(r.data);
  }

  async function signOut() {
    await api("DELETE", "/v1/session");
    say("You are signed out.");
    showSignIn("");
  }

  async function started(session) {
    state.session = session;
    state.csrf = session.csrf_token || "";
    $("sign-in").hidden = true;
    $("account").hidden = false;
    $("who").textContent = session.admin ? "Signed in as administrator" : "Signed in with " + session.principal;
    let shops = session.shops.slice();
    if (session.admin) {
      const r = await api("GET", "/v1/shops?limit=100");
      if (r.status === 200) shops = r.data.shops.map((s) => s.id);
    }
    const select = $("shop-select");
    select.replaceChildren(...shops.map((id) => new Option(id, id)));
    if (shops.length === 0) {
      say(session.admin ? "There is no shop yet: create one with PUT /v1/shops/{shop}." : "This token sees no shop.");
      return;
    }
    await loadShop(shops[0]);
  }

  // Settings.

  async function loadShop(id) {
    state.shop = id;
    $("shop-select").value = id;
    clearErrors();
    $("preview").hidden = true;
    const base = "/v1/shops/" + encodeURIComponent(id);
    const [shop, settings] = await Promise.all([api("GET", base), api("GET", base + "/settings")]);
    if (shop.status !== 200 || settings.status !== 200) {
      say(problemText(shop.status !== 200 ? shop.data : settings.data, "The shop could not be read."));
      return;
    }
    state.shopDoc = shop.data;
    showSettings(settings.data);
    $("rules").hidden = false;
    say("");
    document.dispatchEvent(new CustomEvent("syncrules:shop", { detail: { shop: id, shopDoc: shop.data } }));
  }

  function showSettings(v) {
    state.version = v.version;
    state.settings = v.settings || {};
    $("version").textContent = v.version === 0 ? "No settings saved yet: the defaults apply."
      : "Version " + v.version + ", saved " + new Date(v.created).toLocaleString() + " by " + v.token + ".";
    const s = state.settings;
    $("percentage").value = s.percentage == null ? "" : String(s.percentage);
    $("max-quantity").value = s.max_quantity == null ? "" : String(s.max_quantity);
    renderMapping(s.mappings || []);
  }

  function warehouseOptions(first) {
    const opts = [new Option(first, "")];
    for (const w of state.shopDoc.warehouses) {
      const o = new Option(w.id + (w.default ? " (default)" : ""), w.id);
      if (!w.active) {
        o.textContent = w.id + " — inactive in TikTok Shop, gets no stock";
        o.disabled = true;
      }
      opts.push(o);
    }
    return opts;
  }

  function renderMapping(mappings) {
    const rows = [];
    const all = mappings.find((m) => m.location === "*");
    const byLocation = new Map(mappings.filter((m) => m.location !== "*").map((m) => [m.location, m.warehouse]));
    let allValue = all ? all.warehouse : "";
    if (mappings.length === 0) {
      const d = state.shopDoc.warehouses.find((w) => w.default && w.active);
      allValue = d ? d.id : "";
    }

    const allRow = document.createElement("tr");
    const allName = document.createElement("th");
    allName.scope = "row";
    allName.textContent = "All active locations";
    const allCell = document.createElement("td");
    const allSelect = document.createElement("select");
    allSelect.id = "map-all";
    allSelect.setAttribute("aria-label", "Warehouse for all active locations");
    allSelect.replaceChildren(...warehouseOptions("Map each location on its own"));
    allSelect.value = allValue;
    allSelect.addEventListener("change", lockLocations);
    allCell.append(allSelect);
    allRow.append(allName, allCell);
    rows.push(allRow);

    state.shopDoc.locations.forEach((loc, i) => {
      const tr = document.createElement("tr");
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = loc.id;
      const cell = document.createElement("td");
      if (!loc.active) {
        tr.className = "inactive";
        const why = document.createElement("span");
        why.className = "why";
        why.textContent = "Inactive in Shopify: its stock is not counted.";
        name.append(why);
        cell.textContent = "—";
      } else {
        const sel = document.createElement("select");
        sel.id = "map-loc-" + i;
        sel.dataset.location = loc.id;
        sel.setAttribute("aria-label", "Warehouse for location " + loc.id);
        sel.replaceChildren(...warehouseOptions("Not published"));
        sel.value = byLocation.get(loc.id) || "";
        cell.append(sel);
      }
      tr.append(name, cell);
      rows.push(tr);
    });
    $("mapping-rows").replaceChildren(...rows);
    lockLocations();
  }

  // lockLocations disables the per-location choices while every active
  // location goes to one warehouse.
  function lockLocations() {
    const all = $("map-all").value !== "";
    for (const sel of document.querySelectorAll("select[data-location]")) sel.disabled = all;
  }

  // collect reads the form into a settings document, keeping the members
  // this page does not edit (custom rules), or returns null after showing
  // the field errors found before asking the server.
  function collect() {
    clearErrors();
    const doc = Object.assign({}, state.settings);
    let ok = true;
    const pct = $("percentage").value.trim();
    if (pct === "") delete doc.percentage;
    else if (!/^\d{1,3}(\.\d{1,2})?$/.test(pct) || Number(pct) > 100) {
      fieldError("/percentage", "Enter a number from 0 to 100 with at most two decimals, like 80 or 33.33.");
      ok = false;
    } else doc.percentage = Number(pct);
    const max = $("max-quantity").value.replace(/[\s,]/g, "");
    if (max === "") delete doc.max_quantity;
    else if (!/^\d{1,6}$/.test(max) || Number(max) < 1) {
      fieldError("/max_quantity", "Enter a whole number from 1 to 999,999.");
      ok = false;
    } else doc.max_quantity = Number(max);
    const all = $("map-all").value;
    if (all) doc.mappings = [{ location: "*", warehouse: all }];
    else {
      doc.mappings = [];
      for (const sel of document.querySelectorAll("select[data-location]")) {
        if (sel.value) doc.mappings.push({ location: sel.dataset.location, warehouse: sel.value });
      }
    }
    return ok ? doc : null;
  }

  function clearErrors() {
    for (const el of document.querySelectorAll("#rules-form .error")) el.textContent = "";
    for (const el of document.querySelectorAll("#rules-form [aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  // fieldError shows a message next to the field a JSON Pointer names;
  // one the form has no place for goes under the form.
  function fieldError(pointer, detail) {
    const p = pointer.replace(/^\/settings/, "");
    const top = "/" + (p.split("/")[1] || "");
    const el = document.querySelector('#rules-form .error[data-field="' + top + '"]');
    const target = el || $("form-error");
    target.textContent = (target.textContent ? target.textContent + " " : "") + detail;
    const input = el && document.querySelector('[aria-describedby~="' + el.id + '"]');
    if (input) input.setAttribute("aria-invalid", "true");
  }

  function showProblem(p, fallback) {
    if (p && Array.isArray(p.errors) && p.errors.length > 0) {
      for (const e of p.errors) fieldError(e.field || "", e.detail);
      return;
    }
    $("form-error").textContent = problemText(p, fallback);
  }

  async function save(ev) {
    ev.preventDefault();
    const doc = collect();
    if (!doc) return;
    const r = await api("PUT", "/v1/shops/" + encodeURIComponent(state.shop) + "/settings", doc, { "If-Match": '"' + state.version + '"' });
    if (r.status === 200 || r.status === 201) {
      showSettings(r.data);
      say("Saved: version " + r.data.version + ".");
      return;
    }
    if (r.status === 412) {
      $("form-error").textContent = "Someone else saved these settings since you loaded them. Your changes are not saved; reload the shop to see theirs.";
      return;
    }
    showProblem(r.data, "Saving failed (" + r.status + ").");
  }

  // Preview: the shop's imported catalog if it has one, else one sample
  // item with 100 units at each active location.
  async function preview() {
    const doc = collect();
    if (!doc) return;
    const base = "/v1/shops/" + encodeURIComponent(state.shop);
    const known = new Set(state.shopDoc.locations.map((l) => l.id));
    let items = [];
    const cat = await api("GET", base + "/sync/items?side=shopify&limit=100");
    if (cat.status === 200) {
      items = cat.data.items.map((v) => {
        const available = {};
        for (const [loc, n] of Object.entries(v.available || {})) if (known.has(loc)) available[loc] = n;
        return { id: v.variant_id, sku: v.sku, tracked: v.tracked, continue_selling: v.inventory_policy === "CONTINUE", available };
      });
    }
    let sample = false;
    if (items.length === 0) {
      sample = true;
      const available = {};
      for (const l of state.shopDoc.locations) if (l.active) available[l.id] = 100;
      items = [{ id: "sample item", available }];
    }
    const r = await api("POST", base + "/preview", { settings: doc, items });
    if (r.status !== 200) {
      showProblem(r.data, "The preview failed (" + r.status + ").");
      return;
    }
    showPreview(r.data, sample);
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function showPreview(p, sample) {
    const s = p.summary;
    $("preview-summary").textContent = (sample ? "For a sample item with 100 units at each active location: " : "Over " + s.items + " items of the shop: ")
      + s.changed + " would change" + (s.failed.proposed ? ", " + s.failed.proposed + " would fail" : "") + ".";
    const wh = Object.entries(s.warehouses).map(([id, d]) => {
      const tr = document.createElement("tr");
      tr.append(cell(id), cell(d.added ? "+" + d.added : "0", "num"), cell(d.removed ? "−" + d.removed : "0", "num"));
      return tr;
    });
    $("preview-warehouses").tBodies[0].replaceChildren(...wh);
    const changes = [];
    for (const it of p.items) {
      if (!it.changed) continue;
      const cur = it.current.quantities || {};
      const pro = it.proposed.quantities || {};
      for (const w of new Set([...Object.keys(cur), ...Object.keys(pro)])) {
        const a = cur[w], b = pro[w];
        if (a === b) continue;
        changes.push({ id: it.id, w, a, b, size: Math.abs((b || 0) - (a || 0)) });
      }
    }
    changes.sort((x, y) => y.size - x.size);
    const rows = changes.slice(0, 10).map((c) => {
      const tr = document.createElement("tr");
      tr.append(cell(c.id), cell(c.w), cell(c.a == null ? "—" : String(c.a), "num"), cell(c.b == null ? "—" : String(c.b), "num"));
      return tr;
    });
    $("preview-items").tBodies[0].replaceChildren(...rows);
    $("preview").hidden = false;
  }

  async function init() {
    $("sign-in-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", signOut);
    $("rules-form").addEventListener("submit", save);
    $("preview-button").addEventListener("click", preview);
    $("shop-select").addEventListener("change", (ev) => loadShop(ev.target.value));
    const r = await api("GET", "/v1/session");
    if (r.status === 200 && r.data.csrf_token) await started(r.data);
    else showSignIn("");
  }

  // The page's other scripts (loaded after this one) share these, and
  // follow the shop shown through the "syncrules:shop" event and sign-out
  // through "syncrules:signed-out".
  window.syncrules = Object.freeze({ api, say, problemText, cell, $, state });

  document.addEventListener("DOMContentLoaded", init);
})();
