/**
 * Step (a) of `tapstack setup`: is the data directory a volume the appliance may use? Read-only
 * apart from the write probe, which cleans up after itself; every refusal happens before anything
 * is written (see setup.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempFileOf } from '../../services/shared/atomic-file.js';
import { PROBE_PREFIX, probeWritable } from './probe.js';
import { SETUP_EXIT, refuse } from './exit-codes.js';
import { MARKER_NAME, SETUP_LOCK_NAME, readMarker, type MarkerRead, type VolumeMarker } from './markers.js';

export interface DataVolume {
  dir: string;
  mounted: boolean;
  freeMb: number;
  marker: MarkerRead;
  /** Entries other than what setup itself may leave (lock, probe, temp marker, lost+found). */
  entries: string[];
}

/** Names a fresh volume may already carry without counting as "someone's data". */
function ignorable(name: string): boolean {
  return name === 'lost+found' || name === SETUP_LOCK_NAME || name === tempFileOf(MARKER_NAME) || name.startsWith(PROBE_PREFIX);
}

const unescapeMountinfo = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export interface MountInfo {
  /** Whether `dir` is itself a mount point (a volume or bind mount) rather than a plain directory of the image. */
  mounted: boolean;
  /**
   * The volume's name when Docker or podman made it up: an image's `VOLUME` line gives a container
   * started without `-v` an anonymous volume (`.../volumes/<64 hex>/_data`), which looks mounted
   * but is orphaned as soon as the container is removed.
   */
  anonymousVolume?: string;
}

const ANONYMOUS_VOLUME = /\/volumes\/([0-9a-f]{64})\/_data$/;

/**
 * What /proc/self/mountinfo says about `dir` (it sees bind mounts of the same file system too);
 * when it cannot be read, fall back to comparing st_dev with the parent.
 */
export function mountInfo(dir: string, mountinfo = '/proc/self/mountinfo'): MountInfo {
  const real = fs.realpathSync(dir);
  let text: string;
  try {
    text = fs.readFileSync(mountinfo, 'utf8');
  } catch {
    return { mounted: real === '/' || fs.statSync(real).dev !== fs.statSync(path.dirname(real)).dev };
  }
  // Field 4 is the mount's root inside its source file system, field 5 the mount point; the last
  // line for a mount point is the one in effect.
  const line = text
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[4] !== undefined && unescapeMountinfo(f[4]) === real)
    .pop();
  if (!line) return { mounted: false };
  const anonymous = ANONYMOUS_VOLUME.exec(unescapeMountinfo(line[3] ?? ''));
  return anonymous ? { mounted: true, anonymousVolume: anonymous[1] } : { mounted: true };
}

/** Whether `dir` is itself a mount point (see mountInfo). */
export function isMountPoint(dir: string, mountinfo = '/proc/self/mountinfo'): boolean {
  return mountInfo(dir, mountinfo).mounted;
}

export interface DataVolumeOptions {
  requireMount: boolean;
  minFreeMb: number;
}

