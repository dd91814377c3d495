/**
 * A real drachtio-server for the tests that run on the drachtio engine (TEST_SIP_ENGINE=drachtio):
 * its own admin and SIP ports on loopback, a config file in a scratch folder, stopped by PID
 * after the test file (or by the test, to see telgate live through a restart).
 */
import net from 'node:net';
import dgram from 'node:dgram';
import fs from 'node:fs/promises';
import path from 'node:path';
import { signal, startProcess, waitForOutput, type Running } from './processes.js';
import { tempDir } from './temp-dirs.js';
import { testCertificate } from './tls-cert.js';

export const TEST_ENGINE = process.env.TEST_SIP_ENGINE === 'drachtio' ? 'drachtio' : 'native';
export const DRACHTIO_SECRET = 'telgate-test';
/**
 * To see what went over the wire: TEST_DRACHTIO_LOGLEVEL=info makes the daemons print every
 * SIP message, and TEST_DRACHTIO_LOG=<file> collects each daemon's output when it is stopped.
 */
const LOG = {
  level: process.env.TEST_DRACHTIO_LOGLEVEL ?? 'notice',
  file: process.env.TEST_DRACHTIO_LOG,
};

export interface TestDrachtio {
  adminPort: number;
  sipPort: number;
  /** Kills the daemon (SIGKILL: what a crash looks like) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same ports, with no dialog of before. */
  restart(): Promise<void>;
  output(): string;
}

/** A port free for both TCP and UDP on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const udp = dgram.createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (free) return port;
  }
}

/**
 * Starts a daemon with UDP and TCP contacts on one port, and TLS and WSS contacts on two more
 * with the test file's certificate (tls-cert.ts, which the tests' clients trust). The daemon
 * wants a chain file beside its certificate (without one it stops at start-up, failing to load
 * a default CA list), and `sips:` on a WSS contact (`sip:` is "Protocol not supported").
 */
export async function startDrachtio(): Promise<TestDrachtio> {
  // A port found free can be taken before the daemon binds it, and the daemon then stops
  // (it does not start without all its contacts): a few tries on fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePorts();
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

async function startOnFreePorts(): Promise<TestDrachtio> {
  const dir = await tempDir('telgate-drachtio-');
  const adminPort = await freePort();
  const sipPort = await freePort();
  const tlsPorts = { tls: await freePort(), wss: await freePort() };
  const tls = await testCertificate();
  const file = path.join(dir, 'drachtio.conf.xml');
  await fs.writeFile(
    file,
    [
      '<drachtio>',
      `  <admin port="${adminPort}" secret="${DRACHTIO_SECRET}">127.0.0.1</admin>`,
      '  <sip><contacts>',
      `    <contact>sip:127.0.0.1:${sipPort};transport=udp,tcp</contact>`,
      `    <contact>sips:127.0.0.1:${tlsPorts.tls};transport=tls</contact>`,
      `    <contact>sips:127.0.0.1:${tlsPorts.wss};transport=wss</contact>`,
      '  </contacts>',
      `  <tls><key-file>${tls.keyFile}</key-file><cert-file>${tls.certFile}</cert-file>`,
      `    <chain-file>${tls.certFile}</chain-file></tls>`,
      '  </sip>',
      '  <cdrs>false</cdrs>',
      `  <logging><console/><sofia-loglevel>3</sofia-loglevel><loglevel>${LOG.level}</loglevel></logging>`,
      '</drachtio>',
      '',
    ].join('\n'),
  );
  let running: Running;
  const launch = async () => {
    running = startProcess('drachtio', ['-f', file], {
      timeoutMs: 1_800_000,
      forFile: true,
      // A caller over TLS whose own Contact is sip: (baresip) gets a sip: Contact back, not the
      // daemon's sips: one it cannot follow (docs/drachtio.md).
      env: { ...process.env, DRACHTIO_SUPPORT_BEST_EFFORT_TLS: '1' },
    });
    // Printed once every contact is bound: the admin port answers before that, and a daemon
    // that cannot bind a contact exits after it opened its admin port.
    try {
      await waitForOutput(running, /Starting sofia event loop/, 10_000);
    } catch (err) {
      signal(running.child, 'SIGKILL'); // one that hangs before binding is not left running
      await running.done;
      throw err;
    }
  };
  await launch();
  return {
    adminPort,
    sipPort,
    kill: async () => {
      signal(running.child, 'SIGKILL');
      const { stdout, stderr } = await running.done;
      if (LOG.file) await fs.appendFile(LOG.file, stdout + stderr);
    },
    restart: launch,
    output: () => running.output().stdout + running.output().stderr,
  };
}

/**
 * A TCP relay between telgate and the daemon's admin port, so a test can cut the admin
 * connection (and keep it cut) while the daemon and its SIP dialogs stay up.
 */
export interface AdminRelay {
  port: number;
  /** Drops every relayed connection and refuses new ones. */
  cut(): Promise<void>;
  /** Takes connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startAdminRelay(adminPort: number): Promise<AdminRelay> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  let server: net.Server;
  const listen = (port: number) =>
    new Promise<number>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(adminPort, '127.0.0.1');
        track(client);
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
  const port = await listen(0);
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return {
    port,
    cut: close,
    restore: async () => {
      await listen(port);
    },
    close,
  };
}
