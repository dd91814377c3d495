/**
 * A throwaway certificate for SIP over TLS in the tests: self-signed by openssl for 127.0.0.1
 * (and localhost), made once per test file in a scratch folder.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './temp-dirs.js';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

let made: Promise<TestCertificate> | undefined;

export function testCertificate(): Promise<TestCertificate> {
  made ??= (async () => {
    const dir = await tempDir('telgate-tls-');
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    await promisify(execFile)(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { timeout: 20_000 },
    );
    return {
      certFile,
      keyFile,
      cert: await fs.readFile(certFile),
      key: await fs.readFile(keyFile),
    };
  })();
  return made;
}

/**
 * `sip.tls` for the test config: TLS on a free port with `cert`, which is also the CA when
 * `asCa` (so a client presenting it, or a server telgate dials that has it, is trusted).
 */
export function tlsConfig(cert: TestCertificate, asCa = false): Record<string, unknown> {
  return {
    port: 0,
    certFile: cert.certFile,
    keyFile: cert.keyFile,
    ...(asCa && { caFile: cert.certFile }),
  };
}
