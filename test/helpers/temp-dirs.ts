/**
 * Scratch folders for a test file (sipp scenarios and logs, config folders): each is removed
 * after the file's tests by test/setup.ts, so a run leaves nothing in the temp folder.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const made = new Set<string>();

export async function tempDir(prefix = 'telgate-test-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  made.add(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  const dirs = [...made];
  made.clear();
  await Promise.all(dirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
}
