// @ts-check
// Local media: camera, microphone and screen share.
//
// The camera and microphone live in one MediaStream (`camera`) whose id
// tells peers which incoming stream is the person and which is the screen
// (the `media` payload of docs/protocol.md). Its id never changes, so tracks
// can come and go (device switch, camera off/on) without renegotiating.
//
// Every change fires a `change` event; listeners (the mesh, the UI) read the
// current tracks with track(role) and the flags micOn/camOn/sharing.

/** Capture sizes. `low` is for weak machines and for tests. */
export const QUALITY = Object.freeze({
  normal: { width: 640, height: 360, frameRate: 24 },
  low: { width: 320, height: 180, frameRate: 15 },
});

/**
 * problemOf classifies a getUserMedia failure.
 * @returns {'denied'|'missing'|'busy'|'insecure'|'error'}
 */
export function problemOf(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'denied';
    case 'NotFoundError':
    case 'OverconstrainedError':
    case 'DevicesNotFoundError':
      return 'missing';
    case 'NotReadableError':
    case 'AbortError':
    case 'TrackStartError':
      return 'busy';
    case 'InsecureContext':
      return 'insecure';
    default:
      return 'error';
  }
}

const PROBLEM_TEXT = {
  denied: 'is blocked for this site',
  missing: 'was not found',
  busy: 'is in use by another application',
  insecure: 'needs a secure (https://) page',
  error: 'could not be started',
};

/**
 * describeMediaProblems turns what went wrong when starting the camera and
 * microphone into one sentence for people, or '' when nothing did.
 * @param {{cam?: string|null, mic?: string|null}} p problems (see problemOf)
 */
export function describeMediaProblems(p) {
  const { cam, mic } = p;
  if (!cam && !mic) return '';
  const fix = (cam === 'denied' || mic === 'denied')
    ? ' To change that, allow access in your browser’s site settings, then use the buttons below.'
    : '';
  if (cam && mic) {
    const why = cam === mic
      ? `Your camera and microphone ${PROBLEM_TEXT[cam].replace(/^is /, 'are ').replace(/^was /, 'were ')}`
      : `Your camera ${PROBLEM_TEXT[cam]} and your microphone ${PROBLEM_TEXT[mic]}`;
    return `${why}, so you are in the call to watch and listen only.${fix}`;
  }
  if (cam) return `Your camera ${PROBLEM_TEXT[cam]}, so you are in the call with audio only.${fix}`;
  return `Your microphone ${PROBLEM_TEXT[mic]}, so others can see you but not hear you.${fix}`;
}

function insecure() {
  const e = new Error('camera and microphone need a secure context');
  e.name = 'InsecureContext';
  return e;
}

/** notAllowed is the error of a viewer's request to send (docs/access.md `publish`). */
function notAllowed() {
  const e = new Error('you joined as a viewer, so you cannot send audio, video or your screen');
  e.name = 'ViewerError';
  return e;
}

export class LocalMedia extends EventTarget {
  /** @param {{quality?: keyof QUALITY}} [opts] */
  constructor({ quality = 'normal' } = {}) {
    super();
    this.quality = QUALITY[quality] ?? QUALITY.normal;
    /** Microphone + camera tracks; the id is announced to peers. */
    this.camera = new MediaStream();
    /** @type {MediaStream|null} the current screen share */
    this.screen = null;
    this.micOn = true;
    this.camOn = true;
    this.micId = ''; // chosen device ('' = the browser's default)
    this.camId = '';
    /** @type {{cam: string|null, mic: string|null}} why a device is missing */
    this.problems = { cam: null, mic: null };
    /** false for a viewer (a token with publish: false): no device is ever started */
    this.allowed = true;
  }

  /**
   * forbid makes this a viewer's media: every device is released and none
   * can be started again (see allow). Nothing is sent, and the `media`
   * payload says mic: false, cam: false.
   */
  forbid() {
    const had = !!this.camera.getTracks().length || !!this.screen || this.micOn || this.camOn;
    this.allowed = false;
    this.stop();
    this.micOn = false;
    this.camOn = false;
    this.problems = { cam: null, mic: null };
    if (had) this.emit();
  }

