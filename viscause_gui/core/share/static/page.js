"use strict";
// The answer page: one image at a time, Yes / No / ? (or digits), undo, a count of what is left.
// Over K > 2 outcomes (hello names them, each with its key) one button per outcome, and ?; the answer
// sent is the outcome's index.
// The join token is the path's second part; the annotator's secret stays in this browser
// (localStorage), so a reload goes on with the same image. A random device id, kept in this
// browser for every share, goes with each hello: the share gives one annotator per device, so
// a page that lost its secret is still the same person. Nothing from the server is put into
// the page as HTML: only textContent and an image data URL.
(function () {
  const token = location.pathname.split("/")[2] || "";
  const api = "/j/" + token + "/api/";
  const store = "viscause-annotator-" + token.slice(0, 12);
  const $ = (id) => document.getElementById(id);
  let me = null, current = null, busy = false, digits = false, timer = null, keys = null;

  function load(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }   // storage blocked
  }
  function keep(key, value) {
    try { if (value === null) { localStorage.removeItem(key); } else { localStorage.setItem(key, value); } }
    catch (e) { /* storage blocked: kept for this page only */ }
  }
  function deviceId() {
    let id = load("viscause-device");
    if (typeof id !== "string" || !/^[0-9a-f]{32}$/.test(id)) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      keep("viscause-device", id);
    }
    return id;
  }
  const device = deviceId();

  async function call(name, body) {
    const r = await fetch(api + name, {method: "POST", headers: {"Content-Type": "application/json"},
                                       body: JSON.stringify(body), cache: "no-store"});
    let data = {};
    try { data = await r.json(); } catch (e) { data = {}; }
    const wait = Number(r.headers.get("Retry-After"));
    return {status: r.status, ok: r.ok, data: data, wait: Number.isFinite(wait) && wait > 0 ? Math.min(wait, 120) : 2};
  }

  function say(text) { $("status").textContent = text || ""; }
  function enable(on) {
    document.querySelectorAll("button.big, button.digit, button.outcome").forEach((b) => { b.disabled = !on; });
  }

  function show(item) {
    const count = "left: " + item.left + " · your answers: " + item.mine;
    $("count").textContent = count;
    if (item.wait) {
      current = null;
      $("image").hidden = true;
      $("image").removeAttribute("src");
      $("wait").hidden = false;
      enable(false);
      clearTimeout(timer);
      timer = setTimeout(next, 1500);
      return;
    }
    current = {batch: item.batch, index: item.index};
    if (typeof item.image === "string" && item.image.startsWith("data:image/png;base64,")) {
      $("image").src = item.image;
    }
    $("image").hidden = false;
    $("wait").hidden = true;
    enable(true);
  }

  async function next() {
    clearTimeout(timer);
    try {
      const r = await call("next", {annotator: me});
      if (r.ok) { say(""); show(r.data); }
      else if (r.status === 403) { keep(store, null); await hello(); }
      else { say(r.data.error || "Could not get an image."); timer = setTimeout(next, 2000); }
    } catch (e) {
      say("No connection to the app; trying again…");
      timer = setTimeout(next, 2000);
    }
  }

  async function answer(value) {
    if (busy || current === null) { return; }
    busy = true;
    enable(false);
    try {
      const r = await call("answer", {annotator: me, batch: current.batch, index: current.index, answer: value});
      if (r.ok || r.status === 409) { say(r.ok ? "Saved." : (r.data.error || "")); await next(); }
      else { say(r.data.error || "Not saved; try again."); enable(true); }
    } catch (e) {
      say("Not saved (no connection); try again.");
      enable(true);
    } finally {
      busy = false;
    }
  }

  async function undo() {
    if (busy) { return; }
    busy = true;
    try {
      const r = await call("undo", {annotator: me});
      say(r.ok ? "Undone: answer this image again." : (r.data.error || "Could not undo."));
      if (r.ok) { await next(); }
    } catch (e) {
      say("No connection to the app.");
    } finally {
      busy = false;
    }
  }

  function makeDigits() {
    const box = $("digits");
    while (box.firstChild) { box.removeChild(box.firstChild); }
    for (let d = 0; d <= 9; d++) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "digit";
      b.textContent = String(d);
      b.addEventListener("click", () => answer(d));
      box.appendChild(b);
    }
    box.hidden = false;
  }

  function makeOutcomes(outcomes) {
    const box = $("outcomes");
    while (box.firstChild) { box.removeChild(box.firstChild); }
    keys = [];
    outcomes.forEach((o, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "outcome";
      b.textContent = String(o.name);
      const k = document.createElement("kbd");
      k.textContent = String(o.key);
      b.appendChild(k);
      b.addEventListener("click", () => answer(i));
      box.appendChild(b);
      keys.push(String(o.key).toLowerCase());
    });
    box.hidden = false;
    $("yes").hidden = true;
    $("no").hidden = true;
    $("answers").classList.add("only-unknown");
    enable(current !== null);
  }

  async function hello() {
    try {
      const r = await call("hello", {annotator: load(store), device: device});
      if (r.status === 429 || r.status === 503) {          // many people joining: wait, then again
        say((r.data.error || "Busy.") + " Trying again in " + Math.ceil(r.wait) + " s…");
        clearTimeout(timer);
        timer = setTimeout(hello, 1000 * r.wait + Math.floor(Math.random() * 1000));
        return;
      }
      if (!r.ok) { say(r.data.error || "Could not join."); return; }
      say("");
      me = r.data.annotator;
      keep(store, me);
      $("name").textContent = String(r.data.name);
      $("question").textContent = String(r.data.question);
      digits = r.data.digits === true;
      if (Array.isArray(r.data.outcomes)) { makeOutcomes(r.data.outcomes); }
      else if (digits) { makeDigits(); }
      await next();
    } catch (e) {
      say("No connection to the app; trying again…");
      timer = setTimeout(hello, 2000);
    }
  }

  $("yes").addEventListener("click", () => answer("yes"));
  $("no").addEventListener("click", () => answer("no"));
  $("unknown").addEventListener("click", () => answer("?"));
  $("undo").addEventListener("click", undo);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey) { return; }
    const k = event.key;
    if (keys !== null) {
      const i = keys.indexOf(k.toLowerCase());
      if (k === "?") { answer("?"); }
      else if (k === "Backspace") { event.preventDefault(); undo(); }
      else if (k.length === 1 && i >= 0) { answer(i); }
      else { return; }
      event.preventDefault();
      return;
    }
    if (k === "y" || k === "Y") { answer("yes"); }
    else if (k === "n" || k === "N") { answer("no"); }
    else if (k === "?") { answer("?"); }
    else if (k === "Backspace") { event.preventDefault(); undo(); }
    else if (digits && /^[0-9]$/.test(k)) { answer(Number(k)); }
    else if (!digits && (k === "1" || k === "0")) { answer(k === "1" ? "yes" : "no"); }
    else { return; }
    event.preventDefault();
  });
  enable(false);
  hello();
})();
