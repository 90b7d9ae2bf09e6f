/**
 * How `tapstack setup` tells the data volume's kind from /proc/self/mountinfo (cli/setup/data-volume.ts):
 * a plain image directory, a named volume or bind mount, or the anonymous volume an image's
 * `VOLUME /data` gives a container started without `-v` (refused: it is orphaned with the container).
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { mountInfo } from '../../cli/setup/data-volume.js';
import { tempDir } from '../helpers/env.js';

const HEX = 'a3f1'.repeat(16);

function fixture(lines: (dir: string) => string[]): { dir: string; file: string } {
  const root = tempDir('tapstack-mountinfo-');
  const dir = path.join(root, 'data');
  fs.mkdirSync(dir);
  const file = path.join(root, 'mountinfo');
  fs.writeFileSync(file, lines(fs.realpathSync(dir)).join('\n') + '\n');
  return { dir, file };
}

test('an anonymous volume (podman or Docker: volumes/<64 hex>/_data) is mounted but anonymous', (t) => {
  for (const engine of ['/var/lib/containers/storage', '/var/lib/docker']) {
    const { dir, file } = fixture((d) => ['1 0 0:1 / / rw - overlay overlay rw', `2 1 254:0 ${engine}/volumes/${HEX}/_data ${d} rw,relatime - ext4 /dev/vda rw`]);
    t.deepEqual(mountInfo(dir, file), { mounted: true, anonymousVolume: HEX }, engine);
  }
});

test('a named volume and a bind mount are mounted and not anonymous', (t) => {
  const named = fixture((d) => [`2 1 254:0 /var/lib/containers/storage/volumes/tapstack-data/_data ${d} rw - ext4 /dev/vda rw`]);
  t.deepEqual(mountInfo(named.dir, named.file), { mounted: true });
  const bind = fixture((d) => [`2 1 254:0 /srv/tapstack ${d} rw - ext4 /dev/vda rw`]);
  t.deepEqual(mountInfo(bind.dir, bind.file), { mounted: true });
  const tmpfs = fixture((d) => [`2 1 0:44 / ${d} rw - tmpfs tmpfs rw,size=65536k`]);
  t.deepEqual(mountInfo(tmpfs.dir, tmpfs.file), { mounted: true });
});

test('a directory that is no mount point is not mounted; the last mount on a path wins', (t) => {
  const plain = fixture(() => ['1 0 0:1 / / rw - overlay overlay rw']);
  t.deepEqual(mountInfo(plain.dir, plain.file), { mounted: false });
  const over = fixture((d) => [`2 1 254:0 /var/lib/docker/volumes/${HEX}/_data ${d} rw - ext4 /dev/vda rw`, `3 2 254:0 /var/lib/docker/volumes/tapstack-data/_data ${d} rw - ext4 /dev/vda rw`]);
  t.deepEqual(mountInfo(over.dir, over.file), { mounted: true });
});