/** Checks in the documented order; throws the refusal (exit 10-13) of the first that fails. */
export function inspectDataVolume(dir: string, opts: DataVolumeOptions): DataVolume {
  const mountHint = `mount a volume there (e.g. \`docker run -v tapstack-data:${dir} ...\`, or a \`volumes:\` entry in compose) or point TAPSTACK_DATA_DIR at one`;
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    throw refuse(SETUP_EXIT.dataMissing, 'data-dir-missing', `data directory ${dir} does not exist (${(err as NodeJS.ErrnoException).code ?? 'error'}): ${mountHint}`);
  }
  if (!st.isDirectory()) throw refuse(SETUP_EXIT.dataMissing, 'data-dir-missing', `data directory ${dir} is not a directory: ${mountHint}`);

  const mount = mountInfo(dir);
  const mounted = mount.mounted;
  if (opts.requireMount && mount.anonymousVolume) {
    throw refuse(
      SETUP_EXIT.notMounted,
      'data-anonymous-volume',
      `data directory ${dir} is an anonymous volume (${mount.anonymousVolume.slice(0, 12)}...) that the engine created because no volume was given: ` +
        `it is not reused by the next container, so the data would be orphaned. ${mountHint}; ` +
        `to use the anonymous volume anyway (a throw-away trial) set TAPSTACK_DATA_REQUIRE_MOUNT=false`,
    );
  }
  if (opts.requireMount && !mounted) {
    throw refuse(
      SETUP_EXIT.notMounted,
      'data-not-mounted',
      `data directory ${dir} is not a mount point: it is the image's own directory, and everything written there is lost with the container. ` +
        `${mountHint}; set TAPSTACK_DATA_REQUIRE_MOUNT=false only for a native run`,
    );
  }

  try {
    probeWritable(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw refuse(
      SETUP_EXIT.notWritable,
      'data-not-writable',
      `data directory ${dir} does not take durable writes (${e.code ?? 'error'}: ${e.message}): mount it read-write and give the user running Tapstack (uid ${process.getuid?.() ?? '?'}) write access`,
    );
  }

  const fsStat = fs.statfsSync(dir);
  const freeMb = Math.floor((fsStat.bavail * fsStat.bsize) / (1024 * 1024));
  if (freeMb < opts.minFreeMb) {
    throw refuse(
      SETUP_EXIT.lowSpace,
      'data-low-space',
      `only ${freeMb} MB free on the data volume ${dir}, TAPSTACK_DATA_MIN_FREE_MB requires ${opts.minFreeMb} MB: free space or grow the volume (lowering TAPSTACK_DATA_MIN_FREE_MB only postpones a full disk)`,
    );
  }

  const entries = fs.readdirSync(dir).filter((n) => n !== MARKER_NAME && !ignorable(n));
  return { dir, mounted, freeMb, marker: readMarker(dir), entries };
}

export type InstallPlan =
  | { action: 'keep'; marker: VolumeMarker }
  | { action: 'create'; installId?: undefined }
  | { action: 'adopt'; installId?: string; reason: string };

/**
 * Decide what the data marker step will do, or refuse (exit 14). `tls` is the marker found in the
 * TLS directory (a separate volume under compose): an empty data volume next to a marked TLS
 * volume is a forgotten data volume, not a fresh install.
 */
export function planInstall(data: DataVolume, tls: MarkerRead, tlsDir: string, allowUnmarked: boolean): InstallPlan {
  const override = 'TAPSTACK_ALLOW_UNMARKED_DATA=true';
  const tlsId = tls.kind === 'ok' ? tls.marker.installId : undefined;

  if (data.marker.kind === 'corrupt') {
    if (!allowUnmarked) {
      throw refuse(SETUP_EXIT.unmarked, 'marker-unreadable', `the volume marker ${path.join(data.dir, MARKER_NAME)} is damaged (${data.marker.why}): check the volume; to adopt the directory anyway set ${override}`);
    }
    return { action: 'adopt', installId: tlsId, reason: `replaced a damaged marker (${data.marker.why})` };
  }
  if (data.marker.kind === 'ok') {
    const id = data.marker.marker.installId;
    if (tlsId && tlsId !== id && !allowUnmarked) {
      throw refuse(
        SETUP_EXIT.unmarked,
        'install-mismatch',
        `the data volume belongs to installation ${id} but the TLS directory ${tlsDir} to installation ${tlsId}: were volumes of two installations mixed up? To re-mark the TLS directory for this installation set ${override}`,
      );
    }
    return { action: 'keep', marker: data.marker.marker };
  }
  if (data.entries.length === 0) {
    if (tlsId && !allowUnmarked) {
      throw refuse(
        SETUP_EXIT.unmarked,
        'data-forgotten',
        `the data volume ${data.dir} looks empty but this installation (install id ${tlsId}) already exists (marker in ${tlsDir}): was the data volume mounted? ` +
          `Mount it, or restore a backup into it; to start over with an empty database set ${override}`,
      );
    }
    return tlsId ? { action: 'adopt', installId: tlsId, reason: `empty data volume adopted by installation ${tlsId} (override)` } : { action: 'create' };
  }
  if (!allowUnmarked) {
    const sample = data.entries.slice(0, 5).join(', ') + (data.entries.length > 5 ? ', ...' : '');
    throw refuse(
      SETUP_EXIT.unmarked,
      'data-unmarked',
      `data directory ${data.dir} is not empty (${sample}) but carries no Tapstack volume marker (${MARKER_NAME}): is this the right volume? ` +
        `If it is Tapstack data from before volume markers, or you are sure it is yours, set ${override} once to adopt it`,
    );
  }
  return { action: 'adopt', installId: tlsId, reason: `adopted a non-empty directory without marker (${data.entries.length} entries; override)` };
}