  /** allow lifts forbid (devices stay off until the person turns them on). */
  allow() {
    this.allowed = true;
  }

  /** @param {'mic'|'cam'|'screen'} role */
  track(role) {
    if (role === 'mic') return this.camera.getAudioTracks()[0] ?? null;
    if (role === 'cam') return this.camera.getVideoTracks()[0] ?? null;
    return this.screen?.getVideoTracks()[0] ?? null;
  }

  get sharing() {
    return !!this.track('screen');
  }

  /** The `media` payload of docs/protocol.md for this client's state. */
  describe() {
    return {
      camera: this.camera.id,
      screen: this.sharing ? this.screen.id : null,
      mic: this.micOn && !!this.track('mic'),
      cam: this.camOn && !!this.track('cam'),
    };
  }

  videoConstraints(deviceId) {
    const q = this.quality;
    return {
      width: { ideal: q.width },
      height: { ideal: q.height },
      frameRate: { ideal: q.frameRate },
      ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    };
  }

  audioConstraints(deviceId) {
    return {
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
      ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    };
  }

  /**
   * acquire gets one track of `kind`, preferring deviceId and falling back
   * to the default device if that one is gone.
   * @param {'audio'|'video'} kind
   */
  async acquire(kind, deviceId) {
    const md = navigator.mediaDevices;
    if (!md || !md.getUserMedia) throw insecure();
    const constraints = (id) => (kind === 'audio'
      ? { audio: this.audioConstraints(id), video: false }
      : { audio: false, video: this.videoConstraints(id) });
    try {
      const s = await md.getUserMedia(constraints(deviceId));
      return s.getTracks()[0];
    } catch (err) {
      if (deviceId && problemOf(err) === 'missing') {
        const s = await md.getUserMedia(constraints(''));
        return s.getTracks()[0];
      }
      throw err;
    }
  }

  /**
   * start acquires the microphone and camera (each if wanted), one prompt
   * when possible. A device that fails is recorded in `problems`; start
   * itself never throws.
   */
  async start({ audio = true, video = true } = {}) {
    this.problems = { cam: null, mic: null };
    if (!this.allowed) {
      this.micOn = false;
      this.camOn = false;
      this.emit();
      return;
    }
    const md = navigator.mediaDevices;
    if (!md || !md.getUserMedia) {
      this.problems = { cam: video ? 'insecure' : null, mic: audio ? 'insecure' : null };
      this.micOn = false;
      this.camOn = false;
      this.emit();
      return;
    }
    if (audio && video) {
      try {
        const s = await md.getUserMedia({
          audio: this.audioConstraints(this.micId),
          video: this.videoConstraints(this.camId),
        });
        for (const t of s.getTracks()) this.put(t);
        this.emit();
        return;
      } catch (err) {
        // Find out which of the two failed (one may still work).
        console.info('parley: camera+microphone failed, trying each:', err.name);
      }
    }
    if (audio) {
      try {
        this.put(await this.acquire('audio', this.micId));
      } catch (err) {
        this.problems.mic = problemOf(err);
        this.micOn = false;
      }
    } else {
      this.micOn = false;
    }
    if (video) {
      try {
        this.put(await this.acquire('video', this.camId));
      } catch (err) {
        this.problems.cam = problemOf(err);
        this.camOn = false;
      }
    } else {
      this.camOn = false;
    }
    this.emit();
  }

  /** put replaces the camera stream's track of the same kind by t. */
  put(t) {
    if (!this.allowed) {
      t.stop(); // a device that was still starting when forbid came
      return;
    }
    for (const old of this.camera.getTracks()) {
      if (old.kind === t.kind && old !== t) {
        this.camera.removeTrack(old);
        old.stop();
      }
    }
    if (t.kind === 'audio') t.enabled = this.micOn;
    else t.contentHint = 'motion';
    const id = t.getSettings().deviceId;
    if (id) {
      if (t.kind === 'audio') this.micId = id;
      else this.camId = id;
    }
    t.addEventListener('ended', () => this.lost(t));
    this.camera.addTrack(t);
  }

