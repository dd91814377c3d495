/**
 * An INVITE telgate places through drachtio-server (drachtio-srf's createUAC): digest
 * authentication on 401/407 is drachtio-srf's, provisional responses reach the call layer,
 * cancel() sends CANCEL once the request has left.
 */
import type Srf from 'drachtio-srf';
import {
  DrachtioDialog,
  headerRecord,
  type DrachtioDialogHost,
  type SrfDialog,
} from './drachtio-dialog.js';
import type { OutgoingCall, OutgoingInviteRequest, OutgoingResult } from './engine.js';
import { formatNameAddr } from './uri.js';

interface DrachtioOutgoingHost extends DrachtioDialogHost {
  adopt(dialog: DrachtioDialog): void;
}

/** The URI with `;transport=` when the request names a transport the URI does not. */
function withTransport(uri: string, transport: OutgoingInviteRequest['transport']): string {
  if (!transport || transport === 'udp' || /;transport=/i.test(uri)) return uri;
  return `${uri};transport=${transport}`;
}

export class DrachtioOutgoingCall implements OutgoingCall {
  readonly result: Promise<OutgoingResult>;
  private provisionalHandler: ((status: number, sdp: string) => void) | undefined;
  private sent: Srf.SrfRequest | undefined;
  private cancelRequested = false;
  /** Settles the result when the admin connection is lost before drachtio-srf does. */
  private abandon!: (result: OutgoingResult) => void;

  constructor(
    srf: Srf,
    request: OutgoingInviteRequest,
    readonly callId: string,
    private readonly host: DrachtioOutgoingHost,
    settled: () => void,
  ) {
    const headers: Record<string, string> = {
      ...headerRecord(request.headers),
      'Call-ID': callId,
      From: formatNameAddr({
        uri: request.from,
        display: request.fromDisplayName,
        params: new Map(),
      }),
      To: `<${request.to ?? request.uri}>`,
      'Content-Type': 'application/sdp',
    };
    const uri = request.nextHop ? request.uri : withTransport(request.uri, request.transport);
    const proxy = request.nextHop && withTransport(request.nextHop, request.transport);
    const abandoned = new Promise<OutgoingResult>((resolve) => (this.abandon = resolve));
    const options = {
      localSdp: request.sdp,
      headers,
      ...(proxy && { proxy }),
      ...(request.credentials && { auth: request.credentials }),
    };
    const progress = {
      // drachtio-srf calls it (err, req), whatever its type declarations say.
      cbRequest: ((err: unknown, req?: Srf.SrfRequest) => {
        if (err || !req) return;
        this.sent = req;
        if (this.cancelRequested) this.sendCancel();
      }) as unknown as (req: Srf.SrfRequest) => void,
      cbProvisional: (res: Srf.SrfResponse) => {
        if (res.status > 100) this.provisionalHandler?.(res.status, res.body ?? '');
      },
    };
    // A callback, not the promise: the dialog gets its listeners in the turn it is created, before
    // a BYE the far side sent right after its 200 can be handled (see engine-drachtio.ts).
    const placed = new Promise<OutgoingResult>((resolve) => {
      const done = (err: unknown, created?: Srf.Dialog): void => {
        if (err || !created) {
          const e = (err ?? {}) as { status?: number; reason?: string; message?: string };
          return resolve({
            ok: false,
            status: e.status ?? (this.cancelRequested ? 487 : 503),
            reason: e.reason ?? e.message ?? 'drachtio-server refused the request',
          });
        }
        const uac = created as SrfDialog;
        const dialog = new DrachtioDialog(this.host, uac.id);
        this.host.adopt(dialog);
        dialog.attach(uac, true);
        resolve({ ok: true, status: 200, dialog, sdp: uac.remote.sdp ?? '' });
      };
      try {
        srf.createUAC(uri, options, progress, done);
      } catch (err) {
        done(err);
      }
    });
    this.result = Promise.race([placed, abandoned]).finally(settled);
    // An answer that comes after the call was abandoned is hung up at once.
    void placed.then((late) => {
      if (late.ok && this.isAbandoned) void late.dialog.bye();
    });
  }

  private isAbandoned = false;

  /** The admin connection went before the call settled: it fails with 503, nothing to cancel. */
  abandonOnLostConnection(): void {
    this.isAbandoned = true;
    this.abandon({ ok: false, status: 503, reason: 'drachtio-server connection lost' });
  }

  onProvisional(handler: (status: number, sdp: string) => void): void {
    this.provisionalHandler = handler;
  }

  cancel(): void {
    if (this.cancelRequested) return;
    this.cancelRequested = true;
    if (this.sent) this.sendCancel();
  }

  private sendCancel(): void {
    try {
      this.sent?.cancel(() => undefined);
    } catch {
      // the INVITE was answered or the connection is gone: the result says which
    }
  }
}
