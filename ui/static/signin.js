/* The sign-in popup's last step: hand the one-use code to the pod that opened us.
 * The target origin is Podium's own, so only a Podium page (the pod's iframe) can
 * receive it; the code is useless without the verifier that page kept. */
(function () {
  "use strict";
  var handoff = document.getElementById("handoff");
  if (!handoff) { return; }
  if (!window.opener) {
    document.getElementById("handoff-fallback").hidden = false;
    return;
  }
  window.opener.postMessage({ type: "podium:signin-code", code: handoff.dataset.code }, window.location.origin);
  window.close();
})();