  /** lost handles a device that went away (unplugged, revoked). */
  lost(t) {
    if (!this.camera.getTracks().includes(t)) return;
    this.camera.removeTrack(t);
    if (t.kind === 'audio') {
      this.micOn = false;
      this.problems.mic = 'missing';
    } else {
      this.camOn = false;
      this.problems.cam = 'missing';
    }
    this.emit();
  }

  /** setMic mutes (track disabled: instant, no renegotiation) or unmutes. */
  async setMic(on) {
    if (on && !this.allowed) throw notAllowed();
    let t = this.track('mic');
    if (on && !t) {
      try {
        this.micOn = true;
        this.put(await this.acquire('audio', this.micId));
        this.problems.mic = null;
      } catch (err) {
        this.micOn = false;
        this.problems.mic = problemOf(err);
        this.emit();
        throw err;
      }
      t = this.track('mic');
    }
    this.micOn = on && !!t;
    if (t) t.enabled = this.micOn;
    this.emit();
  }

  /** setCam stops the camera (its light goes off) or starts it again. */
  async setCam(on) {
    if (on && !this.allowed) throw notAllowed();
    const t = this.track('cam');
    if (!on) {
      this.camOn = false;
      if (t) {
        this.camera.removeTrack(t);
        t.stop();
      }
      this.emit();
      return;
    }
    if (t) {
      this.camOn = true;
      this.emit();
      return;
    }
    try {
      this.camOn = true;
      this.put(await this.acquire('video', this.camId));
      this.problems.cam = null;
    } catch (err) {
      this.camOn = false;
      this.problems.cam = problemOf(err);
      this.emit();
      throw err;
    }
    this.emit();
  }

  /** useCamera switches to another camera (replaceTrack: no renegotiation). */
  async useCamera(deviceId) {
    this.camId = deviceId;
    if (!this.camOn || !this.allowed) return;
    this.put(await this.acquire('video', deviceId));
    this.emit();
  }

  /** useMic switches to another microphone, keeping the mute state. */
  async useMic(deviceId) {
    this.micId = deviceId;
    if ((!this.track('mic') && !this.micOn) || !this.allowed) return;
    this.put(await this.acquire('audio', deviceId));
    this.emit();
  }

  /** startScreen asks which screen or window to share (needs a user gesture). */
  async startScreen() {
    if (!this.allowed) throw notAllowed();
    const md = navigator.mediaDevices;
    if (!md || !md.getDisplayMedia) throw new Error('screen sharing is not supported by this browser');
    const s = await md.getDisplayMedia({
      video: { frameRate: { ideal: 15, max: 30 } },
      audio: false,
    });
    const t = s.getVideoTracks()[0];
    t.contentHint = 'detail';
    t.addEventListener('ended', () => {
      if (this.screen === s) this.stopScreen();
    });
    this.stopScreen(false);
    this.screen = s;
    this.emit();
  }

  stopScreen(notify = true) {
    if (!this.screen) return;
    for (const t of this.screen.getTracks()) t.stop();
    this.screen = null;
    if (notify) this.emit();
  }

  /** stop releases every device. */
  stop() {
    this.stopScreen(false);
    for (const t of this.camera.getTracks()) {
      t.stop();
      this.camera.removeTrack(t);
    }
  }

  emit() {
    this.dispatchEvent(new Event('change'));
  }
}

/** listDevices returns the cameras and microphones (labels need permission first). */
export async function listDevices() {
  const md = navigator.mediaDevices;
  if (!md || !md.enumerateDevices) return { cameras: [], mics: [] };
  const all = await md.enumerateDevices();
  const pick = (kind) => all.filter((d) => d.kind === kind && d.deviceId)
    .map((d, i) => ({ id: d.deviceId, label: d.label || `${kind === 'videoinput' ? 'Camera' : 'Microphone'} ${i + 1}` }));
  return { cameras: pick('videoinput'), mics: pick('audioinput') };
}
