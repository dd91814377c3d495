/**
 * Requests drachtio-server hands to telgate, seen through the engine interface: a new INVITE
 * (ring, answer, reject, CANCEL) and a REGISTER. The daemon has sent 100 Trying and absorbs
 * retransmissions; a CANCEL it answers with 200 and the INVITE with 487 by itself.
 */
import type Srf from 'drachtio-srf';
import {
  DrachtioDialog,
  headerRecord,
  respond,
  type DrachtioDialogHost,
  type SrfDialog,
} from './drachtio-dialog.js';
import type { IncomingInvite, IncomingRegister, Rejection, SipDialog } from './engine.js';
import { splitHeaderList } from './headers.js';
import { parseCSeq, type SipPeer, type SipTransport } from './message.js';

const TRANSPORTS = new Set<SipTransport>(['udp', 'tcp', 'tls', 'ws', 'wss']);

/**
 * Who sent a request, and over what. The daemon reports WebSocket connections, secure or not,
 * as "tcp" (it asks sofia-sip only whether a transport is TLS); the contact the request came in
 * on (`receivedOn`, its host:port) tells them apart, looked up in the daemon's `contacts`.
 */
export function peerOf(msg: Srf.SipMessage, contacts: ReadonlyMap<string, SipTransport>): SipPeer {
  let transport = String(msg.protocol ?? 'udp').toLowerCase() as SipTransport;
  const receivedOn = (msg as { receivedOn?: string }).receivedOn;
  const local = receivedOn === undefined ? undefined : contacts.get(receivedOn);
  if (transport === 'tcp' && (local === 'ws' || local === 'wss')) transport = local;
  return {
    transport: TRANSPORTS.has(transport) ? transport : 'udp',
    address: msg.source_address,
    port: Number(msg.source_port),
  };
}

function headerOf(msg: Srf.SipMessage, name: string): string | undefined {
  return msg.has(name) ? msg.get(name) : undefined;
}

export interface InviteHost extends DrachtioDialogHost {
  ready(): boolean;
  createUAS(
    req: Srf.SrfRequest,
    res: Srf.SrfResponse,
    sdp: string,
    done: (err: unknown, dialog?: SrfDialog) => void,
  ): void;
  adopt(dialog: DrachtioDialog): void;
  settled(): void;
}

export class DrachtioIncomingInvite implements IncomingInvite {
  readonly callId: string;
  readonly requestUri: string;
  readonly from: string;
  readonly to: string;
  readonly source: SipPeer;
  readonly sdp: string;
  private settled = false;
  private cancelled = false;
  private cancelHandler: (() => void) | undefined;

  constructor(
    private readonly host: InviteHost,
    private readonly req: Srf.SrfRequest,
    private readonly res: Srf.SrfResponse,
    source: SipPeer,
  ) {
    this.callId = req.get('Call-ID');
    this.requestUri = req.uri;
    this.from = req.get('From');
    this.to = req.get('To');
    this.source = source;
    this.sdp = req.body ?? '';
    req.on('cancel', () => {
      if (this.settled) return;
      this.cancelled = true;
      this.settle();
      this.cancelHandler?.();
    });
  }

  header(name: string): string | undefined {
    return headerOf(this.req, name);
  }

  onCancel(handler: () => void): void {
    this.cancelHandler = handler;
  }

  ringing(earlyMediaSdp?: string): void {
    if (this.settled) return;
    if (!earlyMediaSdp) return respond(this.res, 180);
    respond(this.res, 183, { body: earlyMediaSdp, headers: { 'Content-Type': 'application/sdp' } });
  }

  answer(sdp: string): SipDialog {
    const dialog = new DrachtioDialog(this.host, this.callId);
    if (this.settled) {
      dialog.end(this.cancelled ? 'remote-bye' : 'engine-lost');
      return dialog;
    }
    this.settle();
    this.host.adopt(dialog);
    if (!this.host.ready()) {
      dialog.failed(); // the connection the INVITE came over is gone: no 200 can be sent
      return dialog;
    }
    this.host.createUAS(this.req, this.res, sdp, (err, uas) => {
      if (err || !uas) dialog.failed();
      else dialog.attach(uas, false);
    });
    return dialog;
  }

  reject(rejection: Rejection): void {
    if (this.settled) return;
    this.settle();
    respond(this.res, rejection.status, {
      reason: rejection.reason,
      headers: headerRecord(rejection.headers),
    });
  }

  private settle(): void {
    this.settled = true;
    this.host.settled();
  }
}

export class DrachtioIncomingRegister implements IncomingRegister {
  readonly callId: string;
  readonly requestUri: string;
  readonly to: string;
  readonly cseq: number;
  readonly source: SipPeer;
  private answered = false;

  constructor(
    private readonly req: Srf.SrfRequest,
    private readonly res: Srf.SrfResponse,
    private readonly onSettled: () => void,
    source: SipPeer,
  ) {
    this.callId = req.get('Call-ID');
    this.requestUri = req.uri;
    this.to = req.get('To');
    this.cseq = parseCSeq(req.get('CSeq'))?.seq ?? 0;
    this.source = source;
  }

  header(name: string): string | undefined {
    return headerOf(this.req, name);
  }

  headers(name: string): string[] {
    const value = headerOf(this.req, name);
    return value === undefined ? [] : splitHeaderList(value);
  }

  respond(status: number, headers: Array<[string, string]> = []): void {
    if (this.answered) return;
    this.answered = true;
    this.onSettled();
    respond(this.res, status, { headers: headerRecord(headers) });
  }

  ignore(): void {
    if (this.answered) return;
    this.answered = true;
    this.onSettled();
  }
}
