/**
 * The SIP stack alone as a UAS, for the calls-per-second bench: every INVITE is refused with
 * 404 (`reject`) or answered with a fixed SDP (`answer`; the caller's BYE ends it). No routing,
 * media or agent link: this measures the engine (parser, transactions, dialogs, transports).
 * Usage: node dist/... sip-uas.js PORT reject|answer
 */
import { NativeSipEngine } from '../src/sip/engine-native.js';

const port = Number(process.argv[2]);
const mode = process.argv[3] === 'answer' ? 'answer' : 'reject';
const SDP =
  'v=0\r\no=telgate 1 1 IN IP4 127.0.0.1\r\ns=telgate\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n' +
  'm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n';

const engine = new NativeSipEngine({ host: '127.0.0.1', port });
engine.onInvite((invite) => {
  if (mode === 'reject') invite.reject({ status: 404 });
  else invite.answer(SDP);
});
await engine.start();
process.stdout.write(`ready ${engine.listenAddress.port}\n`);
process.on('SIGTERM', () => {
  void engine.stop().then(() => process.exit(0));
});
