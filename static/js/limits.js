/**
 * The server's validation limits, mirrored so the client never sends what the server would refuse.
 * Defaults of `whiteboard/settings.py`; keep the two in step (docs/protocol.md lists them).
 */

/** @type {Readonly<Record<string, number>>} */
export const LIMITS = Object.freeze({
  coordScale: 4, // quanta per board unit (protocol.COORD_SCALE)
  pressureScale: 100, // pressure travels as an int 0..100
  maxPointsPerStroke: 20_000,
  maxCoord: 10_000_000,
  minWidth: 0.5,
  maxWidth: 500,
  maxNameChars: 40,
  maxOpsPerFrame: 512,
  maxEraseIds: 10_000, // also ids in one transform, z or moving
  maxTextChars: 4_000,
  maxTextLines: 200,
  minTextSize: 4,
  maxTextSize: 400,
  maxElementScale: 1_000,
  maxAddItems: 1_000,
  maxUploadBytes: 10 * 1024 * 1024,
  maxLiveStrokes: 10,
  maxFrameBytes: 256 * 1024,
  // Our own budget per outgoing frame: below maxFrameBytes with room for msgpack overhead.
  frameBudgetBytes: 192 * 1024,
  // The server allows 2 MiB/s per connection with bursts of twice that (bytes_per_second);
  // the page keeps well below, so resending a long offline session never trips close 4002.
  sendBytesPerSecond: 1.5 * 1024 * 1024,
  sendBurstBytes: 3 * 1024 * 1024,
  // Destructive ops (clear, undo, redo, erasing others' strokes) kept offline longer than this are
  // resent only after the user confirms (offline.js): someone else has likely drawn since.
  offlineConfirmAfterMs: 10 * 60 * 1000,
  // Presenting (settings max_laser_points, follow_hz): points in one laser message, and how often
  // a presenter's view is sent (the server sends the room no more often anyway).
  maxLaserPoints: 64,
  followHz: 20,
});
