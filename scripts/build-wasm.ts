/**
 * Compiles the WebAssembly text sources in src/codecs/wasm/ into TypeScript modules that carry
 * the binary as base64, so the build needs no WebAssembly toolchain and the runtime no files.
 * Usage: npm run wasm [-- --check]   (--check exits 1 when a generated module is out of date)
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';

const DIR = new URL('../src/codecs/wasm/', import.meta.url).pathname;

export async function generatedModules(): Promise<Map<string, string>> {
  const wabt = await wabtInit();
  const modules = new Map<string, string>();
  for (const file of readdirSync(DIR).filter((name) => name.endsWith('.wat'))) {
    const parsed = wabt.parseWat(file, readFileSync(join(DIR, file), 'utf8'), {
      simd: true,
      bulk_memory: true,
    });
    const { buffer } = parsed.toBinary({});
    parsed.destroy();
    const base = file.replace(/\.wat$/, '');
    modules.set(
      join(DIR, `${base}-wasm.ts`),
      `// Generated from ${file} by \`npm run wasm\`; do not edit.\n` +
        `export const WASM_BASE64 =\n  '${Buffer.from(buffer).toString('base64')}';\n`,
    );
  }
  return modules;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [path, text] of await generatedModules()) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current === text) continue;
    stale++;
    if (check) console.error(`${path} is out of date: run npm run wasm`);
    else writeFileSync(path, text);
  }
  process.exit(check && stale ? 1 : 0);
}
