/**
 * What telgate's own SIP stack does with malformed datagrams on its port: garbage dropped, a
 * truncated INVITE answered 400, and calls still served. The native engine's parser only: with
 * the drachtio engine the daemon's parser sees these.
 */
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { gatewayForFile, NUMBERS } from '../helpers/gateway.js';
import { runSipp, scenario, sippPorts, WITHOUT_TONE, workDir } from '../helpers/sipp.js';

const gw = gatewayForFile(31000);

describe('malformed datagrams on the SIP port', () => {
  it('garbage is dropped, a truncated INVITE gets 400, and calls are still served', async () => {
    const tg = gw.current;
    const dir = await workDir();
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    const responses: string[] = [];
    let notify: (() => void) | undefined;
    socket.on('message', (m) => {
      responses.push(m.toString('latin1'));
      notify?.();
    });
    const nextResponse = () =>
      new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no response')), 3000);
        notify = () => {
          clearTimeout(t);
          resolve(responses[responses.length - 1]);
        };
      });
    const port = socket.address().port;
    const send = (text: string | Buffer) => socket.send(text, tg.sipPort, '127.0.0.1');
    const head = (method: string, branch: string) =>
      `${method} sip:${NUMBERS.echo}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${branch}\r\n` +
      `From: <sip:t@127.0.0.1>;tag=a\r\nTo: <sip:${NUMBERS.echo}@127.0.0.1>\r\nCall-ID: ${branch}@t\r\nCSeq: 1 ${method}\r\nMax-Forwards: 70\r\n`;

    for (const garbage of [
      Buffer.from([0, 1, 2, 255, 254]),
      'hello world\r\n\r\n',
      'INVITE\r\n\r\n',
      'SIP/2.0 200\r\n\r\n',
    ])
      send(garbage);
    // A truncated INVITE: headers cut before the blank line, Content-Length promising a body.
    let reply = nextResponse();
    send(head('INVITE', 'trunc') + 'Content-Type: application/sdp\r\nContent-Length: 200\r\n');
    const first = await reply;
    expect(first).toMatch(/^SIP\/2\.0 400 /);
    expect(first).toMatch(/Call-ID: trunc@t/);
    // Body shorter than Content-Length.
    reply = nextResponse();
    send(
      head('INVITE', 'short') +
        'Content-Type: application/sdp\r\nContent-Length: 500\r\n\r\nv=0\r\n',
    );
    expect(await reply).toMatch(/^SIP\/2\.0 400 [\s\S]*Call-ID: short@t/);
    // The process still answers: OPTIONS gets 200.
    reply = nextResponse();
    send(head('OPTIONS', 'opt') + 'Content-Length: 0\r\n\r\n');
    expect(await reply).toMatch(/^SIP\/2\.0 200 OK[\s\S]*Allow: INVITE, ACK, CANCEL, BYE, OPTIONS/);
    expect(responses).toHaveLength(3);
    socket.close();

    const ports = sippPorts();
    const call = await scenario(dir, 'uac_rtp.xml', WITHOUT_TONE);
    const result = await runSipp({
      dir,
      scenarioFile: call,
      service: NUMBERS.echo,
      target: tg.sipPort,
      ports,
      extra: ['-d', '200'],
    });
    expect(result.code, result.stdout).toBe(0);
  });
});
