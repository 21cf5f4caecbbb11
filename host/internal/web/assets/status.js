// The page's "Sync status": whether the shop is connected and publishing,
// what waits, the catalog's links and failures, and the controls (resync,
// pause, resume). A running run is followed live: its status is read every
// second until it ends, the shop changes or the session does. Everything
// says its state in words; colour only repeats it.
"use strict";

(function () {
  const { api, say, problemText, cell, $, state } = window.syncrules;
  const number = new Intl.NumberFormat("en");
  // fill puts rows in a table's body and labels each cell with its
  // column's heading, which the narrow layout shows before the cell.
  function fill(table, rows) {
    const heads = [...table.tHead.rows[0].cells].map((th) => th.textContent);
    for (const tr of rows) [...tr.cells].forEach((td, i) => { td.dataset.label = heads[i] || ""; });
    table.tBodies[0].replaceChildren(...rows);
  }

  const fmt = (n) => number.format(n);
  const count = (n, one, many) => fmt(n) + " " + (n === 1 ? one : many);
  // A running run is read every second; otherwise every 10 s while the
  // page is in view, which catches a run started elsewhere (a settings
  // save, another tab) and keeps "last published" fresh.
  const POLL_MS = 1000;
  const IDLE_POLL_MS = 10000;

  // generation changes with the shop and the session: an answer or a
  // timer of an older one is dropped.
  let generation = 0;
  let timer = 0;
  // lastRun is {id, state} of the run shown (null: none), to reload the
  // lists when one ends; undefined until the shop's first status.
  let lastRun;

  const base = () => "/v1/shops/" + encodeURIComponent(state.shop);

  function stop() {
    generation++;
    clearTimeout(timer);
    timer = 0;
    lastRun = undefined;
  }

  // age says how long ago t was, roughly: "12 s", "3 min".
  function age(t) {
    const secs = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
    if (secs < 60) return secs + " s";
    if (secs < 3600) return Math.round(secs / 60) + " min";
    if (secs < 172800) return Math.round(secs / 3600) + " h";
    return Math.round(secs / 86400) + " days";
  }

  function when(t) {
    if (!t) return "never";
    const secs = (Date.now() - new Date(t).getTime()) / 1000;
    return new Date(t).toLocaleString() + " (" + (secs < 5 ? "just now" : age(t) + " ago") + ")";
  }

  async function load(gen) {
    const r = await api("GET", base() + "/sync");
    if (gen !== generation) return;
    if (r.status !== 200) {
      $("sync-error").textContent = problemText(r.data, "The sync status could not be read (" + r.status + ").");
      if (r.status !== 401) timer = setTimeout(() => poll(gen), IDLE_POLL_MS);
      return;
    }
    show(r.data);
    const run = r.data.run;
    const running = run && run.state === "running";
    const ended = lastRun && lastRun.state === "running" && (!run || run.id !== lastRun.id || !running);
    if (lastRun === undefined || ended) loadLists(gen);
    lastRun = run ? { id: run.id, state: run.state } : null;
    timer = setTimeout(() => poll(gen), running ? POLL_MS : IDLE_POLL_MS);
  }

  function poll(gen) {
    if (gen !== generation) return;
    if (document.visibilityState === "hidden") timer = setTimeout(() => poll(gen), IDLE_POLL_MS);
    else load(gen);
  }

  function show(st) {
    $("sync-error").textContent = "";
    $("sync-connected").textContent = st.connected
      ? "Connected to Shopify and TikTok Shop."
      : "Not connected: connect the shop (POST /v1/shops/{shop}/sync/connect) to import its catalog.";
    const s = st.sync;
    const settings = st.settings.state === "broken"
      ? " Its settings no longer fit the shop's locations and warehouses: nothing is published until they are fixed."
      : st.settings.state === "none" ? " It has no settings yet: nothing is published until they are saved." : "";
    $("sync-paused").textContent = (s.paused
      ? "Paused: Shopify's changes are recorded and published when you resume."
      : "On: Shopify's changes are published to TikTok Shop.") + settings;
    $("sync-paused").dataset.state = s.paused ? "paused" : "on";
    $("pause-button").hidden = s.paused;
    $("resume-button").hidden = !s.paused;
    $("sync-last").textContent = s.last_published ? when(s.last_published) : "Nothing published yet.";
    $("sync-lag").textContent = s.oldest_pending
      ? age(s.oldest_pending) + " behind Shopify: the oldest change waiting arrived at " + new Date(s.oldest_pending).toLocaleString() + "."
      : "None: no change from Shopify waits" + (s.all_pending ? "; a republication is under way." : ".");
    $("sync-waiting").textContent = s.all_pending
      ? "Every item, being republished" + (s.pending_items ? ", and " + count(s.pending_items, "changed item", "changed items") : "") + "."
      : s.pending_items ? count(s.pending_items, "changed item", "changed items") + "." : "Nothing: TikTok Shop is up to date.";
    const c = st.catalog;
    $("sync-linked").textContent = c ? fmt(c.linked) : "—";
    $("sync-unmatched").textContent = c ? count(c.unmatched_variants, "variant", "variants") + ", " + count(c.unmatched_skus, "TikTok Shop SKU", "TikTok Shop SKUs") : "—";
    $("sync-conflicts").textContent = c ? count(c.conflicts, "seller SKU", "seller SKUs") + " on several variants or products" : "—";
    $("sync-failing").textContent = fmt(s.failing_skus);
    $("resync-button").disabled = !st.connected || (st.run != null && st.run.state === "running");
    showFailures(s.failures);
    showRun(st.run);
    $("sync").hidden = false;
  }

  const kinds = { connect: "Connect", resync: "Resync", settings: "Republishing after a settings change" };
  const phases = {
    locations: "reading locations and warehouses", shopify: "reading the Shopify catalog",
    tiktok: "reading the TikTok Shop SKUs", linking: "linking by seller SKU", publishing: "publishing", done: "done",
  };

  function showRun(run) {
    const box = $("run");
    if (!run) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const bar = $("run-progress");
    const kind = kinds[run.kind] || run.kind;
    $("run-label").textContent = kind;
    const pct = run.total > 0 ? Math.floor((run.done * 100) / run.total) : 0;
    let text;
    if (run.state === "running") {
      if (run.total > 0) {
        bar.max = run.total;
        bar.value = run.done;
        text = kind + ": " + phases[run.phase] + ", " + fmt(run.done) + " of " + fmt(run.total) + " (" + pct + "%).";
      } else {
        bar.removeAttribute("value"); // indeterminate until the total is known
        text = kind + ": " + phases[run.phase] + "…";
      }
    } else if (run.state === "succeeded") {
      bar.max = Math.max(run.total, 1);
      bar.value = bar.max;
      text = kind + " finished " + when(run.finished) + ": " + fmt(run.done) + " of " + fmt(run.total) + " (100%).";
    } else {
      bar.max = Math.max(run.total, 1);
      bar.value = run.done;
      text = kind + (run.state === "failed" ? " failed" : " was interrupted") + " at " + fmt(run.done) + " of " + fmt(run.total)
        + " (" + pct + "%)" + (run.error ? ": " + run.error : ".");
    }
    bar.setAttribute("aria-valuetext", text);
    $("run-text").textContent = text;
    $("run-text").dataset.state = run.state;
  }

  function showFailures(failures) {
    const rows = failures.map((f) => {
      const tr = document.createElement("tr");
      tr.append(cell(f.sku_id), cell(f.code), cell(f.message), cell(new Date(f.time).toLocaleString()));
      return tr;
    });
    fill($("sync-failures"), rows);
    $("sync-failures").hidden = rows.length === 0;
  }

  // loadLists shows the first unmatched and conflicting variants with why.
  async function loadLists(gen) {
    const [un, co] = await Promise.all([
      api("GET", base() + "/sync/items?status=unmatched&limit=10"),
      api("GET", base() + "/sync/items?status=conflict&limit=10"),
    ]);
    if (gen !== generation) return;
    const rows = [];
    for (const [r, what] of [[un, "Unmatched"], [co, "Conflict"]]) {
      if (r.status !== 200) continue;
      for (const v of r.data.items) {
        const tr = document.createElement("tr");
        tr.append(cell(v.sku || "(no SKU)"), cell(v.variant_id.slice(v.variant_id.lastIndexOf("/") + 1)), cell(what), cell(v.link.reason || ""));
        rows.push(tr);
      }
    }
    fill($("sync-unlinked"), rows);
    $("sync-unlinked").hidden = rows.length === 0;
  }

  const done = {
    resync: "Resync started: its progress is under Sync status.",
    pause: "Publishing paused.",
    resume: "Publishing resumed: what was recorded meanwhile is published now.",
  };

  async function control(action, focusAfter) {
    const gen = generation;
    $("sync-error").textContent = "";
    const r = await api("POST", base() + "/sync/" + action);
    if (gen !== generation) return;
    if (r.status !== 200 && r.status !== 202) {
      $("sync-error").textContent = problemText(r.data, "That did not work (" + r.status + ").");
      return;
    }
    say(done[action]);
    stop(); // one poll at a time: a new generation drops the old poll
    await load(generation);
    if (focusAfter && !$(focusAfter).hidden) $(focusAfter).focus();
  }

  document.addEventListener("syncrules:shop", () => {
    stop();
    $("sync-error").textContent = "";
    load(generation);
  });
  document.addEventListener("syncrules:signed-out", () => {
    stop();
    $("sync").hidden = true;
  });
  document.addEventListener("DOMContentLoaded", () => {
    $("resync-button").addEventListener("click", () => control("resync"));
    $("pause-button").addEventListener("click", () => control("pause", "resume-button"));
    $("resume-button").addEventListener("click", () => control("resume", "pause-button"));
    $("refresh-button").addEventListener("click", () => {
      stop();
      load(generation);
    });
  });
})();
