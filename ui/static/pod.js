/* Podium pod client: a session without cookies, and live updates.
 *
 * The pod token lives only in this closure: never in a cookie (a PSA's iframe is on
 * another site, where browsers drop them), never in localStorage (readable by any script
 * on the origin, and kept after the tab closes). It is sent as "Authorization: Pod <token>"
 * and refreshed before it expires.
 *
 * Getting a token:
 *  - vendor handshake (data-handshake="vendor"): the vendor's script, registered with
 *    PodiumPod.registerHandshake, talks to the parent window — only to the allowed
 *    parent origins — and Podium verifies what it got with the vendor;
 *  - sign-in popup (data-handshake="signin"): a top-level popup signs in to Podium and
 *    posts back a one-use code, which is only redeemable with the verifier this page made.
 *
 * Live: an EventSource opened with a one-use ticket; any event re-fetches the body. When
 * no stream can be held (streams off, a proxy that buffers, repeated failures) the pod
 * polls its body instead; an unchanged body costs a 304.
 */
(function () {
  "use strict";

  var root = document.getElementById("pod");
  if (!root) { return; }
  var cfg = root.dataset;
  var statusEl = document.getElementById("pod-status");
  var bodyEl = document.getElementById("pod-body");
  var signinBox = document.getElementById("pod-signin");
  var signinReason = document.getElementById("pod-signin-reason");
  var signinButton = document.getElementById("pod-signin-button");
  var parentOrigins = (cfg.parentOrigins || "").split(" ").filter(Boolean);
  var MAX_STREAM_FAILURES = 3;

  var token = null;
  var refreshTimer = null;
  var etag = null;
  var stream = null;
  var pollTimer = null;
  var streamFailures = 0;
  var loading = null;
  var reloadAgain = false;
  var vendorHandshake = null;
  var focusAfterLoad = false;

  function setState(state, reason) {
    root.dataset.state = state;
    if (reason) { root.dataset.reason = reason; } else { delete root.dataset.reason; }
  }

  function setStatus(text) { statusEl.textContent = text; }

  function authHeaders(extra) {
    var headers = extra || {};
    headers.Authorization = "Pod " + token;
    return headers;
  }

  function postJSON(url, body, withToken) {
    var headers = { "Content-Type": "application/json" };
    return fetch(url, {
      method: "POST",
      headers: withToken ? authHeaders(headers) : headers,
      body: JSON.stringify(body || {}),
      cache: "no-store",
    });
  }

  async function errorInfo(response) {
    try {
      var info = await response.json();
      var reasons = (info.errors && info.errors.session) || [];
      return { message: info.message, reason: reasons[0] || String(response.status) };
    } catch (e) {
      return { message: "Podium refused the request (HTTP " + response.status + ").", reason: String(response.status) };
    }
  }

  /* -- the token ------------------------------------------------------------------ */

  function accept(issued) {
    token = issued.token;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, Math.max(5, issued.expires_in * 0.8) * 1000);
  }

  function forget() {
    token = null;
    clearTimeout(refreshTimer);
    stopLive();
  }

  async function refresh() {
    var response = await postJSON(cfg.refreshUrl, null, true);
    if (response.ok) { accept(await response.json()); } else { await refused(response); }
  }

  /* A refusal is shown as it is: the pod never pretends to have data it was denied. */
  async function refused(response) {
    var info = await errorInfo(response);
    setState("refused", info.reason);
    if (response.status === 401) {
      forget();
      if (cfg.handshake === "vendor" && info.reason === "expired") { start(); return; }
      offerSignin(info.message);
      return;
    }
    bodyEl.innerHTML = "";
    var p = document.createElement("p");
    p.className = "refusal";
    p.setAttribute("role", "alert");
    p.textContent = info.message;
    bodyEl.appendChild(p);
    bodyEl.setAttribute("aria-busy", "false");
    setStatus("Refused");
  }

  /* -- the body ------------------------------------------------------------------- */

  async function fetchBody() {
    var headers = authHeaders({});
    if (etag) { headers["If-None-Match"] = etag; }
    var response = await fetch(cfg.bodyUrl, { headers: headers, cache: "no-store" });
    if (response.status === 304) { return; }
    if (!response.ok) { await refused(response); return; }
    etag = response.headers.get("ETag");
    bodyEl.innerHTML = await response.text(); /* rendered and escaped by the server */
    bodyEl.setAttribute("aria-busy", "false");
    setState("ready");
    setStatus("Updated " + new Date().toLocaleTimeString());
    if (focusAfterLoad) {
      /* After moving within the pod, put keyboard and screen-reader focus on the new view's heading. */
      focusAfterLoad = false;
      var heading = bodyEl.querySelector("h2[tabindex]");
      if (heading) { heading.focus(); }
    }
  }

  /* In-pod navigation (a drill-down and back): a link marked data-pod-nav that points at
   * this pod's own body route becomes the body URL, fetched with the token like any body
   * (and checked by the server like any body); live updates then refresh that view. */
  bodyEl.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-pod-nav]") : null;
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) { return; }
    var target = new URL(link.href, window.location.href);
    var current = new URL(cfg.bodyUrl, window.location.href);
    if (target.origin !== current.origin || target.pathname !== current.pathname) { return; }
    event.preventDefault();
    cfg.bodyUrl = target.pathname + target.search;
    etag = null;
    focusAfterLoad = true;
    reload();
  });

  /* Re-fetch, coalescing bursts of events into at most one request in flight and one queued. */
  function reload() {
    if (!token) { return Promise.resolve(); }
    if (loading) { reloadAgain = true; return loading; }
    loading = fetchBody().finally(function () {
      loading = null;
      if (reloadAgain) { reloadAgain = false; reload(); }
    });
    return loading;
  }

  /* -- live: a stream, else polling ------------------------------------------------ */

  function stopLive() {
    if (stream) { stream.close(); stream = null; }
    clearInterval(pollTimer);
    pollTimer = null;
    delete root.dataset.live;
  }

  function startPolling() {
    if (pollTimer || !token) { return; }
    root.dataset.live = "polling";
    pollTimer = setInterval(reload, Number(cfg.pollSeconds) * 1000);
  }

  function streamFailed() {
    streamFailures += 1;
    if (streamFailures >= MAX_STREAM_FAILURES) { startPolling(); return; }
    setTimeout(startLive, Number(cfg.retryMs) * streamFailures);
  }

  async function startLive() {
    if (!token || stream || pollTimer) { return; }
    if (cfg.sse !== "on" || !("EventSource" in window)) { startPolling(); return; }
    var response;
    try {
      response = await postJSON(cfg.ticketUrl, null, true);
    } catch (e) {
      streamFailed();
      return;
    }
    if (response.status === 401) { await refused(response); return; }
    if (!response.ok) { streamFailed(); return; }
    var ticket = (await response.json()).ticket;
    var source = new EventSource(cfg.streamUrl + "?ticket=" + encodeURIComponent(ticket));
    var opened = false;
    stream = source;
    source.onopen = function () {
      opened = true;
      streamFailures = 0;
      root.dataset.live = "stream";
      reload(); /* catch up on anything that changed while no stream was open */
    };
    source.addEventListener("records", reload);
    source.addEventListener("metrics", reload);
    /* A ticket works once, so the browser's own reconnect (same URL) would be refused:
     * close, and open a new stream with a new ticket. */
    source.onerror = function () {
      source.close();
      if (stream === source) { stream = null; }
      delete root.dataset.live;
      if (!token) { return; }
      if (opened) { setTimeout(startLive, Number(cfg.retryMs)); } else { streamFailed(); }
    };
  }

  async function begin(response) {
    if (!response.ok) { await refused(response); return; }
    accept(await response.json());
    signinBox.hidden = true;
    etag = null;
    await reload();
    if (token) { startLive(); }
  }

  /* -- sign-in popup --------------------------------------------------------------- */

  function randomVerifier() {
    var bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    return base64url(bytes);
  }

  function base64url(bytes) {
    var text = "";
    for (var i = 0; i < bytes.length; i += 1) { text += String.fromCharCode(bytes[i]); }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function s256(verifier) {
    var digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    return base64url(new Uint8Array(digest));
  }

  function offerSignin(reason) {
    signinReason.textContent = reason || "Sign in to see your figures.";
    signinBox.hidden = false;
    setStatus("Not signed in");
    if (root.dataset.state !== "refused") { setState("signin"); }
  }

  async function signInWithPopup() {
    var verifier = randomVerifier();
    var url = cfg.signinUrl + "?pod=" + (await s256(verifier));
    if (cfg.ref) { url += "&c=" + encodeURIComponent(cfg.ref); }
    var popup = window.open(url, "podium-signin", "popup,width=480,height=640");
    if (!popup) {
      offerSignin("Your browser blocked the sign-in window; allow pop-ups for this site and try again.");
      return;
    }
    setStatus("Waiting for sign-in…");
    var code = await new Promise(function (resolve) {
      function onMessage(event) {
        /* Only our own popup, on Podium's own origin, may hand us a code. */
        if (event.origin !== window.location.origin || event.source !== popup) { return; }
        if (!event.data || event.data.type !== "podium:signin-code") { return; }
        window.removeEventListener("message", onMessage);
        resolve(event.data.code);
      }
      window.addEventListener("message", onMessage);
    });
    await begin(await postJSON(cfg.codeUrl, { code: code, verifier: verifier }));
  }

  signinButton.addEventListener("click", function () { signInWithPopup(); });

  /* -- vendor handshake ------------------------------------------------------------ */

  /* The parent window as a vendor script sees it: it can only talk to an allowed origin. */
  function parentChannel() {
    var ancestors = window.location.ancestorOrigins;
    var guess = ancestors && ancestors.length ? ancestors[0] : null;
    var channel = {
      origin: parentOrigins.indexOf(guess) >= 0 ? guess : (parentOrigins.length === 1 ? parentOrigins[0] : null),
      send: function (message) {
        if (!channel.origin) { throw new Error("no allowed parent origin to send to"); }
        window.parent.postMessage(message, channel.origin);
      },
      receive: function (test, timeoutMs) {
        return new Promise(function (resolve, reject) {
          var timer = setTimeout(function () {
            window.removeEventListener("message", onMessage);
            reject(new Error("the PSA did not answer"));
          }, timeoutMs || 5000);
          function onMessage(event) {
            if (event.source !== window.parent || parentOrigins.indexOf(event.origin) < 0) { return; }
            if (!test(event.data)) { return; }
            clearTimeout(timer);
            window.removeEventListener("message", onMessage);
            channel.origin = event.origin;
            resolve(event.data);
          }
          window.addEventListener("message", onMessage);
        });
      },
    };
    return channel;
  }

  async function vendorSignIn() {
    if (!vendorHandshake) {
      offerSignin("This pod's vendor script did not load.");
      return;
    }
    if (window.parent === window || !parentOrigins.length) {
      offerSignin("Open this pod inside your PSA, or sign in to Podium.");
      return;
    }
    var parent = parentChannel();
    var claims;
    try {
      claims = await vendorHandshake(parent);
    } catch (e) {
      offerSignin("Your PSA did not say who you are (" + e.message + ").");
      return;
    }
    await begin(await postJSON(cfg.embedUrl, { ref: cfg.ref, origin: parent.origin, claims: claims }));
  }

  function start() {
    setState("connecting");
    setStatus("Connecting…");
    if (cfg.handshake === "vendor") { vendorSignIn(); } else { offerSignin(); }
  }

  window.PodiumPod = Object.freeze({
    registerHandshake: function (fn) { vendorHandshake = fn; },
  });

  document.addEventListener("DOMContentLoaded", start);
})();
