// The page's side of a browser run (harness/browser/player.py evaluates this function in each tab).
//
// One <video> plays the server's file, muted (autoplay needs no gesture then). Every figure is
// taken by the page's own clock (performance.now(); requestVideoFrameCallback's `now` is on it):
// time to loadedmetadata, to the first decoded frame presented, then a seek to `seekFraction` of the
// duration and the time until a frame at the new position is presented, or "not honoured" when the
// position did not move there; then `watchMs` of playback with its stalls (`waiting` events and how
// long each lasted). The page calls the binding `sbReport` at the first frame and after the seek
// (so the harness can read the server's counters and take a screenshot) and once at the end with
// everything. A page that has no first frame within `timeoutMs` stops loading and says so.
async ({ url, seekFraction, watchMs, timeoutMs, settleMs }) => {
  const t0 = performance.now();
  const rel = () => performance.now() - t0;
  const out = { metadata_ms: null, first_frame_ms: null, seek: null, stalls: 0, stall_ms: 0, error: null, events: [] };
  const video = document.createElement("video");
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.width = 640;
  video.height = 360;
  const caption = document.createElement("div");
  caption.style.cssText = "padding:6px 10px;font:14px monospace;color:#eee";
  document.body.style.cssText = "margin:0;background:#111";
  document.body.append(video, caption);
  const say = (text) => (caption.textContent = text);

  let watching = false;
  let waitingSince = null;
  for (const name of ["loadedmetadata", "playing", "waiting", "seeking", "seeked", "stalled", "error", "ended"]) {
    video.addEventListener(name, () => {
      if (out.events.length < 200) out.events.push([name, Math.round(rel()), video.currentTime]);
    });
  }
  video.addEventListener("waiting", () => {
    if (watching) {
      out.stalls += 1;
      waitingSince = performance.now();
    }
  });
  video.addEventListener("playing", () => {
    if (waitingSince !== null) out.stall_ms += performance.now() - waitingSince;
    waitingSince = null;
  });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  const failed = new Promise((resolve) => video.addEventListener("error", () => resolve(null), { once: true }));
  // An event's timeStamp is when the media element made it, not when its handler ran: on a busy
  // machine the handler ran up to 46 ms (more than a rendering frame) after the first frame showed.
  const once = (name) => new Promise((resolve) => video.addEventListener(name, (e) => resolve(e.timeStamp - t0), { once: true }));
  const frame = () =>
    new Promise((resolve) => video.requestVideoFrameCallback((now, meta) => resolve({ t: now - t0, media: meta.mediaTime })));
  const within = (promise, ms) => Promise.race([promise, failed, sleep(ms).then(() => null)]);

  const metadata = once("loadedmetadata");
  const firstFrame = frame();
  video.src = url;
  out.metadata_ms = await within(metadata, timeoutMs);
  const first = out.metadata_ms === null ? null : await within(firstFrame, timeoutMs - rel());
  if (first) {
    out.first_frame_ms = first.t;
    say(`first frame after ${first.t.toFixed(0)} ms, at ${first.media.toFixed(2)} s`);
    sbReport(JSON.stringify({ kind: "first_frame", at_ms: first.t }));
    await sleep(settleMs);
    const target = Math.floor(video.duration * seekFraction);
    const seekedEvent = once("seeked");
    const asked = performance.now();
    video.currentTime = target;
    const seeked = await within(seekedEvent, timeoutMs);
    const resumed = seeked === null ? null : await within(frame(), timeoutMs);
    const position = resumed ? resumed.media : video.currentTime;
    // Honoured: playback resumed at the asked point (Chromium decodes from the keyframe before it
    // and presents the frame at the target; half a second allows a player that snaps to a keyframe
    // of a short clip, and no more, so a 10 s test video can tell a seek from staying put).
    const honoured = resumed !== null && Math.abs(position - target) <= 0.5;
    const moved = Math.abs(position - target) <= 0.5;
    const outcome = honoured
      ? `playing at ${target} s after ${(resumed.t + t0 - asked).toFixed(0)} ms`
      : moved
        ? `moved to ${target} s, but no frame there within ${(timeoutMs / 1000).toFixed(0)} s`
        : `not honoured: stayed at ${position.toFixed(2)} s`;
    out.seek = {
      target_s: target,
      seeked_ms: seeked === null ? null : seeked + t0 - asked,
      resumed_ms: resumed === null ? null : resumed.t + t0 - asked,
      position_s: position,
      honoured,
      outcome,
    };
    say(`seek to ${target} s: ${outcome}`);
    sbReport(JSON.stringify({ kind: "seeked" }));
    watching = true;
    const watchedFrom = performance.now();
    const playedFrom = video.currentTime;
    await sleep(watchMs);
    if (waitingSince !== null) out.stall_ms += performance.now() - waitingSince;
    out.watched = { ms: performance.now() - watchedFrom, played_s: video.currentTime - playedFrom };
  } else {
    say(out.metadata_ms === null ? "no metadata" : "no first frame");
  }
  if (video.error) out.error = `MediaError ${video.error.code}: ${video.error.message || "(no message)"}`;
  out.duration_s = Number.isFinite(video.duration) ? video.duration : null;
  out.current_s = video.currentTime;
  out.buffered_s = Array.from({ length: video.buffered.length }, (_, i) => [video.buffered.start(i), video.buffered.end(i)]);
  // Stop loading: a page that gave up must not go on pulling the file while the others are measured.
  video.pause();
  video.removeAttribute("src");
  video.load();
  sbReport(JSON.stringify({ kind: "done", result: out }));
};
