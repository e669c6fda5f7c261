/* ConnectWise Manage Hosted API handshake, run inside a Podium pod (served by the
 * ConnectWise plugin through podium.embed's client_script).
 *
 * The protocol of ConnectWise's own ConnectWiseHostedAPI.1.0.js (facts §1.12): every message
 * is a JSON *string*; the pod posts {"message":"ready"}, Manage answers {"MessageFrameID":…},
 * and every later request carries that frameID as {"hosted_request":…, "frameID":…} (Manage
 * ignores a plain "request" key). Replies come back as {"response":"<lower-cased name>",
 * "data":{…}}. Events ({"event":"onLoad", "_id":…}) must be acknowledged with
 * {"event":…, "_id":…, "result":"success"}.
 *
 * pod.js hands this script a channel that only ever talks to the connection's own site
 * (its allowed parent origins) and ignores every other window; what ConnectWise says about
 * the member is verified by Podium with ConnectWise before anything is shown.
 */
(function () {
  "use strict";

  var ANSWER_MS = 10000;
  var EVENT_WAIT_MS = 3600000;
  var acknowledging = false;

  function parse(data) {
    if (typeof data !== "string") { return null; }
    try {
      var value = JSON.parse(data);
      return value && typeof value === "object" ? value : null;
    } catch (e) {
      return null;
    }
  }

  function having(test) {
    return function (data) {
      var message = parse(data);
      return message !== null && test(message);
    };
  }

  /* Acknowledge every event Manage sends (onLoad, beforeSave, beforeBack) for as long as the
   * pod is open; a pod that left them unanswered would block Manage's save. */
  async function acknowledgeEvents(parent, frameID) {
    if (acknowledging) { return; }
    acknowledging = true;
    for (;;) {
      var event;
      try {
        event = parse(await parent.receive(having(function (m) { return typeof m.event === "string"; }),
                                           EVENT_WAIT_MS));
      } catch (e) {
        continue; /* no event for an hour: keep listening */
      }
      parent.send(JSON.stringify({ event: event.event, _id: event._id, result: "success", frameID: frameID }));
    }
  }

  PodiumPod.registerHandshake(async function (parent) {
    parent.send(JSON.stringify({ message: "ready" }));
    var framed = parse(await parent.receive(
      having(function (m) { return typeof m.MessageFrameID !== "undefined"; }), ANSWER_MS));
    var frameID = framed.MessageFrameID;
    acknowledgeEvents(parent, frameID);
    parent.send(JSON.stringify({ hosted_request: "getMemberAuthentication", frameID: frameID }));
    var reply = parse(await parent.receive(
      having(function (m) { return m.response === "getmemberauthentication"; }), ANSWER_MS));
    return reply.data || {};
  });
})();
