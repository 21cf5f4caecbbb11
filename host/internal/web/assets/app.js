// The merchant's page. Plain script, no framework: it signs in with a
// token (traded at once for an HttpOnly session cookie; the token is never
// kept), then reads and writes the shop's settings through the public /v1
// API, sending the session's CSRF token with every change. Text goes into
// the page with textContent only, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { csrf: "", session: null, shop: "", shopDoc: null, version: 0, settings: {} };
  // formBase is the settings document the form was filled from: collect
  // keeps its members the form does not edit.
  let formBase = {};

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
    plugins = null;
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
    if (session.admin) $("who").textContent = "Signed in as administrator";
    else $("who").replaceChildren("Signed in with ", tokenID(session.principal));
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
    const [shop, settings] = await Promise.all([api("GET", base), api("GET", base + "/settings"), loadPlugins()]);
    if (state.shop !== id) return; // another shop was chosen meanwhile
    if (shop.status !== 200 || settings.status !== 200) {
      say(problemText(shop.status !== 200 ? shop.data : settings.data, "The shop could not be read."));
      return;
    }
    state.shopDoc = shop.data;
    showSettings(settings.data);
    $("rules").hidden = false;
    say("");
    loadHistory(false);
    document.dispatchEvent(new CustomEvent("syncrules:shop", { detail: { shop: id, shopDoc: shop.data } }));
  }

  // showSettings shows the shop's current settings, the version a save
  // replaces (If-Match).
  function showSettings(v) {
    state.version = v.version;
    state.settings = v.settings || {};
    if (v.version === 0) $("version").textContent = "No settings saved yet: the defaults apply.";
    else $("version").replaceChildren("Version " + v.version + ", saved ", timeOf(v.created), " by ", tokenID(v.token), ".");
    fillForm(state.settings);
  }

  // fillForm puts a settings document in the form: the current one, or a
  // version of the history being restored.
  function fillForm(s) {
    formBase = s;
    $("percentage").value = s.percentage == null ? "" : String(s.percentage);
    $("max-quantity").value = s.max_quantity == null ? "" : String(s.max_quantity);
    renderMapping(s.mappings || []);
    rules = (s.rules || []).map((r) => ({
      plugin: r.plugin, version: r.version, onErrorSent: r.on_error,
      onError: r.on_error === "skip" ? "skip" : "fail",
      params: r.params == null ? "" : JSON.stringify(r.params),
    }));
    renderRules();
  }

  // tokenID and timeOf mark what differs from one run to the next (the
  // browser tests' screenshots give them fixed labels).
  function tokenID(id) {
    const c = document.createElement("code");
    c.className = "token-id";
    c.textContent = id;
    return c;
  }

  function timeOf(iso) {
    const t = document.createElement("time");
    t.dateTime = iso;
    t.textContent = new Date(iso).toLocaleString();
    return t;
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
  // this page does not edit, or returns null after showing the field
  // errors found before asking the server.
  function collect() {
    clearErrors();
    const doc = Object.assign({}, formBase);
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
    readRules();
    const list = [];
    rules.forEach((r, i) => {
      const rule = { plugin: r.plugin, version: r.version };
      if (r.params.trim() !== "") {
        try {
          rule.params = JSON.parse(r.params);
        } catch (e) {
          fieldError("/rules/" + i + "/params", "The parameters are not valid JSON (" + e.message + "): write an object like {\"units\": 2}, or leave the field empty for none.");
          ok = false;
        }
      }
      // A "fail" the stored rule left out (the default) stays left out.
      if (r.onError === "skip" || r.onErrorSent != null) rule.on_error = r.onError;
      list.push(rule);
    });
    if (list.length > 0) doc.rules = list;
    else delete doc.rules;
    return ok ? doc : null;
  }

  function clearErrors() {
    for (const el of document.querySelectorAll("#rules-form .error")) el.textContent = "";
    for (const el of document.querySelectorAll("#rules-form [aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  // fieldError shows a message next to the field a JSON Pointer names (or
  // the closest enclosing one: /rules/1/params/x goes to rule 2's
  // parameters); one the form has no place for goes under the form.
  function fieldError(pointer, detail) {
    const places = new Map([...document.querySelectorAll("#rules-form .error[data-field]")].map((e) => [e.dataset.field, e]));
    let el = null;
    for (let p = pointer.replace(/^\/settings(?=\/|$)/, ""); p !== "" && !el; p = p.slice(0, p.lastIndexOf("/"))) el = places.get(p) || null;
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
      $("preview").hidden = true; // it compared the settings replaced
      loadHistory(false);
      return;
    }
    if (r.status === 412) {
      $("form-error").textContent = "Someone else saved these settings since you loaded them. Your changes are not saved; reload the shop to see theirs.";
      return;
    }
    showProblem(r.data, "Saving failed (" + r.status + ").");
  }

  // Preview: the shop's whole imported catalog, computed by the server
  // (POST .../preview without items); a shop with no catalog yet (not
  // connected) gets one sample item with 100 units at each active
  // location.
  async function preview() {
    const doc = collect();
    if (!doc) return false;
    const base = "/v1/shops/" + encodeURIComponent(state.shop);
    let r = await api("POST", base + "/preview", { settings: doc });
    let sample = false;
    if (r.status === 200 && r.data.summary.items === 0) {
      sample = true;
      const available = {};
      for (const l of state.shopDoc.locations) if (l.active) available[l.id] = 100;
      r = await api("POST", base + "/preview", { settings: doc, items: [{ id: "sample item", available }] });
    }
    if (r.status !== 200) {
      showProblem(r.data, "The preview failed (" + r.status + ").");
      return false;
    }
    showPreview(r.data, sample);
    return true;
  }

  // Custom rules: installed plugins run after the default rule, in the
  // order of the list. rules holds the form's list; readRules brings it
  // up to date with what the merchant typed before it is redrawn.

  let plugins = null; // plugin name -> its versions, oldest first; per session
  let rules = [];

  async function loadPlugins() {
    if (plugins) return;
    const found = new Map();
    let cursor = "";
    do {
      const r = await api("GET", "/v1/plugins?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      if (r.status !== 200) break;
      for (const p of r.data.plugins) found.set(p.name, p.versions.map((v) => v.version));
      cursor = r.data.next || "";
    } while (cursor);
    plugins = found;
    const names = [...found.keys()];
    const select = $("add-plugin");
    select.replaceChildren(...names.map((n) => new Option(n, n)));
    select.disabled = $("add-rule").disabled = names.length === 0;
    if (names.length === 0) select.replaceChildren(new Option("No plugin is installed", ""));
  }

  // addRule appends a rule of the chosen plugin at its newest version,
  // read afresh (GET /v1/plugins/{name}).
  async function addRule() {
    const name = $("add-plugin").value;
    if (!name) return;
    const r = await api("GET", "/v1/plugins/" + encodeURIComponent(name));
    if (r.status !== 200) {
      $("rules-error").textContent = problemText(r.data, "The plugin " + name + " could not be read (" + r.status + ").");
      return;
    }
    const versions = r.data.versions.map((v) => v.version);
    plugins.set(name, versions);
    readRules();
    rules.push({ plugin: name, version: versions[versions.length - 1], params: "", onError: "fail", onErrorSent: "fail" });
    renderRules();
    $("rule-" + (rules.length - 1) + "-params").focus();
  }

  function readRules() {
    rules.forEach((r, i) => {
      const version = $("rule-" + i + "-version");
      if (!version) return;
      r.version = version.value;
      r.params = $("rule-" + i + "-params").value;
      r.onError = $("rule-" + i + "-skip").checked ? "skip" : "fail";
    });
  }

  // moveRule moves rule i by step (-1 up, +1 down, 0 removes it). The
  // keyboard focus follows the rule moved, on the button pressed unless
  // the rule reached the end it moved to (then the other move button);
  // after a removal it goes to the rule now in its place.
  function moveRule(i, step) {
    readRules();
    if (step === 0) rules.splice(i, 1);
    else [rules[i], rules[i + step]] = [rules[i + step], rules[i]];
    renderRules();
    const at = step === 0 ? Math.min(i, rules.length - 1) : i + step;
    if (at < 0) {
      $("add-plugin").focus();
      return;
    }
    const order = step === 0 ? ["remove"] : step < 0 ? ["up", "down", "remove"] : ["down", "up", "remove"];
    const button = order.map((b) => $("rule-" + at + "-" + b)).find((b) => !b.disabled);
    button.focus();
  }

  function errorLine(id, field) {
    const p = document.createElement("p");
    p.id = id;
    p.className = "error";
    p.dataset.field = field;
    return p;
  }

  function labelFor(id, text, cls) {
    const l = document.createElement("label");
    l.htmlFor = id;
    l.textContent = text;
    if (cls) l.className = cls;
    return l;
  }

  function renderRules() {
    const list = rules.map((r, i) => {
      const id = "rule-" + i;
      const li = document.createElement("li");
      li.className = "rule";
      const title = document.createElement("h3");
      title.id = id + "-title";
      title.textContent = "Rule " + (i + 1) + ": " + r.plugin;
      li.setAttribute("aria-labelledby", title.id);

      const version = document.createElement("select");
      version.id = id + "-version";
      const known = (plugins && plugins.get(r.plugin)) || [];
      const options = known.map((v) => new Option(v, v));
      if (!known.includes(r.version)) options.push(new Option(r.version + " — not installed", r.version));
      version.replaceChildren(...options);
      version.value = r.version;
      version.setAttribute("aria-describedby", id + "-version-error");

      const params = document.createElement("textarea");
      params.id = id + "-params";
      params.rows = 2;
      params.spellcheck = false;
      params.value = r.params;
      params.setAttribute("aria-describedby", id + "-params-help " + id + "-params-error");
      const help = document.createElement("p");
      help.id = id + "-params-help";
      help.className = "help";
      help.textContent = "The plugin does not describe its parameters to this page: write them as JSON, as its documentation says (for example {\"units\": 2}). Empty means none.";

      const onError = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = "If the rule fails for an item";
      onError.append(legend);
      for (const [value, text] of [["fail", "Fail the item: publish nothing new for it (safest)"], ["skip", "Skip the rule for it: keep the quantity from before this rule"]]) {
        const radio = document.createElement("input");
        radio.type = "radio";
        radio.name = id + "-on-error";
        radio.id = id + "-" + value;
        radio.value = value;
        radio.checked = r.onError === value;
        const l = labelFor(radio.id, "");
        l.append(radio, text);
        onError.append(l);
      }
      onError.setAttribute("aria-describedby", id + "-on-error-error");

      const actions = document.createElement("div");
      actions.className = "rule-actions";
      for (const [name, text, step, off] of [["up", "Move up", -1, i === 0], ["down", "Move down", 1, i === rules.length - 1], ["remove", "Remove", 0, false]]) {
        const b = document.createElement("button");
        b.type = "button";
        b.id = id + "-" + name;
        b.textContent = text;
        b.disabled = off;
        b.setAttribute("aria-label", text + ": rule " + (i + 1) + ", " + r.plugin);
        b.addEventListener("click", () => moveRule(i, step));
        actions.append(b);
      }

      li.append(title, errorLine(id + "-error", "/rules/" + i),
        labelFor(version.id, "Version"), version, errorLine(id + "-version-error", "/rules/" + i + "/version"),
        labelFor(params.id, "Parameters"), help, params, errorLine(id + "-params-error", "/rules/" + i + "/params"),
        onError, errorLine(id + "-on-error-error", "/rules/" + i + "/on_error"), actions);
      return li;
    });
    $("rule-list").replaceChildren(...list);
    $("no-rules").hidden = rules.length > 0;
  }

  // History: the shop's settings versions, newest first, each with what
  // changed from the one before it (version 1: from the defaults).

  let history = { shop: "", list: [], next: "" };

  async function loadHistory(more) {
    const id = state.shop;
    if (!more) {
      history = { shop: id, list: [], next: "" };
      $("history-list").replaceChildren();
      $("history-more").hidden = true;
    }
    const cursor = more ? "&cursor=" + encodeURIComponent(history.next) : "";
    const r = await api("GET", "/v1/shops/" + encodeURIComponent(id) + "/settings/history?limit=20" + cursor);
    if (history.shop !== id || state.shop !== id) return; // another shop was chosen meanwhile
    if (r.status !== 200) {
      $("history-error").textContent = problemText(r.data, "The history could not be read (" + r.status + ").");
      return;
    }
    $("history-error").textContent = "";
    history.list.push(...r.data.history);
    history.next = r.data.next || "";
    renderHistory();
  }

  function renderHistory() {
    // The oldest version read is held back while an older one exists: its
    // change is told against that one.
    const shown = history.next ? history.list.slice(0, -1) : history.list;
    const items = shown.map((v, i) => {
      const li = document.createElement("li");
      const head = document.createElement("p");
      head.className = "change";
      const name = document.createElement("strong");
      name.textContent = "Version " + v.version;
      head.append(name, ", saved ", timeOf(v.created), " by ", tokenID(v.token));
      if (v.version === state.version) {
        const cur = document.createElement("span");
        cur.className = "current";
        cur.textContent = " (current)";
        head.append(cur);
      }
      const what = document.createElement("p");
      what.className = "change";
      const before = history.list[i + 1];
      what.textContent = "What changed: " + describeChange(before ? before.settings : {}, v.settings) + ".";
      li.append(head, what);
      if (v.version !== state.version) {
        const b = document.createElement("button");
        b.type = "button";
        b.id = "restore-" + v.version;
        b.textContent = "Restore this version";
        b.setAttribute("aria-label", "Restore this version: version " + v.version);
        b.addEventListener("click", () => restore(v));
        li.append(b);
      }
      return li;
    });
    if (items.length === 0) {
      const li = document.createElement("li");
      li.textContent = "No version saved yet.";
      items.push(li);
    }
    $("history-list").replaceChildren(...items);
    $("history-more").hidden = !history.next;
  }

  // restore puts an older version in the form and previews it; saving it
  // then makes it the newest version (If-Match the current one).
  async function restore(v) {
    clearErrors();
    fillForm(v.settings || {});
    say("Version " + v.version + " is in the form: check what it would change, then save it to make it the current settings.");
    if (await preview()) $("preview-title").scrollIntoView({ block: "nearest" });
    $("percentage").focus({ preventScroll: true });
  }

  // describeChange says in words what differs between two settings
  // documents, e.g. "percentage 100 → 80; mapping A → beta added".
  function describeChange(a, b) {
    const out = [];
    const pct = (s) => (s.percentage == null ? "100" : String(s.percentage));
    const max = (s) => (s.max_quantity == null ? 999999 : s.max_quantity).toLocaleString("en-US");
    if (pct(a) !== pct(b)) out.push("percentage " + pct(a) + " → " + pct(b));
    if (max(a) !== max(b)) out.push("maximum " + max(a) + " → " + max(b));
    const place = (loc) => (loc === "*" ? "all active locations" : loc);
    const maps = (s) => new Map((s.mappings || []).map((m) => [m.location, m.warehouse]));
    const ma = maps(a), mb = maps(b);
    for (const [loc, w] of mb) {
      if (!ma.has(loc)) out.push("mapping " + place(loc) + " → " + w + " added");
      else if (ma.get(loc) !== w) out.push("mapping " + place(loc) + " → " + ma.get(loc) + " changed to " + w);
    }
    for (const [loc, w] of ma) if (!mb.has(loc)) out.push("mapping " + place(loc) + " → " + w + " removed");
    const name = (r) => r.plugin + " " + r.version;
    const ra = a.rules || [], rb = b.rules || [];
    const na = ra.map(name), nb = rb.map(name);
    for (const n of nb) if (!na.includes(n)) out.push("rule " + n + " added");
    for (const n of na) if (!nb.includes(n)) out.push("rule " + n + " removed");
    const common = nb.filter((n) => na.includes(n));
    if (common.join("\n") !== na.filter((n) => nb.includes(n)).join("\n")) out.push("rules reordered");
    for (const r of rb) {
      const old = ra.find((x) => name(x) === name(r));
      if (!old) continue;
      if (JSON.stringify(old.params ?? null) !== JSON.stringify(r.params ?? null)) {
        out.push("rule " + name(r) + " parameters " + JSON.stringify(old.params ?? null) + " → " + JSON.stringify(r.params ?? null));
      }
      if ((old.on_error || "fail") !== (r.on_error || "fail")) out.push("rule " + name(r) + " on failure " + (old.on_error || "fail") + " → " + (r.on_error || "fail"));
    }
    return out.length ? out.join("; ") : "nothing (saved again as it was)";
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function showPreview(p, sample) {
    const s = p.summary;
    $("preview-summary").textContent = (sample ? "For a sample item with 100 units at each active location: " : "Over all " + s.items + " items of the shop's catalog: ")
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
        changes.push({ id: it.sku || it.id, w, a, b, size: Math.abs((b || 0) - (a || 0)) });
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
    $("add-rule").addEventListener("click", addRule);
    $("history-more").addEventListener("click", () => loadHistory(true));
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
