/** Runs before every test file: what each file's tests leave behind is cleared after them. */
import { afterAll } from 'vitest';
import { killFileScoped } from './helpers/processes.js';
import { removeTempDirs } from './helpers/temp-dirs.js';

afterAll(async () => {
  await killFileScoped();
  await removeTempDirs();
});
