/* The simulated Manage web client's side of the Hosted API (facts §1.12).
 *
 * Messages are JSON strings both ways, accepted only from a pod's own frame and the origin
 * its setup row registered; replies go to that origin only. "ready" gets the frame id and
 * then the onLoad event with the screen object; requests must carry that frame id; the
 * pod's acknowledgements of events are recorded on its frame (data-onload="success").
 */
(function () {
  "use strict";

  var section = document.getElementById("pods");
  var log = document.getElementById("host-log");
  if (!section) { return; }
  var auth = JSON.parse(section.dataset.auth);
  var screenObject = { screen: section.dataset.screen, id: Number(section.dataset.recordId), hostedAs: "pod" };
  var frames = Array.prototype.slice.call(document.querySelectorAll("iframe.pod"));
  var nextEventId = 1;

  function note(text) {
    var item = document.createElement("li");
    item.textContent = text;
    log.appendChild(item);
  }

  function frameOf(source) {
    for (var i = 0; i < frames.length; i += 1) {
      if (frames[i].contentWindow === source) { return frames[i]; }
    }
    return null;
  }

  window.addEventListener("message", function (event) {
    var frame = frameOf(event.source);
    if (!frame || event.origin !== frame.dataset.origin || typeof event.data !== "string") { return; }
    var message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    if (!message || typeof message !== "object") { return; }
    var id = frame.dataset.frameId;

    function reply(body) { frame.contentWindow.postMessage(JSON.stringify(body), frame.dataset.origin); }

    if (message.message === "ready") {
      note(id + ": ready");
      reply({ MessageFrameID: id });
      reply({ event: "onLoad", _id: nextEventId++, data: { screenObject: screenObject } });
      return;
    }
    if (typeof message.event === "string" && typeof message.result === "string") {
      note(id + ": " + message.event + " acknowledged (" + message.result + ")");
      frame.dataset[message.event.toLowerCase()] = message.result;
      return;
    }
    if (message.frameID !== id || typeof message.hosted_request !== "string") { return; }
    var name = message.hosted_request;
    if (name === "getMemberAuthentication") {
      note(id + ": getMemberAuthentication for " + auth.memberid);
      reply({ response: "getmemberauthentication", data: auth });
    } else if (name === "getScreenObject") {
      reply({ response: "getscreenobject", data: screenObject });
    }
  });

  /* Like Manage's client, which inserts pod frames itself, load each pod only now that the
   * listener is in place: a pod's one "ready" can never arrive before anyone listens. */
  frames.forEach(function (frame) { frame.src = frame.dataset.src; });
})();
